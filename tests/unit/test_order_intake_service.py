"""OrderIntake: a channel's order stored once, its workflow started once, and the payments that
came before it applied, against the in-memory stores."""

from __future__ import annotations

import pytest

from shared.kernel.events import EventType
from shared.orders.domain import OrderStatus, PaymentMethod
from shared.payments.domain import PaymentStatus
from shared.payments.service import PaymentOutcome
from tests.builders import a_payment, an_order, pln
from tests.unit.fakes import MUG, PAYMENT_WINDOW_SECONDS, FakeWorld, a_world

SHOPIFY_404 = "CHANNEL#shopify#404"


@pytest.fixture
def world() -> FakeWorld:
    return a_world()


def test_an_order_is_stored_and_its_workflow_started(world: FakeWorld) -> None:
    # Given a channel's order
    order = an_order((MUG, 2, 4900), payment_method=PaymentMethod.CASH_ON_DELIVERY)
    # When it is received
    order_id = world.receive(order)
    # Then it is stored as received, its details kept, and its workflow started with the window
    state = world.state(order_id)
    assert (state.status, state.total, state.payment_required) == (
        OrderStatus.RECEIVED,
        pln(9800),
        False,
    )
    assert (state.channel, state.external_id) == ("shopify", order.external_id)
    assert world.orders.details(order_id) == order
    assert world.events(order_id) == [EventType.ORDER_RECEIVED]
    assert world.workflow.started == {
        order_id: {"order_id": order_id, "payment_window_seconds": PAYMENT_WINDOW_SECONDS}
    }


def test_an_order_delivered_twice_is_stored_and_started_once(world: FakeWorld) -> None:
    # Given an order received once
    order = an_order((MUG, 1, 4900))
    first = world.receive(order, event_id="wh-1")
    # When the channel delivers it again
    second = world.receive(order, event_id="wh-2")
    # Then the same order answers, with one timeline entry and one workflow
    assert second == first
    assert world.orders.get("ord_0002") is None
    assert world.events(first) == [EventType.ORDER_RECEIVED]
    assert list(world.workflow.started) == [first]


def test_money_the_channel_collected_is_recorded_as_a_payment_and_pays_when_due(
    world: FakeWorld,
) -> None:
    # Given an order Shopify Payments already collected
    world.stock_up(MUG, 5)
    order_id = world.receive(an_order((MUG, 1, 4900), paid_by_channel=True))
    # Then its money is recorded (not decided: the order is only received)
    (payment,) = world.records.of_order(order_id)
    assert (payment.provider, payment.status, payment.amount) == (
        "shopify",
        PaymentStatus.SUCCEEDED,
        pln(4900),
    )
    assert payment.decision is None and world.state(order_id).money_received
    # When the workflow reserves and waits for payment
    world.fulfilment.reserve_stock(order_id)
    world.fulfilment.await_payment(order_id, "token-1", 3600)
    # Then it is paid at once
    assert world.status(order_id) is OrderStatus.PAID
    assert world.workflow.resumed_tokens() == ["token-1"]


def test_a_redelivered_channel_paid_order_records_its_payment_once(world: FakeWorld) -> None:
    order = an_order((MUG, 1, 4900), paid_by_channel=True)
    order_id = world.receive(order, event_id="wh-1")
    world.receive(order, event_id="wh-2")
    assert len(world.records.of_order(order_id)) == 1


