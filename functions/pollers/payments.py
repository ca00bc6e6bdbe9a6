"""Scheduled: ask the payment providers about sessions and refunds still open (see
shared/payments/reconciliation.py); what they knew and we had not heard is the drift."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.orders.wiring import order_store
from shared.payments.reconciliation import PaymentReconciler
from shared.payments.refunds import RefundRecords
from shared.payments.sessions import SessionRecords
from shared.payments.store import PaymentRecords
from shared.payments.transfers import BankTransfers
from shared.payments.wiring import GatewaySettings, gateways_of, payment_service, refund_service
from shared.platform.observability import logger, metrics
from shared.platform.wiring import on_aws


class PaymentReconcileSettings(GatewaySettings):
    table_name: str
    documents_bucket: str
    state_machine_arn: str
    accept_test_payments: bool = False
    # A session or refund is asked about once it has been open this long without a word.
    reconcile_after_seconds: int = 15 * 60


SETTINGS = PaymentReconcileSettings


@lru_cache(maxsize=4)
def reconciler(settings: PaymentReconcileSettings) -> PaymentReconciler:
    platform = on_aws(settings.table_name, settings.documents_bucket, settings.state_machine_arn)
    gateways = gateways_of(settings)
    orders = order_store(platform)
    return PaymentReconciler(
        payments=payment_service(
            platform, accept_test_payments=settings.accept_test_payments, gateways=gateways
        ),
        refunds=refund_service(platform, gateways, settings.public_url),
        sessions=SessionRecords(platform.table),
        refund_records=RefundRecords(platform.table),
        gateways=gateways,
        transfers=BankTransfers(orders=orders, records=PaymentRecords(platform.table)),
        orders=orders,
        pending_after=timedelta(seconds=settings.reconcile_after_seconds),
    )


def scheduled_time(event: dict[str, Any]) -> datetime | None:
    """The time an EventBridge schedule fired for (its event's `time`), if it is one."""
    try:
        return datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    drift = reconciler(PaymentReconcileSettings.load()).run(scheduled_time(event))
    metrics.add_metric(
        name="PaymentDrift", unit=MetricUnit.Count, value=len(drift.payments_repaired)
    )
    metrics.add_metric(name="RefundDrift", unit=MetricUnit.Count, value=len(drift.refunds_repaired))
    metrics.add_metric(name="ReconcileLookupErrors", unit=MetricUnit.Count, value=drift.errors)
    return {
        "payments_repaired": drift.payments_repaired,
        "refunds_repaired": drift.refunds_repaired,
        "sessions_abandoned": drift.sessions_abandoned,
        "reminders_due": drift.reminders_due,
        "errors": drift.errors,
    }
