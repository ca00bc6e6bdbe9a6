"""The in-memory fakes keep the stores' contract (tests/store_contract.py, also run on moto by
tests/integration/test_fakes_parity.py), plus what only the fakes do: refuse what DynamoDB would
refuse, and let a test place another actor's step exactly (races)."""

from __future__ import annotations

import pytest

from shared.inbox.ports import FailureLog, InboxWriter
from shared.inbox.store import InboxRepository
from shared.orders.ports import OrderStore
from shared.orders.store import OrderRepository
from shared.payments.parked import ParkedPayments
from shared.payments.ports import ParkedPaymentStore, PaymentRecordStore
from shared.payments.store import PaymentRecords
from shared.platform.table import Table
from shared.platform.workflow import TaskTokens, TaskTokenStore
from shared.stock.domain import Allocation, StockLevel
from shared.stock.ports import StockStore
from shared.stock.store import StockRepository
from tests.builders import an_order
from tests.store_contract import AT, MUG, StoreContract, Stores, a_change, created
from tests.unit.fakes import (
    FakeOrders,
    FakeParkedPayments,
    FakePaymentRecords,
    FakeStock,
    FakeTaskTokens,
    FakeTransaction,
)


def fake_stores() -> Stores:
    orders, stock = FakeOrders(), FakeStock()

    def set_on_hand(sku: str, warehouse: str, on_hand: int) -> StockLevel:
        return stock.set_on_hand(sku, warehouse, on_hand, at=AT)

    return Stores(
        orders=orders,
        records=FakePaymentRecords(),
        tokens=FakeTaskTokens(),
        stock=stock,
        parked=FakeParkedPayments(),
        transaction=FakeTransaction,
        set_on_hand=set_on_hand,
        timeline=orders.event_types,
        reserved_for=stock.reserved_for,
    )


class TestTheFakesKeepTheStoreContract(StoreContract):
    @pytest.fixture
    def stores(self) -> Stores:
        return fake_stores()


def test_the_fakes_and_the_repositories_meet_the_same_ports() -> None:
    # Given / When each is used where the services take a port (mypy checks the assignments)
    table = Table("orderhub-test")  # never reached: no client is made until a call
    orders: list[OrderStore] = [FakeOrders(), OrderRepository(table)]
    stock: list[StockStore] = [FakeStock(), StockRepository(table)]
    parked: list[ParkedPaymentStore] = [FakeParkedPayments(), ParkedPayments(table)]
    records: list[PaymentRecordStore] = [FakePaymentRecords(), PaymentRecords(table)]
    tokens: list[TaskTokenStore] = [FakeTaskTokens(), TaskTokens(table)]
    writer: InboxWriter = InboxRepository(table)
    failures: FailureLog = InboxRepository(table)
    # Then both kinds are there
    assert writer is not None and failures is not None
    assert len(orders) == len(stock) == len(parked) == len(records) == len(tokens) == 2


def test_a_transaction_touching_one_item_twice_is_refused_as_dynamodb_does() -> None:
    # Given a transaction that already reserves mugs for an order
    stock = FakeStock()
    stock.set_on_hand(MUG, "WAW-1", 5, at=AT)
    txn = FakeTransaction()
    mugs = Allocation(sku=MUG, warehouse="WAW-1", quantity=1)
    stock.reserve(txn, "ord_1", mugs, at=AT)
    # When / Then the same stock item cannot be added again (ValidationException on DynamoDB)
    with pytest.raises(ValueError, match="twice"):
        stock.reserve(txn, "ord_1", mugs, at=AT)


def test_a_transaction_holds_at_most_a_hundred_actions() -> None:
    stock = FakeStock()
    txn = FakeTransaction()
    for n in range(50):
        stock.set_on_hand(f"SKU-{n}", "WAW-1", 1, at=AT)
        stock.reserve(
            txn, "ord_1", Allocation(sku=f"SKU-{n}", warehouse="WAW-1", quantity=1), at=AT
        )
    with pytest.raises(ValueError, match="100 actions"):
        stock.reserve(txn, "ord_2", Allocation(sku=MUG, warehouse="WAW-1", quantity=1), at=AT)


def test_a_condition_the_fake_cannot_evaluate_is_refused_not_ignored() -> None:
    # Given a change with a condition no service uses yet
    stores = fake_stores()
    state = created(stores)
    # When / Then the fake says it must be taught it
    with pytest.raises(NotImplementedError, match="teach it"):
        stores.orders.apply(state, a_change(condition="attention = :nobody"))


def test_a_fake_store_joins_only_a_fake_transaction() -> None:
    # Given a real repository's transaction
    real = Table("orderhub-test").transaction()
    # When / Then a fake cannot stage in-memory writes into it, nor take DynamoDB actions
    with pytest.raises(TypeError):
        FakeStock().reserve(real, "ord_1", Allocation(sku=MUG, warehouse="W", quantity=1), at=AT)
    with pytest.raises(TypeError):
        FakeTransaction().put({"PK": "x", "SK": "y"})


def test_a_race_runs_once_just_before_or_after_the_named_step() -> None:
    # Given actions placed around the next apply of a fake
    orders = FakeOrders()
    order_id = orders.create("ord_1", an_order(), received_at=AT, actor="test")

    def version() -> int:
        state = orders.get(order_id)
        assert state is not None
        return state.version

    seen: list[str] = []
    orders.before("apply", lambda: seen.append(f"before v{version()}"))
    orders.after("apply", lambda: seen.append(f"after v{version()}"))
    # When it is applied twice
    state = orders.apply(orders.get(order_id) or pytest.fail("stored"), a_change())
    orders.apply(state, a_change())
    # Then each ran once, around the first
    assert seen == ["before v1", "after v2"]
    with pytest.raises(AttributeError, match="race point"):
        orders.before("timeline", lambda: None)
