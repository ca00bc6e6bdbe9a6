"""The fulfilment context's composition root: the workflow's steps."""

from __future__ import annotations

from shared.fulfilment.service import FulfilmentService
from shared.orders.wiring import order_store
from shared.payments.service import PaymentService
from shared.platform.wiring import Platform
from shared.platform.workflow import TaskTokens
from shared.stock.wiring import stock_store


def fulfilment_service(platform: Platform, payments: PaymentService) -> FulfilmentService:
    return FulfilmentService(
        orders=order_store(platform),
        stock=stock_store(platform),
        tokens=TaskTokens(platform.table),
        payments=payments,
    )
