"""FulfilmentService, the workflow's steps: reserve stock, await payment, compensate, against the
in-memory stores."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from shared.fulfilment.service import MAX_SKUS_PER_RESERVATION, Compensation
from shared.kernel.errors import (
    ConcurrentModification,
    InvalidTransition,
    MoneyReceived,
    OrderNotFound,
)
from shared.kernel.events import EventType
from shared.orders.domain import OrderStatus, PaymentMethod
from shared.orders.events import OrderNeedsAttention
from shared.payments.domain import PaymentEvent
from shared.stock.domain import Allocation, Shortage
from shared.stock.events import OrderBackordered
from tests.builders import a_payment
from tests.unit.fakes import MUG, POSTER, FakeTransaction, FakeWorld, a_world


@pytest.fixture
def world() -> FakeWorld:
    return a_world()


def another_order_takes(world: FakeWorld, sku: str, units: int, warehouse: str = "WAW-1") -> None:
    """Another order's reservation commits (as the workflow of another order would)."""
    txn = FakeTransaction()
    taken = Allocation(sku=sku, warehouse=warehouse, quantity=units)
    world.stock.reserve(txn, "ord_other", taken, at=world.clock())
    txn.commit()


def full_payment(order_id: str) -> PaymentEvent:
    return a_payment(order_id, 4900)


# -- reserving ----------------------------------------------------------------------------------
def test_every_line_is_reserved_in_one_change_and_the_order_waits_for_payment(
    world: FakeWorld,
) -> None:
    # Given mugs and posters in stock, and an order for both
    world.stock_up(MUG, 5)
    world.stock_up(POSTER, 2, warehouse="KRK-1")
    order_id = world.received((MUG, 2, 4900), (POSTER, 1, 5900), (MUG, 1, 4900))
    # When its stock is reserved
    outcome = world.fulfilment.reserve_stock(order_id)
    # Then all units are held in one change and the order waits for payment
    assert outcome == "awaiting_payment"
    assert world.stock.level(MUG) == (5, 3, 2)
    assert world.stock.level(POSTER, "KRK-1") == (2, 1, 1)
    assert world.stock.reserved_for(MUG, order_id) == 3
    state = world.state(order_id)
    assert (state.status, state.version) == (OrderStatus.AWAITING_PAYMENT, 2)
    assert {(r.sku, r.warehouse, r.quantity) for r in state.reservations} == {
        (MUG, "WAW-1", 3),
        (POSTER, "KRK-1", 1),
    }
    assert world.events(order_id) == [EventType.ORDER_RECEIVED, EventType.STOCK_RESERVED]


def test_a_retried_reservation_reserves_nothing_more(world: FakeWorld) -> None:
    order_id = world.awaiting_payment(units=2)
    assert world.fulfilment.reserve_stock(order_id) == "awaiting_payment"
    assert world.stock.level(MUG) == (10, 2, 8)


def test_a_shortfall_on_one_line_backorders_the_whole_order_naming_it(world: FakeWorld) -> None:
    # Given enough mugs but one poster for an order of three
    world.stock_up(MUG, 5)
    world.stock_up(POSTER, 1, warehouse="KRK-1")
    order_id = world.received((MUG, 2, 4900), (POSTER, 3, 5900))
    # When its stock is reserved
    outcome = world.fulfilment.reserve_stock(order_id)
    # Then the order is backordered naming the shortfall, and nothing is held, not the mugs
    assert outcome == "backordered"
    state = world.state(order_id)
    assert state.status is OrderStatus.BACKORDERED
    assert state.status_reason == "insufficient stock: POSTER-A2-TATRY: 3 requested, 1 available"
    assert (world.stock.level(MUG)[1], world.stock.level(POSTER, "KRK-1")[1]) == (0, 0)
    backordered = world.orders.timeline(order_id)[-1]
    assert backordered.type is EventType.ORDER_BACKORDERED
    assert isinstance(backordered.event, OrderBackordered)
    assert backordered.event.shortages == [Shortage(sku=POSTER, requested=3, available=1)]


def test_a_sku_never_stocked_backorders_the_order(world: FakeWorld) -> None:
    order_id = world.received(("NO-SUCH-SKU", 1, 100))
    assert world.fulfilment.reserve_stock(order_id) == "backordered"
    assert world.state(order_id).status_reason == (
        "insufficient stock: NO-SUCH-SKU: 1 requested, none available"
    )


