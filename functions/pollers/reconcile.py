"""Scheduled: start the workflow of any order stuck in `received` (see Reconciler)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.orders.wiring import reconciler
from shared.platform.observability import logger, metrics
from shared.platform.settings import Settings
from shared.platform.table import Table
from shared.platform.wiring import Platform
from shared.platform.workflow import StepFunctionsWorkflow


class ReconcileSettings(Settings):
    table_name: str
    state_machine_arn: str
    payment_window_seconds: int = 24 * 3600


# What this function reads from its environment (tests/infra/test_settings_env.py holds the
# template to it).
SETTINGS = ReconcileSettings


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = ReconcileSettings.load()
    # Only the hot order items are read (no details), so no documents bucket is needed.
    platform = Platform(
        table=Table(settings.table_name),
        workflows=StepFunctionsWorkflow(settings.state_machine_arn),
    )
    restarter = reconciler(platform, payment_window_seconds=settings.payment_window_seconds)
    restarted = restarter.restart_stuck_orders()
    metrics.add_metric(name="OrdersRestarted", unit=MetricUnit.Count, value=len(restarted))
    if restarted:
        logger.warning("restarted stuck orders", extra={"order_ids": restarted})
    return {"restarted": restarted}
