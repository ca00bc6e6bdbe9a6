"""The cold-import baseline: the smallest handler a Powertools user writes (a Logger, one handler).

Imported by section 1 as a top-level module (tests/bench on sys.path) so no package __init__ of
this project is imported with it.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

logger = Logger()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    logger.info("hello")
    return {"statusCode": 200, "body": "hello"}