def test_units_taken_between_counting_and_reserving_undo_the_whole_reservation(
    world: FakeWorld,
) -> None:
    # Given another order takes the last posters after this one counted them
    world.stock_up(MUG, 5)
    world.stock_up(POSTER, 1)
    order_id = world.received((MUG, 2, 4900), (POSTER, 1, 5900))
    world.orders.before("apply", lambda: another_order_takes(world, POSTER, 1))
    # When the reservation commits
    outcome = world.fulfilment.reserve_stock(order_id)
    # Then its transaction failed as a whole (the mugs too), and counting again backorders it
    assert outcome == "backordered"
    assert world.stock.level(MUG) == (5, 0, 5)
    assert world.stock.reserved_for(MUG, order_id) is None
    assert world.state(order_id).status_reason == (
        "insufficient stock: POSTER-A2-TATRY: 1 requested, none available"
    )


def test_a_lost_race_for_units_is_counted_again_and_served_from_another_warehouse(
    world: FakeWorld,
) -> None:
    # Given this order counted 3 mugs in Warsaw (2 in Kraków), then another order took 2 of them
    world.stock_up(MUG, 3, warehouse="WAW-1")
    world.stock_up(MUG, 2, warehouse="KRK-1")
    order_id = world.received((MUG, 2, 4900))
    world.orders.before("apply", lambda: another_order_takes(world, MUG, 2, warehouse="WAW-1"))
    # When its reservation commits
    outcome = world.fulfilment.reserve_stock(order_id)
    # Then Warsaw's `available >= 2` refused it, and the second count reserved in Kraków
    assert outcome == "awaiting_payment"
    assert world.stock.level(MUG, "WAW-1") == (3, 2, 1)
    assert world.stock.level(MUG, "KRK-1") == (2, 2, 0)
    assert [(r.warehouse, r.quantity) for r in world.state(order_id).reservations] == [("KRK-1", 2)]


def test_cash_on_delivery_is_ready_to_ship_once_reserved(world: FakeWorld) -> None:
    world.stock_up(MUG, 1)
    order_id = world.received((MUG, 1, 4900), payment_method=PaymentMethod.CASH_ON_DELIVERY)
    assert world.fulfilment.reserve_stock(order_id) == "ready_to_ship"
    assert world.events(order_id) == [
        EventType.ORDER_RECEIVED,
        EventType.STOCK_RESERVED,
        EventType.ORDER_READY_TO_SHIP,
    ]
    assert world.state(order_id).version == 3


def test_lines_without_a_sku_hold_no_stock(world: FakeWorld) -> None:
    world.stock_up(MUG, 1)
    order_id = world.received((MUG, 1, 4900), (None, 1, 500))
    assert world.fulfilment.reserve_stock(order_id) == "awaiting_payment"
    assert [r.sku for r in world.state(order_id).reservations] == [MUG]


def test_an_order_too_large_for_one_transaction_is_backordered_with_the_reason(
    world: FakeWorld,
) -> None:
    # Given an order of more SKUs than one transaction can reserve, all in stock
    lines = [(f"SKU-{n:02d}", 1, 100) for n in range(MAX_SKUS_PER_RESERVATION + 1)]
    for sku, _, _ in lines:
        world.stock_up(sku, 5)
    order_id = world.received(*lines)
    # When its stock is reserved / Then it is backordered, asking for a split
    assert world.fulfilment.reserve_stock(order_id) == "backordered"
    assert f"{MAX_SKUS_PER_RESERVATION + 1} stock-holding SKUs" in (
        world.state(order_id).status_reason or ""
    )


def test_the_largest_order_one_transaction_holds_is_reserved(world: FakeWorld) -> None:
    lines = [(f"SKU-{n:02d}", 1, 100) for n in range(MAX_SKUS_PER_RESERVATION)]
    for sku, _, _ in lines:
        world.stock_up(sku, 5)
    order_id = world.received(*lines)
    assert world.fulfilment.reserve_stock(order_id) == "awaiting_payment"


def test_steps_for_an_unknown_order_say_so(world: FakeWorld) -> None:
    with pytest.raises(OrderNotFound):
        world.fulfilment.reserve_stock("ord_nope")
    with pytest.raises(OrderNotFound):
        world.fulfilment.compensate("ord_nope", "step_failed")