# -- payments that came first -------------------------------------------------------------------
def test_a_channel_payment_before_its_order_is_parked_and_applied_when_it_arrives(
    world: FakeWorld,
) -> None:
    # Given Shopify's orders/paid for order 404 arrives before its orders/create
    payment = a_payment(None, 4900, shopify_order="404")
    report = world.payments.report(payment, actor="shopify webhook")
    assert (report.outcome, report.order_id) == (PaymentOutcome.PARKED, None)
    assert len(world.parked.waiting_for(SHOPIFY_404)) == 1
    # When the order arrives
    world.stock_up(MUG, 5)
    order_id = world.receive(an_order((MUG, 1, 4900), external_id="404"))
    # Then the payment is on the order, nothing is left parked, and it pays when due
    assert [(p.payment_id, p.status) for p in world.records.of_order(order_id)] == [
        (payment.payment_id, PaymentStatus.SUCCEEDED)
    ]
    assert world.parked.waiting_for(SHOPIFY_404) == []
    assert world.fulfilment.reserve_stock(order_id) == "awaiting_payment"
    world.fulfilment.await_payment(order_id, "token-1", 60)
    assert world.status(order_id) is OrderStatus.PAID


def test_a_channel_payment_after_its_order_is_applied_without_parking(
    world: FakeWorld,
) -> None:
    # Given the order arrived first
    order_id = world.receive(an_order((MUG, 1, 4900), external_id="404"))
    # When its payment arrives
    report = world.payments.report(a_payment(None, 4900, shopify_order="404"), actor="shopify")
    # Then it is applied to the order directly
    assert (report.outcome, report.order_id) == (PaymentOutcome.APPLIED, order_id)
    assert len(world.records.of_order(order_id)) == 1
    assert world.parked.waiting_for(SHOPIFY_404) == []


def test_an_order_arriving_while_its_payment_parks_still_gets_it(world: FakeWorld) -> None:
    # Given the payment looked for its order (not there), then the order arrives and looks for
    # parked payments (none yet) before the payment is parked
    order = an_order((MUG, 1, 4900), external_id="404")
    arrived: list[str] = []
    world.parked.before("park", lambda: arrived.append(world.receive(order)))
    # When the payment parks
    report = world.payments.report(a_payment(None, 4900, shopify_order="404"), actor="shopify")
    # Then its second look finds the order: applied, and nothing is left parked
    (order_id,) = arrived
    assert (report.outcome, report.order_id) == (PaymentOutcome.APPLIED, order_id)
    assert len(world.records.of_order(order_id)) == 1
    assert world.parked.waiting_for(SHOPIFY_404) == []


def test_an_order_arriving_just_after_its_payment_parked_applies_it_once(
    world: FakeWorld,
) -> None:
    # Given the order arrives right after the payment parked, before its second look
    order = an_order((MUG, 1, 4900), external_id="404")
    arrived: list[str] = []
    world.parked.after("park", lambda: arrived.append(world.receive(order)))
    payment = a_payment(None, 4900, shopify_order="404")
    # When the payment takes its second look
    report = world.payments.report(payment, actor="shopify")
    # Then both intake and the payment applied it, and it counts once
    (order_id,) = arrived
    assert report.outcome is PaymentOutcome.APPLIED
    assert [p.payment_id for p in world.records.of_order(order_id)] == [payment.payment_id]
    assert world.parked.waiting_for(SHOPIFY_404) == []
    world.stock_up(MUG, 5)
    world.fulfilment.reserve_stock(order_id)
    world.fulfilment.await_payment(order_id, "token-1", 60)
    assert world.events(order_id).count(EventType.ORDER_PAID) == 1


def test_every_parked_report_of_the_payment_is_applied(world: FakeWorld) -> None:
    # Given a pending and then a succeeded report of one payment, both before the order
    for status in (PaymentStatus.PENDING, PaymentStatus.SUCCEEDED):
        report = a_payment(None, 4900, payment_id="sp_1", status=status, shopify_order="404")
        world.payments.report(report, actor="shopify")
    assert len(world.parked.waiting_for(SHOPIFY_404)) == 2
    # When the order arrives
    order_id = world.receive(an_order((MUG, 1, 4900), external_id="404"))
    # Then the payment stands at its highest status and nothing waits
    (payment,) = world.records.of_order(order_id)
    assert payment.status is PaymentStatus.SUCCEEDED
    assert world.parked.waiting_for(SHOPIFY_404) == []
