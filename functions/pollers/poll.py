"""Scheduled: pull one provider that has no push (infra/constructs/ingress.py makes one function
and one EventBridge schedule per poll provider in the registry). PROVIDER names the entry."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from shared.inbox.poll import PollSettings, poll_provider
from shared.inbox.service import Receipt
from shared.platform.observability import logger, metrics

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


# What this function reads from its environment (tests/infra/test_settings_env.py holds the
# template to it).
SETTINGS = PollSettings


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = poll_provider(PollSettings.load())
    if not report.configured:
        logger.warning(
            "provider not configured: its secret lacks required fields",
            extra={"source": report.source},
        )
    for receipt, count in report.receipts.items():
        metrics.add_metric(name=f"Poll_{receipt}", unit=MetricUnit.Count, value=count)
    if report.receipts.get(Receipt.MALFORMED):
        logger.warning("kept items its adapter cannot map", extra={"source": report.source})
    if report.overtaken:
        logger.info("another run advanced the cursor; stopped", extra={"source": report.source})
    return asdict(report)
