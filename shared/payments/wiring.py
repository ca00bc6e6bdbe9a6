"""The payments context's composition root: its stores and the payment service."""

from __future__ import annotations

from shared.orders.wiring import order_store
from shared.payments.parked import ParkedPayments
from shared.payments.service import PaymentService
from shared.payments.store import PaymentRecords
from shared.platform.wiring import Platform
from shared.platform.workflow import TaskTokens


def payment_service(platform: Platform, *, accept_test_payments: bool) -> PaymentService:
    return PaymentService(
        # The orders context's store is its public face to payments: read an order, apply a
        # change, flag money received. Payment records are this context's own items.
        orders=order_store(platform),
        records=PaymentRecords(platform.table),
        parked=ParkedPayments(platform.table),
        tokens=TaskTokens(platform.table),
        workflow=platform.workflow,
        accept_test_payments=accept_test_payments,
    )
