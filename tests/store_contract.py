"""What every implementation of the stores' ports (shared/<context>/ports.py) must do, written once.

A test class inherits StoreContract and provides a `stores` fixture: tests/unit/test_fakes.py
runs these against the in-memory fakes, tests/integration/test_fakes_parity.py against the real
repositories on moto. A fake that passes here behaves like DynamoDB where the services look.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.kernel.errors import ConcurrentModification
from shared.kernel.events import DomainEvent, EventType
from shared.orders.domain import OrderStatus
from shared.orders.events import OrderReadyToShip
from shared.orders.ports import OrderStore
from shared.orders.store import Change, OrderState
from shared.payments.domain import STATUS_RANK, PaymentDecision, PaymentStatus
from shared.payments.events import OrderPaid
from shared.payments.ports import ParkedPaymentStore, PaymentRecordStore
from shared.platform.table import ConditionFailed, Transaction, TransactionConflict
from shared.platform.workflow import TaskTokenStore
from shared.stock.domain import Allocation, StockLevel
from shared.stock.events import StockReserved
from shared.stock.ports import StockStore
from tests.builders import a_payment, an_order, pln

AT = datetime(2026, 3, 2, 10, tzinfo=UTC)
MUG, TEE = "MUG-KRAKOW-350", "TEE-WAWEL-M"


@dataclass
class Stores:
    """The ports under test, plus what a scenario needs beyond them (to set up and to look)."""

    orders: OrderStore
    records: PaymentRecordStore
    tokens: TaskTokenStore
    stock: StockStore
    parked: ParkedPaymentStore
    transaction: Callable[[], Transaction]
    set_on_hand: Callable[[str, str, int], StockLevel]
    timeline: Callable[[str], list[EventType]]
    reserved_for: Callable[[str, str], int | None]


def new_id() -> str:
    return f"ord_{uuid.uuid4().hex[:12]}"


def created(stores: Stores) -> OrderState:
    order_id = new_id()
    assert stores.orders.create(order_id, an_order(), received_at=AT, actor="test") == order_id
    return fresh(stores, order_id)


def a_change(
    event: DomainEvent | None = None,
    *,
    then: tuple[DomainEvent, ...] = (),
    to_status: OrderStatus | None = None,
    set_fields: dict[str, Any] | None = None,
    condition: str | None = None,
) -> Change:
    return Change(
        event=event or StockReserved(reservations=[]),
        actor="test",
        at=AT,
        then=then,
        to_status=to_status,
        set_fields=set_fields or {},
        condition=condition,
    )


def fresh(stores: Stores, order_id: str) -> OrderState:
    state = stores.orders.get(order_id)
    assert state is not None
    return state


def reserving(
    stores: Stores, order_id: str, *allocations: Allocation
) -> Callable[[Transaction], None]:
    def reserve(txn: Transaction) -> None:
        for allocation in allocations:
            stores.stock.reserve(txn, order_id, allocation, at=AT)

    return reserve


def units(sku: str, quantity: int) -> Allocation:
    return Allocation(sku=sku, warehouse="WAW-1", quantity=quantity)


class StoreContract:
    """The scenarios; `stores` comes from the subclass."""

    # -- creating orders ----------------------------------------------------------------------
    def test_an_order_is_stored_once_under_its_channel_key(self, stores: Stores) -> None:
        # Given an order stored under its channel key
        order = an_order((MUG, 2, 4900))
        first, second = new_id(), new_id()
        assert stores.orders.create(first, order, received_at=AT, actor="test") == first
        # When it is delivered again and given another id
        again = stores.orders.create(second, order, received_at=AT, actor="test")
        # Then the order stored first answers, and no second order exists
        assert again == first
        assert stores.orders.get(second) is None
        assert stores.orders.find_by_channel("shopify", order.external_id) == first
        state = stores.orders.get(first)
        assert state is not None
        assert (state.status, state.version, state.total) == (OrderStatus.RECEIVED, 1, pln(9800))
        assert (state.money_received, state.attention, state.reservations) == (False, None, ())
        assert stores.orders.details(first) == order
        assert stores.timeline(first) == [EventType.ORDER_RECEIVED]

    def test_an_order_id_already_taken_is_a_conflict_on_the_order_item(
        self, stores: Stores
    ) -> None:
        # Given an order stored under an id
        order_id = new_id()
        stores.orders.create(order_id, an_order(), received_at=AT, actor="test")
        # When another channel order is created under the same id
        with pytest.raises(TransactionConflict) as conflict:
            stores.orders.create(order_id, an_order(), received_at=AT, actor="test")
        # Then the transaction names the order item (index 1, after the channel key)
        assert conflict.value.failed == [1]

    # -- changing orders ----------------------------------------------------------------------
    def test_a_change_moves_the_version_once_per_event_and_returns_what_it_wrote(
        self, stores: Stores
    ) -> None:
        # Given a received order
        state = created(stores)
        # When one change stands for two events and sets fields
        held = [units(MUG, 1).model_dump()]
        after = stores.orders.apply(
            state,
            a_change(
                then=(OrderReadyToShip(),),
                to_status=OrderStatus.READY_TO_SHIP,
                set_fields={"status_reason": "cod", "reservations": held},
            ),
        )
        # Then the version moved by two and a fresh read agrees with what apply returned
        stored = fresh(stores, state.order_id)
        assert after.version == stored.version == 3
        assert after.status is stored.status is OrderStatus.READY_TO_SHIP
        assert after.status_reason == stored.status_reason == "cod"
        assert after.reservations == stored.reservations == (units(MUG, 1),)
        assert stores.timeline(state.order_id) == [
            EventType.ORDER_RECEIVED,
            EventType.STOCK_RESERVED,
            EventType.ORDER_READY_TO_SHIP,
        ]

    def test_a_field_set_to_none_is_removed(self, stores: Stores) -> None:
        # Given an order with a status reason
        state = created(stores)
        state = stores.orders.apply(state, a_change(set_fields={"status_reason": "why"}))
        # When a change sets it to None
        stores.orders.apply(state, a_change(set_fields={"status_reason": None}))
        # Then it is gone
        stored = stores.orders.get(state.order_id)
        assert stored is not None and stored.status_reason is None

    def test_a_change_from_a_stale_read_is_refused_and_writes_nothing(self, stores: Stores) -> None:
        # Given two reads of an order, and a change made from the first
        stale = created(stores)
        stores.orders.apply(stale, a_change(set_fields={"attention": "first"}))
        # When the second writer changes it from the same, now stale, read
        with pytest.raises(ConcurrentModification):
            stores.orders.apply(stale, a_change(set_fields={"attention": "second"}))
        # Then only the first change is there
        stored = stores.orders.get(stale.order_id)
        assert stored is not None and (stored.version, stored.attention) == (2, "first")
        assert len(stores.timeline(stale.order_id)) == 2

    def test_a_change_to_a_missing_order_is_refused(self, stores: Stores) -> None:
        # Given the state of an order that is not stored here
        ghost = replace(created(stores), order_id=new_id())
        # When / Then a change to it is refused like a concurrent one
        with pytest.raises(ConcurrentModification):
            stores.orders.apply(ghost, a_change())
        assert stores.orders.get(ghost.order_id) is None

    def test_money_received_is_a_flag_that_stops_a_conditioned_change(self, stores: Stores) -> None:
        # Given an order read before money was reported for it
        state = created(stores)
        guarded = "attribute_not_exists(money_received)"
        state = stores.orders.apply(state, a_change(condition=guarded))
        # When the money is flagged (which leaves the version alone)
        stores.orders.mark_money_received(state.order_id, at=AT)
        flagged = fresh(stores, state.order_id)
        assert flagged.money_received and flagged.version == state.version == 2
        # Then a change conditioned on no money is refused, even from the current version
        with pytest.raises(ConcurrentModification):
            stores.orders.apply(state, a_change(condition=guarded))
        assert stores.orders.apply(state, a_change()).version == 3  # unconditioned: fine

    def test_money_cannot_be_flagged_on_a_missing_order(self, stores: Stores) -> None:
        with pytest.raises(ConditionFailed):
            stores.orders.mark_money_received(new_id(), at=AT)

    # -- transactions -------------------------------------------------------------------------
    def test_a_change_commits_with_its_stock_reservations_or_not_at_all(
        self, stores: Stores
    ) -> None:
        # Given 5 tees and 1 mug, and an order
        stores.set_on_hand(TEE, "WAW-1", 5)
        stores.set_on_hand(MUG, "WAW-1", 1)
        state = created(stores)
        # When a change reserves 1 tee and 2 mugs
        too_many = [reserving(stores, state.order_id, units(TEE, 1), units(MUG, 2))]
        with pytest.raises(TransactionConflict) as conflict:
            stores.orders.apply(state, a_change(), joined=too_many)
        # Then the mugs' stock update fails (order 0, timeline 1, tee 2-3, mugs 4-5) and nothing
        # of the change is written: not the order, not its timeline, not the tee
        assert conflict.value.failed == [4]
        stored = stores.orders.get(state.order_id)
        assert stored is not None and stored.version == 1
        assert stores.timeline(state.order_id) == [EventType.ORDER_RECEIVED]
        assert [(lvl.reserved, lvl.available) for lvl in stores.stock.levels(TEE)] == [(0, 5)]
        assert stores.reserved_for(TEE, state.order_id) is None
        # And one that fits commits everything together
        fits = [reserving(stores, state.order_id, units(TEE, 1), units(MUG, 1))]
        assert stores.orders.apply(state, a_change(), joined=fits).version == 2
        assert [(lvl.reserved, lvl.available) for lvl in stores.stock.levels(MUG)] == [(1, 0)]
        assert stores.reserved_for(TEE, state.order_id) == 1

    def test_a_reservation_is_released_once(self, stores: Stores) -> None:
        # Given 3 mugs reserved for an order
        stores.set_on_hand(MUG, "WAW-1", 5)
        order_id = new_id()
        txn = stores.transaction()
        assert stores.stock.reserve(txn, order_id, units(MUG, 3), at=AT) == (0, 1)
        txn.commit()
        # When it is released
        txn = stores.transaction()
        stores.stock.release(txn, order_id, units(MUG, 3), at=AT)
        txn.commit()
        # Then the units are back, and a second release finds no reservation to delete
        ((level),) = stores.stock.levels(MUG)
        assert (level.on_hand, level.reserved, level.available) == (5, 0, 5)
        assert stores.reserved_for(MUG, order_id) is None
        txn = stores.transaction()
        stores.stock.release(txn, order_id, units(MUG, 3), at=AT)
        with pytest.raises(TransactionConflict) as conflict:
            txn.commit()
        assert conflict.value.failed == [0]

    def test_an_order_reserves_a_sku_once(self, stores: Stores) -> None:
        # Given a mug reserved for an order
        stores.set_on_hand(MUG, "WAW-1", 5)
        order_id = new_id()
        txn = stores.transaction()
        stores.stock.reserve(txn, order_id, units(MUG, 1), at=AT)
        txn.commit()
        # When the same order reserves the SKU again
        txn = stores.transaction()
        stores.stock.reserve(txn, order_id, units(MUG, 1), at=AT)
        # Then its reservation item refuses it, and the stock is untouched
        with pytest.raises(TransactionConflict) as conflict:
            txn.commit()
        assert conflict.value.failed == [1]
        assert [lvl.reserved for lvl in stores.stock.levels(MUG)] == [1]

    def test_stock_levels_are_listed_by_warehouse(self, stores: Stores) -> None:
        stores.set_on_hand(MUG, "WAW-1", 2)
        stores.set_on_hand(MUG, "KRK-1", 7)
        assert [(lvl.warehouse, lvl.available) for lvl in stores.stock.levels(MUG)] == [
            ("KRK-1", 7),
            ("WAW-1", 2),
        ]
        assert stores.stock.levels("NOT-STOCKED") == []

    # -- payments -----------------------------------------------------------------------------
    def test_a_payment_keeps_its_highest_ranked_status_whatever_the_order_of_reports(
        self, stores: Stores
    ) -> None:
        live = [s for s in PaymentStatus if s is not PaymentStatus.REFUNDED]  # REFUNDED: legacy
        for statuses in itertools.permutations(live):
            # Given the reports of one payment, in some order and each twice
            order_id = new_id()
            payment_id = f"pi_{uuid.uuid4().hex[:12]}"
            highest = 0
            for status in (s for s in statuses for _ in range(2)):
                # When each is recorded
                report = a_payment(order_id, 4900, status=status, payment_id=payment_id)
                changed = stores.records.record(order_id, report, at=AT)
                # Then only a higher rank changes the record, which never goes down
                assert changed is (STATUS_RANK[status] > highest)
                highest = max(highest, STATUS_RANK[status])
                (record,) = [
                    p for p in stores.records.of_order(order_id) if p.payment_id == payment_id
                ]
                assert STATUS_RANK[record.status] == highest
                assert (record.applied, record.decision) == (False, None)

    def test_a_payment_decision_is_written_once_with_its_order_change(self, stores: Stores) -> None:
        # Given a succeeded payment recorded for an order
        state = created(stores)
        report = a_payment(state.order_id, 4900, payment_id="pi_once")
        stores.records.record(state.order_id, report, at=AT)
        (payment,) = stores.records.of_order(state.order_id)

        def decide(at: OrderState, decision: PaymentDecision, applied: bool) -> OrderState:
            return stores.orders.apply(
                at,
                a_change(OrderPaid(provider="stripe", payment_id="pi_once", amount=pln(4900))),
                joined=[
                    lambda txn: stores.records.mark_decided(
                        txn, state.order_id, payment, decision=decision, applied=applied
                    )
                ],
            )

        # When a change decides it
        state = decide(state, PaymentDecision.PAYS_ORDER, applied=True)
        # Then the decision is on the payment
        (decided,) = stores.records.of_order(state.order_id)
        assert (decided.decision, decided.applied) == ("pays_order", True)
        # And a second decision is refused on the payment (index 2), leaving the order alone
        with pytest.raises(TransactionConflict) as conflict:
            decide(state, PaymentDecision.AMOUNT_MISMATCH, applied=False)
        assert conflict.value.failed == [2]
        stored = stores.orders.get(state.order_id)
        assert stored is not None and stored.version == state.version
        # And from a stale read both fail: the version check makes it a concurrent change
        stale = replace(state, version=state.version - 1)
        with pytest.raises(ConcurrentModification):
            decide(stale, PaymentDecision.AMOUNT_MISMATCH, applied=False)

    def test_a_later_report_keeps_the_decision_and_what_it_does_not_say(
        self, stores: Stores
    ) -> None:
        # Given a decided card payment
        state = created(stores)
        stores.records.record(
            state.order_id, a_payment(state.order_id, 4900, payment_id="pi_r"), at=AT
        )
        (payment,) = stores.records.of_order(state.order_id)
        stores.orders.apply(
            state,
            a_change(),
            joined=[
                lambda txn: stores.records.mark_decided(
                    txn, state.order_id, payment, decision=PaymentDecision.PAYS_ORDER, applied=True
                )
            ],
        )
        # When a refund is reported without a method
        refund = a_payment(
            state.order_id, 4900, payment_id="pi_r", status=PaymentStatus.REFUNDED
        ).model_copy(update={"method": None})
        assert stores.records.record(state.order_id, refund, at=AT)
        # Then the status moved and the rest stayed
        (record,) = stores.records.of_order(state.order_id)
        assert (record.status, record.method) == (PaymentStatus.REFUNDED, "blik")
        assert (record.decision, record.applied) == ("pays_order", True)
        assert record.last_event_id == refund.provider_event_id

    def test_payments_are_listed_by_provider_then_id(self, stores: Stores) -> None:
        order_id = new_id()
        for report in (
            a_payment(order_id, 1, payment_id="pi_b"),
            a_payment(None, 2, payment_id="sp_a", shopify_order="1"),
            a_payment(order_id, 3, payment_id="pi_a"),
        ):
            stores.records.record(order_id, report, at=AT)
        listed = [(p.provider, p.payment_id) for p in stores.records.of_order(order_id)]
        assert listed == [("shopify", "sp_a"), ("stripe", "pi_a"), ("stripe", "pi_b")]
        assert stores.records.of_order(new_id()) == []

    # -- waits --------------------------------------------------------------------------------
    def test_a_wait_is_forgotten_only_with_the_token_it_holds(self, stores: Stores) -> None:
        # Given a wait parked twice (a retried step parks a newer token)
        order_id, ttl = new_id(), timedelta(hours=1)
        assert stores.tokens.get(order_id, "payment") is None
        stores.tokens.put(order_id, "payment", "token-1", at=AT, ttl=ttl)
        stores.tokens.put(order_id, "payment", "token-2", at=AT, ttl=ttl)
        assert stores.tokens.get(order_id, "payment") == "token-2"
        # When the older token is used to forget it, it stays; with the newer, it goes
        stores.tokens.delete(order_id, "payment", "token-1")
        assert stores.tokens.get(order_id, "payment") == "token-2"
        stores.tokens.delete(order_id, "payment", "token-2")
        assert stores.tokens.get(order_id, "payment") is None
        # And forgetting a wait that is not there is fine
        stores.tokens.delete(order_id, "payment", "token-2")

    # -- parked payments ----------------------------------------------------------------------
    def test_a_parked_payment_is_kept_once_per_provider_event(self, stores: Stores) -> None:
        # Given a channel payment parked twice, and a second event of the same payment
        first = a_payment(None, 4900, payment_id="sp_1", shopify_order="404")
        second = first.model_copy(update={"provider_event_id": "evt_second"})
        stores.parked.park(first, actor="shopify webhook", at=AT)
        stores.parked.park(first, actor="shopify webhook", at=AT)
        stores.parked.park(second, actor="shopify webhook", at=AT)
        # Then two entries wait under the channel reference, in sort-key order
        waiting = stores.parked.waiting_for("CHANNEL#shopify#404")
        assert sorted(p.payment.provider_event_id for p in waiting) == sorted(
            [first.provider_event_id, "evt_second"]
        )
        assert [p.sort_key for p in waiting] == sorted(p.sort_key for p in waiting)
        assert {p.actor for p in waiting} == {"shopify webhook"}
        assert {p.payment for p in waiting} == {first, second}
        assert stores.parked.waiting_for("CHANNEL#shopify#405") == []
        # When one is removed as listed and the other forgotten by its payment
        stores.parked.remove(next(p for p in waiting if p.payment == first))
        stores.parked.forget(second)
        # Then nothing waits, and forgetting again is fine
        assert stores.parked.waiting_for("CHANNEL#shopify#404") == []
        stores.parked.forget(second)

    def test_a_payment_naming_an_orderhub_id_parks_under_that_id(self, stores: Stores) -> None:
        order_id = new_id()
        stores.parked.park(a_payment(order_id, 100), actor="stripe", at=AT)
        assert len(stores.parked.waiting_for(f"ORDER#{order_id}")) == 1
