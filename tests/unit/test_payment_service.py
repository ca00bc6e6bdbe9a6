"""PaymentService, the one "order paid" decision point, against the in-memory stores."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.kernel.events import EventType
from shared.orders.domain import OrderStatus, PaymentMethod
from shared.orders.events import OrderNeedsAttention
from shared.payments.domain import PaymentDecision, PaymentEvent, PaymentStatus
from shared.payments.events import PaymentRecorded, PaymentRejected
from shared.payments.service import PAYMENT_WAIT, PaymentOutcome
from tests.builders import a_payment, an_order, pln
from tests.unit.fakes import MUG, FakeWorld, a_world


@pytest.fixture
def world() -> FakeWorld:
    return a_world()


def waiting(world: FakeWorld, token: str = "token-1") -> str:  # noqa: S107 - a task token
    """An order reserved and waiting for 49.00 PLN, its workflow parked on `token`."""
    order_id = world.awaiting_payment()
    world.fulfilment.await_payment(order_id, token, 3600)
    return order_id


def in_test_mode(payment: PaymentEvent) -> PaymentEvent:
    return payment.model_copy(update={"test": True})


# -- paying once --------------------------------------------------------------------------------
def test_a_full_payment_pays_the_waiting_order_and_resumes_its_workflow(world: FakeWorld) -> None:
    # Given an order whose workflow waits for payment
    order_id = waiting(world)
    # When its full amount is paid
    report = world.payments.report(a_payment(order_id, 4900), actor="stripe")
    # Then the order is paid, the payment is its decision, and the workflow goes on
    assert (report.outcome, report.order_id) == (PaymentOutcome.APPLIED, order_id)
    assert world.status(order_id) is OrderStatus.PAID
    assert world.decisions(order_id) == ["pays_order"]
    assert world.workflow.resumed == [("token-1", {"order_id": order_id, "paid": True})]
    assert world.tokens.get(order_id, PAYMENT_WAIT) is None


def test_the_same_payment_reported_again_pays_once(world: FakeWorld) -> None:
    # Given a paid order
    order_id = waiting(world)
    payment = a_payment(order_id, 4900)
    world.payments.report(payment, actor="stripe")
    # When the provider delivers the same event again, and another event of the same payment
    world.payments.report(payment, actor="stripe")
    world.payments.report(payment.model_copy(update={"provider_event_id": "evt_2"}), actor="s")
    # Then it was paid once and resumed once
    assert world.events(order_id).count(EventType.ORDER_PAID) == 1
    assert world.decisions(order_id) == ["pays_order"]
    assert world.workflow.resumed_tokens() == ["token-1"]


@pytest.mark.parametrize("late", [PaymentStatus.PENDING, PaymentStatus.FAILED])
def test_a_late_lower_report_after_the_success_changes_nothing(
    world: FakeWorld, late: PaymentStatus
) -> None:
    # Given a payment that succeeded and paid the order
    order_id = waiting(world)
    world.payments.report(a_payment(order_id, 4900, payment_id="pi_1"), actor="stripe")
    version = world.state(order_id).version
    # When an earlier pending or failed report of it arrives late
    world.payments.report(a_payment(order_id, 4900, payment_id="pi_1", status=late), actor="s")
    # Then the success stands and the order did not move
    (payment,) = world.records.of_order(order_id)
    assert (payment.status, payment.decision) == (PaymentStatus.SUCCEEDED, "pays_order")
    assert world.state(order_id).version == version


def test_a_failed_attempt_is_noted_and_its_retry_pays(world: FakeWorld) -> None:
    # Given an order waiting for payment
    order_id = waiting(world)
    # When the payment first fails, then succeeds
    failed = a_payment(order_id, 4900, payment_id="pi_1", status=PaymentStatus.FAILED)
    world.payments.report(failed.model_copy(update={"failure_reason": "card_declined"}), actor="s")
    world.payments.report(a_payment(order_id, 4900, payment_id="pi_1"), actor="stripe")
    # Then the attempt is on the timeline and the order is paid once
    assert world.events(order_id)[-2:] == [EventType.PAYMENT_RECORDED, EventType.ORDER_PAID]
    noted = world.orders.timeline(order_id)[-2].event
    assert isinstance(noted, PaymentRecorded)
    assert (noted.payment_status, noted.reason) == (PaymentStatus.FAILED, "card_declined")
    assert world.status(order_id) is OrderStatus.PAID


def test_a_payment_before_the_order_waits_is_settled_when_the_workflow_waits(
    world: FakeWorld,
) -> None:
    # Given an order paid while still received (its stock not reserved yet)
    world.stock_up(MUG, 5)
    order_id = world.received((MUG, 1, 4900))
    world.payments.report(a_payment(order_id, 4900), actor="stripe")
    assert world.status(order_id) is OrderStatus.RECEIVED
    assert world.decisions(order_id) == [None]  # money received, not decided yet
    assert world.state(order_id).money_received
    # When the workflow reserves and waits for payment
    world.fulfilment.reserve_stock(order_id)
    world.fulfilment.await_payment(order_id, "token-1", 3600)
    # Then the waiting payment pays it and the workflow goes on at once
    assert world.status(order_id) is OrderStatus.PAID
    assert world.workflow.resumed_tokens() == ["token-1"]


def test_two_deliveries_racing_to_pay_the_order_pay_it_once(world: FakeWorld) -> None:
    # Given a payment whose second delivery pays the order while the first is about to
    order_id = waiting(world)
    payment = a_payment(order_id, 4900)
    world.orders.before("apply", lambda: world.payments.report(payment, actor="retry"))
    # When the first delivery writes its decision
    world.payments.report(payment, actor="stripe")
    # Then its versioned write lost, it read again, found the decision made, and did nothing
    assert world.events(order_id).count(EventType.ORDER_PAID) == 1
    assert world.decisions(order_id) == ["pays_order"]
    assert world.workflow.resumed_tokens() == ["token-1"]


def test_a_payment_landing_while_the_wait_is_parked_still_resumes_the_workflow(
    world: FakeWorld,
) -> None:
    # Given the webhook pays the order after the workflow read it, before it parks its token
    order_id = world.awaiting_payment()
    world.tokens.before(
        "put", lambda: world.payments.report(a_payment(order_id, 4900), actor="stripe")
    )
    # When the workflow parks its token
    world.fulfilment.await_payment(order_id, "token-1", 3600)
    # Then it is resumed anyway (it reads the order afresh after parking)
    assert world.status(order_id) is OrderStatus.PAID
    assert world.workflow.resumed_tokens() == ["token-1"]


def test_resuming_forgets_only_the_token_it_used(world: FakeWorld) -> None:
    # Given a paid order whose workflow step was retried and parked a newer token
    order_id = waiting(world, token="token-1")
    world.tokens.before(
        "delete",
        lambda: world.tokens.put(
            order_id, PAYMENT_WAIT, "token-2", at=world.clock(), ttl=timedelta(hours=1)
        ),
    )
    # When the payment resumes token-1
    world.payments.report(a_payment(order_id, 4900), actor="stripe")
    # Then token-2 is still there for the retried step
    assert world.workflow.resumed_tokens() == ["token-1"]
    assert world.tokens.get(order_id, PAYMENT_WAIT) == "token-2"


# -- payments that do not pay -------------------------------------------------------------------
def test_money_in_another_currency_does_not_pay(world: FakeWorld) -> None:
    # Given an order waiting for 49.00 PLN
    order_id = waiting(world)
    # When 49.00 EUR is paid
    world.payments.report(a_payment(order_id, 4900, currency="EUR"), actor="stripe")
    # Then the order still waits, the payment is rejected with what was expected
    assert world.status(order_id) is OrderStatus.AWAITING_PAYMENT
    assert world.decisions(order_id) == ["currency_mismatch"]
    rejected, flagged = world.orders.timeline(order_id)[-2:]
    assert (rejected.type, flagged.type) == (
        EventType.PAYMENT_REJECTED,
        EventType.ORDER_NEEDS_ATTENTION,  # money nobody keeps: it goes back
    )
    assert world.state(order_id).attention == "currency_mismatch"
    assert isinstance(rejected.event, PaymentRejected)
    assert rejected.event.reason is PaymentDecision.CURRENCY_MISMATCH
    assert rejected.event.expected == pln(4900)
    assert world.workflow.resumed == []
    # And the money taken keeps the order from being cancelled later
    assert world.state(order_id).money_received


def test_split_tender_pays_the_order_when_the_parts_reach_the_total(world: FakeWorld) -> None:
    # Given an order waiting for 49.00 PLN
    order_id = waiting(world)
    # When a gift card pays 30.00 on one provider
    world.payments.report(a_payment(order_id, 3000, provider="stripe"), actor="stripe")
    # Then it counts, and the order still waits for the rest
    assert world.status(order_id) is OrderStatus.AWAITING_PAYMENT
    assert world.decisions(order_id) == ["partial"]
    assert world.workflow.resumed == []
    # When BLIK pays the other 19.00 on another provider (twice: a duplicate delivery)
    rest = a_payment(order_id, 1900, provider="payu")
    world.payments.report(rest, actor="payu")
    world.payments.report(rest, actor="payu")
    # Then the order is paid once, and its workflow resumed once
    assert world.status(order_id) is OrderStatus.PAID
    assert sorted(str(d) for d in world.decisions(order_id)) == ["partial", "pays_order"]
    paid = [e for e in world.orders.timeline(order_id) if e.type is EventType.ORDER_PAID]
    assert len(paid) == 1
    assert len(world.workflow.resumed) == 1


def test_an_overpayment_pays_the_order_and_flags_the_excess_for_refund(world: FakeWorld) -> None:
    order_id = waiting(world)
    world.payments.report(a_payment(order_id, 5000), actor="stripe")
    assert world.status(order_id) is OrderStatus.PAID
    assert world.decisions(order_id) == ["overpaid_refund_needed"]
    assert world.state(order_id).attention == "overpaid_refund_needed"
    flagged = world.orders.timeline(order_id)[-1].event
    assert isinstance(flagged, OrderNeedsAttention)
    assert flagged.excess == pln(100)


def test_a_second_full_payment_is_flagged_for_a_refund(world: FakeWorld) -> None:
    # Given a paid order
    order_id = waiting(world)
    world.payments.report(a_payment(order_id, 4900), actor="stripe")
    # When the buyer pays again, with another payment
    world.payments.report(a_payment(order_id, 4900), actor="stripe")
    # Then the second is rejected and a person is asked to give it back
    assert world.events(order_id)[-3:] == [
        EventType.ORDER_PAID,
        EventType.PAYMENT_REJECTED,
        EventType.ORDER_NEEDS_ATTENTION,
    ]
    assert sorted(d or "" for d in world.decisions(order_id)) == [
        "already_paid_refund_needed",
        "pays_order",
    ]
    state = world.state(order_id)
    assert (state.status, state.attention) == (OrderStatus.PAID, "already_paid_refund_needed")
    assert world.workflow.resumed_tokens() == ["token-1"]


def test_two_full_payments_found_together_pay_once_and_flag_the_other(world: FakeWorld) -> None:
    # Given two full payments that arrived before the order waited
    world.stock_up(MUG, 5)
    order_id = world.received((MUG, 1, 4900))
    world.payments.report(a_payment(order_id, 4900, payment_id="pi_a"), actor="stripe")
    world.payments.report(a_payment(order_id, 4900, payment_id="pi_b"), actor="stripe")
    world.fulfilment.reserve_stock(order_id)
    # When the workflow waits and settles them
    world.fulfilment.await_payment(order_id, "token-1", 3600)
    # Then one pays (the first listed), the other is flagged
    assert world.decisions(order_id) == ["pays_order", "already_paid_refund_needed"]
    assert world.state(order_id).attention == "already_paid_refund_needed"


def test_a_payment_for_a_cancelled_order_is_flagged_for_a_refund(world: FakeWorld) -> None:
    # Given an order cancelled when its payment window closed
    order_id = world.awaiting_payment()
    assert world.fulfilment.compensate(order_id, "payment_timeout") == "cancelled"
    # When its payment arrives late
    world.payments.report(a_payment(order_id, 4900), actor="stripe")
    # Then it stays cancelled and the money is flagged to go back
    state = world.state(order_id)
    assert (state.status, state.attention) == (
        OrderStatus.CANCELLED,
        "order_cancelled_refund_needed",
    )
    assert world.decisions(order_id) == ["order_cancelled_refund_needed"]
    assert world.events(order_id)[-2:] == [
        EventType.PAYMENT_REJECTED,
        EventType.ORDER_NEEDS_ATTENTION,
    ]


# -- test money ---------------------------------------------------------------------------------
def test_test_mode_money_never_pays_a_live_order(world: FakeWorld) -> None:
    # Given a live order waiting for payment
    order_id = waiting(world)
    # When it is paid in full in the provider's test mode
    world.payments.report(in_test_mode(a_payment(order_id, 4900)), actor="stripe")
    # Then it is not paid, and no real money is counted as received
    state = world.state(order_id)
    assert (state.status, state.money_received) == (OrderStatus.AWAITING_PAYMENT, False)
    assert world.decisions(order_id) == ["test_payment_for_live_order"]
    assert world.events(order_id)[-1] is EventType.PAYMENT_REJECTED
    assert world.workflow.resumed == []


def test_a_sandbox_accepts_test_money_for_a_live_order() -> None:
    # Given a sandbox that pays live-flagged orders with test money
    world = a_world(accept_test_payments=True)
    order_id = waiting(world)
    # When one is paid in test mode
    world.payments.report(in_test_mode(a_payment(order_id, 4900)), actor="stripe")
    # Then it is paid
    assert world.status(order_id) is OrderStatus.PAID
    assert world.decisions(order_id) == ["pays_order"]


def test_test_money_pays_a_test_order(world: FakeWorld) -> None:
    # Given an order the channel marked as a test
    world.stock_up(MUG, 5)
    order_id = world.receive(an_order((MUG, 1, 4900)).model_copy(update={"test": True}))
    world.fulfilment.reserve_stock(order_id)
    world.fulfilment.await_payment(order_id, "token-1", 3600)
    # When it is paid in test mode
    world.payments.report(in_test_mode(a_payment(order_id, 4900)), actor="stripe")
    # Then it is paid
    assert world.status(order_id) is OrderStatus.PAID


# -- which order ----------------------------------------------------------------------------------
def test_a_payment_naming_an_unknown_order_is_kept_aside_and_changes_nothing(
    world: FakeWorld,
) -> None:
    # When a payment names an orderhub id that does not exist
    report = world.payments.report(a_payment("ord_unknown", 100), actor="stripe")
    # Then it is reported as such, kept aside under that id, and no order or payment appears
    assert (report.outcome, report.order_id) == (PaymentOutcome.UNKNOWN_ORDER, "ord_unknown")
    assert len(world.parked.waiting_for("ORDER#ord_unknown")) == 1
    assert world.records.of_order("ord_unknown") == []
    assert world.orders.get("ord_unknown") is None


def test_a_channel_payment_for_an_order_already_here_is_applied_directly(
    world: FakeWorld,
) -> None:
    # Given a Shopify order already received and waiting
    world.stock_up(MUG, 5)
    order_id = world.receive(an_order((MUG, 1, 4900), external_id="1001"))
    world.fulfilment.reserve_stock(order_id)
    world.fulfilment.await_payment(order_id, "token-1", 3600)
    # When Shopify reports its payment by its own order id
    report = world.payments.report(a_payment(None, 4900, shopify_order="1001"), actor="shopify")
    # Then it pays that order and nothing is parked
    assert (report.outcome, report.order_id) == (PaymentOutcome.APPLIED, order_id)
    assert world.status(order_id) is OrderStatus.PAID
    assert world.parked.waiting_for("CHANNEL#shopify#1001") == []


def test_a_payment_for_a_backordered_order_is_noted_and_left_undecided(
    world: FakeWorld,
) -> None:
    # Given an order backordered for want of stock
    order_id = world.received(("NOT-STOCKED", 1, 4900))
    assert world.fulfilment.reserve_stock(order_id) == "backordered"
    # When it is paid
    world.payments.report(a_payment(order_id, 4900), actor="stripe")
    # Then the payment shows on its timeline, undecided until the order can go on
    assert world.status(order_id) is OrderStatus.BACKORDERED
    assert world.events(order_id)[-1] is EventType.PAYMENT_RECORDED
    assert world.decisions(order_id) == [None]
    assert world.state(order_id).money_received


def test_a_pending_payment_is_noted_and_does_not_count_as_money(world: FakeWorld) -> None:
    order_id = waiting(world)
    world.payments.report(a_payment(order_id, 4900, status=PaymentStatus.PENDING), actor="s")
    assert world.events(order_id)[-1] is EventType.PAYMENT_RECORDED
    assert world.state(order_id).money_received is False
    assert world.status(order_id) is OrderStatus.AWAITING_PAYMENT


# -- found by these tests (fixed) ---------------------------------------------------------------
def test_a_payment_recorded_while_the_order_starts_waiting_still_pays_it(
    world: FakeWorld,
) -> None:
    # Given a received order whose workflow reserves and starts waiting while a payment
    # webhook is between reading the order and recording the payment
    world.stock_up(MUG, 5)
    order_id = world.received((MUG, 1, 4900))

    def workflow_runs() -> None:
        assert world.fulfilment.reserve_stock(order_id) == "awaiting_payment"
        world.fulfilment.await_payment(order_id, "token-1", 3600)

    world.records.before("record", workflow_runs)
    # When the webhook records and settles the payment
    world.payments.report(a_payment(order_id, 4900), actor="stripe")
    # Then one of the two paths paid the order and resumed the workflow
    assert world.status(order_id) is OrderStatus.PAID
    assert world.workflow.resumed_tokens() == ["token-1"]


@pytest.mark.parametrize("status", [OrderStatus.CANCELLED, OrderStatus.PAID])
def test_money_of_another_amount_for_a_closed_order_is_flagged_for_a_refund(
    world: FakeWorld, status: OrderStatus
) -> None:
    # Given an order that no longer waits for money: cancelled at the deadline, or paid
    order_id = world.awaiting_payment()
    if status is OrderStatus.CANCELLED:
        world.fulfilment.compensate(order_id, "payment_timeout")
    else:
        world.payments.report(a_payment(order_id, 4900), actor="stripe")
    assert world.status(order_id) is status
    # When money of another amount arrives for it
    world.payments.report(a_payment(order_id, 2500), actor="stripe")
    # Then a person is asked to give it back
    assert world.events(order_id)[-1] is EventType.ORDER_NEEDS_ATTENTION
    assert world.state(order_id).attention is not None


# -- found by review (fixed) ----------------------------------------------------------------------
def test_cash_collected_for_a_cash_on_delivery_order_is_no_refund(world: FakeWorld) -> None:
    # Given a cash-on-delivery order ready to ship (nothing to pay up front)
    world.stock_up(MUG, 5)
    order_id = world.received((MUG, 1, 4900), payment_method=PaymentMethod.CASH_ON_DELIVERY)
    world.fulfilment.reserve_stock(order_id)
    # When the shop marks the cash collected (Shopify sends orders/paid)
    world.payments.report(a_payment(order_id, 4900), actor="shopify")
    # Then the money is recorded as paying the order; nothing to refund, no person needed
    assert world.decisions(order_id) == ["pays_order"]
    state = world.state(order_id)
    assert (state.status, state.attention) == (OrderStatus.READY_TO_SHIP, None)
    # And a second collection of the same order is money to give back
    world.payments.report(a_payment(order_id, 4900), actor="shopify")
    assert sorted(d or "" for d in world.decisions(order_id)) == [
        "already_paid_refund_needed",
        "pays_order",
    ]


def test_a_zero_amount_success_takes_no_money_and_blocks_no_cancel(world: FakeWorld) -> None:
    order_id = waiting(world)
    world.payments.report(a_payment(order_id, 0), actor="stripe")
    assert not world.state(order_id).money_received
    assert world.fulfilment.compensate(order_id, "payment_timeout") == "cancelled"


def test_a_zero_amount_success_is_not_decided_at_all(world: FakeWorld) -> None:
    order_id = waiting(world)
    world.payments.report(a_payment(order_id, 0), actor="stripe")
    assert world.decisions(order_id) == [None]
    assert world.state(order_id).attention is None
    world.payments.report(a_payment(order_id, 4900), actor="stripe")
    assert world.status(order_id) is OrderStatus.PAID
    assert world.state(order_id).attention is None


def test_cash_collected_at_another_amount_is_a_mismatch_not_a_second_payment(
    world: FakeWorld,
) -> None:
    world.stock_up(MUG, 5)
    order_id = world.received((MUG, 1, 4900), payment_method=PaymentMethod.CASH_ON_DELIVERY)
    world.fulfilment.reserve_stock(order_id)
    world.payments.report(a_payment(order_id, 4500), actor="shopify")
    assert world.decisions(order_id) == ["amount_mismatch"]
    rejected = world.orders.timeline(order_id)[-2].event
    assert isinstance(rejected, PaymentRejected) and rejected.expected == pln(4900)
