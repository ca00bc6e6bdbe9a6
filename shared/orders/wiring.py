"""The orders context's composition root: its store and use cases, built on a platform."""

from __future__ import annotations

from shared.orders.intake import OrderIntake
from shared.orders.reconciliation import Reconciler
from shared.orders.store import OrderRepository
from shared.payments.service import PaymentService
from shared.platform.wiring import Platform


def order_store(platform: Platform) -> OrderRepository:
    return OrderRepository(platform.table, blobs=platform.blobs)


def order_intake(
    platform: Platform, payments: PaymentService, *, payment_window_seconds: int
) -> OrderIntake:
    return OrderIntake(
        orders=order_store(platform),
        workflow=platform.workflow,
        payments=payments,
        payment_window_seconds=payment_window_seconds,
    )


def reconciler(platform: Platform, *, payment_window_seconds: int) -> Reconciler:
    return Reconciler(
        orders=order_store(platform),
        workflow=platform.workflow,
        payment_window_seconds=payment_window_seconds,
    )