# -- waiting and shipping -------------------------------------------------------------------------
def test_an_order_paid_before_the_wait_is_resumed_as_soon_as_the_wait_starts(
    world: FakeWorld,
) -> None:
    order_id = world.awaiting_payment()
    world.payments.report(full_payment(order_id), actor="stripe")
    world.fulfilment.await_payment(order_id, "token-1", 3600)
    assert world.workflow.resumed_tokens() == ["token-1"]


def test_ready_to_ship_only_once_paid(world: FakeWorld) -> None:
    # Given an order waiting for payment
    order_id = world.awaiting_payment()
    # Then it cannot be shipped yet
    with pytest.raises(InvalidTransition):
        world.fulfilment.mark_ready_to_ship(order_id)
    # When it is paid, it can, once
    world.payments.report(full_payment(order_id), actor="stripe")
    assert world.fulfilment.mark_ready_to_ship(order_id) == "ready_to_ship"
    assert world.fulfilment.mark_ready_to_ship(order_id) == "ready_to_ship"
    assert world.events(order_id).count(EventType.ORDER_READY_TO_SHIP) == 1


# -- compensating -------------------------------------------------------------------------------
def test_an_unpaid_order_is_cancelled_with_its_stock_released_in_one_change(
    world: FakeWorld,
) -> None:
    # Given an unpaid order holding 3 mugs
    order_id = world.awaiting_payment(units=3)
    version = world.state(order_id).version
    # When its payment window closes (and the step is retried)
    first = world.fulfilment.compensate(order_id, "payment_timeout")
    again = world.fulfilment.compensate(order_id, "payment_timeout")
    # Then it is cancelled once, its stock given back in the same change
    assert first == again == Compensation.CANCELLED
    state = world.state(order_id)
    assert (state.status, state.status_reason) == (OrderStatus.CANCELLED, "payment_timeout")
    assert (state.version, state.reservations) == (version + 2, ())
    assert world.stock.level(MUG) == (10, 0, 10)
    assert world.stock.reserved_for(MUG, order_id) is None
    assert world.events(order_id)[-2:] == [EventType.STOCK_RELEASED, EventType.ORDER_CANCELLED]


def test_an_unpaid_backordered_order_is_cancelled_holding_nothing(world: FakeWorld) -> None:
    order_id = world.received(("NOT-STOCKED", 1, 4900))
    world.fulfilment.reserve_stock(order_id)
    assert world.fulfilment.compensate(order_id, "step_failed") == Compensation.CANCELLED
    assert world.events(order_id)[-1] is EventType.ORDER_CANCELLED
    assert EventType.STOCK_RELEASED not in world.events(order_id)


def received_and_paid(world: FakeWorld) -> str:
    order_id = world.received((MUG, 1, 4900))
    world.payments.report(full_payment(order_id), actor="stripe")
    return order_id


def backordered_and_paid(world: FakeWorld) -> str:
    order_id = world.received(("NOT-STOCKED", 1, 4900))
    world.fulfilment.reserve_stock(order_id)
    world.payments.report(full_payment(order_id), actor="stripe")
    return order_id


def awaiting_with_too_little(world: FakeWorld) -> str:
    order_id = world.awaiting_payment()
    world.payments.report(a_payment(order_id, 100), actor="stripe")
    return order_id


@pytest.mark.parametrize(
    "given", [received_and_paid, backordered_and_paid, awaiting_with_too_little]
)
@pytest.mark.parametrize("reason", ["payment_timeout", "step_failed"])
def test_an_order_with_money_received_is_never_cancelled(
    world: FakeWorld, given: Callable[[FakeWorld], str], reason: str
) -> None:
    # Given an order not yet paid whose money has arrived (undecided, or the wrong amount)
    world.stock_up(MUG, 5)
    order_id = given(world)
    before = world.state(order_id)
    assert before.money_received and before.status is not OrderStatus.PAID
    asked_before = world.events(order_id).count(EventType.ORDER_NEEDS_ATTENTION)
    # When the workflow compensates (and the step is retried)
    first = world.fulfilment.compensate(order_id, reason)
    again = world.fulfilment.compensate(order_id, reason)
    # Then nothing is undone: a person is asked, once, to ship or refund
    assert first == again == Compensation.NEEDS_ATTENTION
    state = world.state(order_id)
    assert (state.status, state.attention) == (before.status, f"{reason}_money_received")
    assert world.events(order_id).count(EventType.ORDER_NEEDS_ATTENTION) == asked_before + 1
    assert world.orders.timeline(order_id)[-1].event == OrderNeedsAttention(
        reason=reason, money_received=True, refund_needed_if_not_shipped=True
    )
    assert state.reservations == before.reservations


