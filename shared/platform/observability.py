"""Powertools logging and metrics shared by every function.

Logger and Metrics are the one documented exception to "nothing at import time": Powertools
expects them at module level so decorators can wrap handlers, and building them costs no I/O.
Service name, log level and namespace come from POWERTOOLS_* variables the Lambda factory sets.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

from shared.platform.emf import NAMESPACE

logger = Logger()
metrics = Metrics(namespace=NAMESPACE)  # the webhooks' EMF lines use the same (emf.py)
