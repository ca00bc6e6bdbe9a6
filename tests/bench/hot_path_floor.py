"""The cold-import floor of a webhook's hot path: what it cannot run without.

A webhook handler needs the Powertools HTTP resolver, Logger and Metrics, and pydantic for its
canonical models. boto3 is left out on both sides: the handlers import it lazily, on the first
event that writes, exactly as this floor would.
"""

from __future__ import annotations

import pydantic  # noqa: F401 - imported for its import cost
from aws_lambda_powertools import Logger, Metrics  # noqa: F401
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver  # noqa: F401
