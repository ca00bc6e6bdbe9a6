"""The orders context's composition root: its store and use cases, built on a platform."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.channels.listings import ListingRepository, SkuResolver
from shared.orders.intake import OrderIntake
from shared.orders.reconciliation import Reconciler
from shared.orders.store import OrderRepository
from shared.payments.service import PaymentService
from shared.platform.wiring import Platform
from shared.platform.workflow import TaskTokens
from shared.stock.wiring import stock_store

if TYPE_CHECKING:
    from shared.payments.refunds import RefundService


def order_store(platform: Platform) -> OrderRepository:
    return OrderRepository(platform.table, blobs=platform.blobs)


def sku_resolver(platform: Platform) -> SkuResolver:
    return SkuResolver(ListingRepository(platform.table), stock_store(platform))


def order_intake(
    platform: Platform,
    payments: PaymentService,
    *,
    payment_window_seconds: int,
    refunds: RefundService | None = None,
) -> OrderIntake:
    from shared.fulfilment.channel_changes import ChannelChanges

    orders = order_store(platform)
    resolver = sku_resolver(platform)
    return OrderIntake(
        orders=orders,
        workflow=platform.workflow,
        payments=payments,
        payment_window_seconds=payment_window_seconds,
        resolver=resolver,
        changes=ChannelChanges(
            orders=orders,
            stock=stock_store(platform),
            tokens=TaskTokens(platform.table),
            workflow=platform.workflow,
            resolver=resolver,
            payments=payments.records,
            refunds=refunds,
        ),
    )


def reconciler(platform: Platform, *, payment_window_seconds: int) -> Reconciler:
    return Reconciler(
        orders=order_store(platform),
        workflow=platform.workflow,
        payment_window_seconds=payment_window_seconds,
    )