def test_a_paid_order_whose_step_failed_is_left_for_a_person(world: FakeWorld) -> None:
    order_id = world.awaiting_payment()
    world.payments.report(full_payment(order_id), actor="stripe")
    assert world.fulfilment.compensate(order_id, "step_failed") == Compensation.NEEDS_ATTENTION
    state = world.state(order_id)
    assert (state.status, state.attention) == (OrderStatus.PAID, "step_failed")
    assert world.stock.level(MUG) == (10, 1, 9)


def test_cancelling_an_order_with_money_received_is_refused(world: FakeWorld) -> None:
    order_id = received_and_paid(world)
    with pytest.raises(MoneyReceived):
        world.fulfilment.cancel(order_id, "customer asked")
    assert world.status(order_id) is OrderStatus.RECEIVED


def test_test_money_does_not_keep_a_live_order_from_being_cancelled(world: FakeWorld) -> None:
    # Given a live order "paid" only in the provider's test mode
    order_id = world.awaiting_payment()
    test_money = full_payment(order_id).model_copy(update={"test": True})
    world.payments.report(test_money, actor="stripe")
    # When its window closes / Then it is cancelled: no real money was taken
    assert world.fulfilment.compensate(order_id, "payment_timeout") == Compensation.CANCELLED


def test_a_payment_landing_after_compensation_read_the_order_stops_the_cancel(
    world: FakeWorld,
) -> None:
    # Given compensation read the unpaid order, and then the payment webhook flagged its money
    # (and had not yet recorded and settled it), so the order's version did not move
    order_id = world.awaiting_payment()
    world.orders.before(
        "apply", lambda: world.orders.mark_money_received(order_id, at=world.clock())
    )
    # When compensation writes its cancel from what it read
    # Then the cancel's condition refused it; read again, the money in flight makes the step
    # retry (Step Functions retries ConcurrentModification) instead of deciding without it
    with pytest.raises(ConcurrentModification):
        world.fulfilment.compensate(order_id, "payment_timeout")
    assert world.status(order_id) is OrderStatus.AWAITING_PAYMENT
    assert world.stock.level(MUG) == (10, 1, 9)
    assert EventType.ORDER_CANCELLED not in world.events(order_id)
    # And when the webhook goes on, the payment pays the order and the retry carries it on
    world.payments.report(full_payment(order_id), actor="stripe")
    assert world.status(order_id) is OrderStatus.PAID
    assert world.fulfilment.compensate(order_id, "payment_timeout") == Compensation.PAID


# -- the payment deadline race ------------------------------------------------------------------
def assert_won_or_lost_never_both(world: FakeWorld, order_id: str) -> None:
    state = world.state(order_id)
    decisions = world.decisions(order_id)
    if state.status is OrderStatus.CANCELLED:  # lost: the money is flagged, the stock is back
        assert decisions == ["order_cancelled_refund_needed"]
        assert state.attention == "order_cancelled_refund_needed"
        assert world.stock.level(MUG) == (10, 0, 10)
    else:  # won: paid, the stock still held for the buyer
        assert state.status is OrderStatus.PAID
        assert decisions == ["pays_order"]
        assert world.stock.level(MUG) == (10, 1, 9)
    assert EventType.ORDER_PAID not in world.events(order_id) or (
        EventType.ORDER_CANCELLED not in world.events(order_id)
    )


def test_a_payment_that_beats_the_deadline_carries_the_order_on(world: FakeWorld) -> None:
    # Given the order was paid just before its window closed
    order_id = world.awaiting_payment()
    world.payments.report(full_payment(order_id), actor="stripe")
    # When the timeout compensates / Then the order goes on
    assert world.fulfilment.compensate(order_id, "payment_timeout") == Compensation.PAID
    assert_won_or_lost_never_both(world, order_id)
    assert world.status(order_id) is OrderStatus.PAID


