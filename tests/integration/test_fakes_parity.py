"""The store contract (tests/store_contract.py) against the real repositories on moto: the same
scenarios the in-memory fakes pass in tests/unit/test_fakes.py, so the two cannot drift apart
where the services look."""

from __future__ import annotations

import pytest

from shared.kernel.events import EventType
from shared.orders.store import OrderRepository
from shared.payments.parked import ParkedPayments
from shared.payments.store import PaymentRecords
from shared.platform.blobs import MemoryBlobs
from shared.platform.table import Table
from shared.platform.workflow import TaskTokens
from shared.stock.domain import StockLevel
from shared.stock.store import StockRepository, reservation_sk, sku_pk
from tests.store_contract import AT, StoreContract, Stores


def real_stores(table: Table) -> Stores:
    orders, stock = OrderRepository(table, blobs=MemoryBlobs()), StockRepository(table)

    def set_on_hand(sku: str, warehouse: str, on_hand: int) -> StockLevel:
        return stock.set_on_hand(sku, warehouse, on_hand, at=AT)

    def timeline(order_id: str) -> list[EventType]:
        items = [i for i in orders.partition(order_id) if i["SK"].startswith("EVENT#")]
        return [EventType(i["event_type"]) for i in sorted(items, key=lambda i: i["SK"])]

    def reserved_for(sku: str, order_id: str) -> int | None:
        item = table.get(sku_pk(sku), reservation_sk(order_id), consistent=True)
        return item["quantity"] if item else None

    return Stores(
        orders=orders,
        records=PaymentRecords(table),
        tokens=TaskTokens(table),
        stock=stock,
        parked=ParkedPayments(table),
        transaction=table.transaction,
        set_on_hand=set_on_hand,
        timeline=timeline,
        reserved_for=reserved_for,
    )


class TestTheRepositoriesKeepTheStoreContract(StoreContract):
    @pytest.fixture
    def stores(self, table: Table) -> Stores:
        return real_stores(table)
