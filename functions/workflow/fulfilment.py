"""Step Functions task handler for the fulfilment workflow.

One function serves every step (one warm container, one cold start per order) and dispatches
on `task`. Failures raise domain exceptions whose class names the state machine's Retry/Catch
match on.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.fulfilment.service import Compensation, FulfilmentService
from shared.fulfilment.wiring import fulfilment_service
from shared.payments.wiring import payment_service
from shared.platform.observability import logger, metrics
from shared.platform.settings import Settings
from shared.platform.wiring import on_aws


class FulfilmentSettings(Settings):
    table_name: str
    state_machine_arn: str
    documents_bucket: str
    accept_test_payments: bool = False


class UnknownTask(ValueError):
    pass


@lru_cache(maxsize=4)
def service(settings: FulfilmentSettings) -> FulfilmentService:
    platform = on_aws(settings.table_name, settings.documents_bucket, settings.state_machine_arn)
    payments = payment_service(platform, accept_test_payments=settings.accept_test_payments)
    return fulfilment_service(platform, payments)


def run_task(task: str, event: dict[str, Any], steps: FulfilmentService) -> dict[str, Any]:
    order_id = event["order_id"]
    if task == "reserve_stock":
        return {"status": steps.reserve_stock(order_id)}
    if task == "await_payment":
        steps.await_payment(order_id, event["task_token"], int(event["window_seconds"]))
        return {"waiting": True}
    if task == "mark_ready_to_ship":
        return {"status": steps.mark_ready_to_ship(order_id)}
    if task == "await_release":
        steps.await_release(order_id, event["task_token"])
        return {"waiting": True}
    if task == "compensate":
        outcome = steps.compensate(order_id, event["reason"])
        if outcome is Compensation.WAITING:
            # On bank transfer and not due yet: the workflow waits on until the due date.
            return {"outcome": outcome.value, "wait_seconds": steps.transfer_wait_seconds(order_id)}
        return {"outcome": outcome.value}
    raise UnknownTask(f"unknown fulfilment task {task!r}")


# What this function reads from its environment (tests/infra/test_settings_env.py holds the
# template to it).
SETTINGS = FulfilmentSettings


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = event.get("task", "")
    logger.append_keys(order_id=event.get("order_id"), task=task)
    result = run_task(task, event, service(FulfilmentSettings.load()))
    metrics.add_metric(name=f"Task_{task}", unit=MetricUnit.Count, value=1)
    return result