def test_a_payment_after_the_deadline_is_flagged_for_a_refund(world: FakeWorld) -> None:
    # Given the window closed and the order was cancelled
    order_id = world.awaiting_payment()
    assert world.fulfilment.compensate(order_id, "payment_timeout") == Compensation.CANCELLED
    # When the payment arrives / Then it loses: flagged, the order stays cancelled
    world.payments.report(full_payment(order_id), actor="stripe")
    assert_won_or_lost_never_both(world, order_id)
    assert world.status(order_id) is OrderStatus.CANCELLED


def test_a_payment_paying_while_compensation_decides_wins(world: FakeWorld) -> None:
    # Given the webhook pays the order between compensation's read and its cancel
    order_id = world.awaiting_payment()
    world.orders.before(
        "apply", lambda: world.payments.report(full_payment(order_id), actor="stripe")
    )
    # When compensation writes / Then its cancel lost to the version, and the order goes on
    assert world.fulfilment.compensate(order_id, "payment_timeout") == Compensation.PAID
    assert_won_or_lost_never_both(world, order_id)
    assert world.status(order_id) is OrderStatus.PAID


def test_a_cancel_landing_before_the_webhook_flags_the_money_makes_the_payment_lose(
    world: FakeWorld,
) -> None:
    # Given compensation cancels after the webhook read the order, before it flagged the money
    order_id = world.awaiting_payment()
    outcomes: list[Compensation] = []
    world.orders.before(
        "mark_money_received",
        lambda: outcomes.append(world.fulfilment.compensate(order_id, "payment_timeout")),
    )
    # When the webhook goes on from its stale read
    world.payments.report(full_payment(order_id), actor="stripe")
    # Then the payment lost: flagged for a refund on the cancelled order
    assert outcomes == [Compensation.CANCELLED]
    assert_won_or_lost_never_both(world, order_id)
    assert world.status(order_id) is OrderStatus.CANCELLED


def test_compensation_between_the_flag_and_the_record_waits_for_the_payment(
    world: FakeWorld,
) -> None:
    # Given compensation runs after the webhook flagged the money, before it recorded it
    order_id = world.awaiting_payment()
    refused: list[str] = []

    def compensate_now() -> None:
        try:
            world.fulfilment.compensate(order_id, "payment_timeout")
        except ConcurrentModification as error:
            refused.append(str(error))

    world.records.before("record", compensate_now)
    # When the webhook goes on
    world.payments.report(full_payment(order_id), actor="stripe")
    # Then compensation decided nothing while the money was in flight (the step retries),
    # the payment paid the order, and the retried step carries the workflow on: won, not both
    assert len(refused) == 1
    assert world.fulfilment.compensate(order_id, "payment_timeout") == Compensation.PAID
    assert_won_or_lost_never_both(world, order_id)
    state = world.state(order_id)
    assert (state.status, state.attention) == (OrderStatus.PAID, None)


def test_a_ready_to_ship_order_whose_step_failed_is_left_for_a_person(world: FakeWorld) -> None:
    # Given a cash-on-delivery order ready to ship (nothing to pay, its stock held)
    world.stock_up(MUG, 1)
    order_id = world.received((MUG, 1, 4900), payment_method=PaymentMethod.CASH_ON_DELIVERY)
    world.fulfilment.reserve_stock(order_id)
    # When a later step fails for good / Then nothing is undone
    assert world.fulfilment.compensate(order_id, "step_failed") == Compensation.NEEDS_ATTENTION
    state = world.state(order_id)
    assert (state.status, state.attention) == (OrderStatus.READY_TO_SHIP, "step_failed")
    assert world.stock.level(MUG) == (1, 1, 0)


def test_money_flagged_but_never_recorded_stops_waiting_and_asks_a_person(
    world: FakeWorld,
) -> None:
    # Given a waiting order whose payment webhook flagged the money and then kept failing
    order_id = world.awaiting_payment()
    world.orders.mark_money_received(order_id, at=world.clock())
    # When the deadline's compensation runs at once, it waits for the record (retries)
    with pytest.raises(ConcurrentModification):
        world.fulfilment.compensate(order_id, "payment_timeout")
    # But once the flag is older than a flag-then-record ever takes, it stops waiting
    world.clock.advance(timedelta(seconds=30))
    outcome = world.fulfilment.compensate(order_id, "payment_timeout")
    # Then nothing is cancelled and a person is told, before the workflow ends
    assert outcome == Compensation.NEEDS_ATTENTION
    state = world.state(order_id)
    assert (state.status, state.attention) == (
        OrderStatus.AWAITING_PAYMENT,
        "payment_timeout_money_received",
    )
