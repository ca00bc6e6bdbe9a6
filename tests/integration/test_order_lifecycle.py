"""The services end to end against moto: intake, reservation, payments, compensation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from shared.channels.listings import ListingRepository, SkuResolver
from shared.fulfilment.service import HoldRelease, UnmappedLines
from shared.kernel.errors import ConcurrentModification, InvalidTransition
from shared.kernel.events import EventType
from shared.orders.domain import OrderStatus, PaymentMethod
from shared.payments.domain import PaymentStatus
from shared.payments.service import PaymentOutcome
from shared.platform.clock import utc_now
from tests.builders import a_payment, an_order
from tests.integration.conftest import Services

MUG, POSTER = "MUG-KRAKOW-350", "POSTER-A2-TATRY"


def stock_up(services: Services, sku: str, units: int, warehouse: str = "WAW-1") -> None:
    services.stock.set_on_hand(sku, warehouse, units, at=utc_now())


def timeline(services: Services, order_id: str) -> list[EventType]:
    items = services.orders.partition(order_id)
    events = sorted((i for i in items if i["SK"].startswith("EVENT#")), key=lambda i: i["SK"])
    return [EventType(i["event_type"]) for i in events]


def received(services: Services, *lines: tuple[str | None, int, int], **kwargs: Any) -> str:
    return services.intake.receive(an_order(*lines, **kwargs), actor="test", event_id="wh-1")


def awaiting_payment(services: Services, units: int = 1, price: int = 4900) -> str:
    stock_up(services, MUG, 10)
    order_id = received(services, (MUG, units, price))
    assert services.fulfilment.reserve_stock(order_id) == "awaiting_payment"
    return order_id


def status_of(services: Services, order_id: str) -> OrderStatus:
    state = services.orders.get(order_id)
    assert state is not None
    return state.status


def test_an_order_delivered_twice_is_stored_and_started_once(services: Services) -> None:
    stock_up(services, MUG, 1)
    order = an_order((MUG, 1, 4900))
    first = services.intake.receive(order, actor="test", event_id="wh-1")
    second = services.intake.receive(order, actor="test", event_id="wh-2")
    assert first == second
    assert list(services.workflow.started) == [first]
    assert services.workflow.started[first]["payment_window_seconds"] == 3600
    assert timeline(services, first) == [EventType.ORDER_RECEIVED]
    assert services.orders.find_by_channel("shopify", order.external_id) == first


def test_reserving_stock_holds_units_and_waits_for_payment(services: Services) -> None:
    stock_up(services, MUG, 5)
    order_id = received(services, (MUG, 2, 4900))

    assert services.fulfilment.reserve_stock(order_id) == "awaiting_payment"

    level = services.stock.levels(MUG)[0]
    assert (level.on_hand, level.reserved, level.available) == (5, 2, 3)
    state = services.orders.get(order_id)
    assert state is not None and state.status is OrderStatus.AWAITING_PAYMENT
    assert [(r.sku, r.quantity) for r in state.reservations] == [(MUG, 2)]
    assert timeline(services, order_id) == [EventType.ORDER_RECEIVED, EventType.STOCK_RESERVED]


def test_a_retried_reservation_does_not_reserve_twice(services: Services) -> None:
    stock_up(services, MUG, 5)
    order_id = received(services, (MUG, 2, 4900))
    services.fulfilment.reserve_stock(order_id)

    assert services.fulfilment.reserve_stock(order_id) == "awaiting_payment"
    assert services.stock.levels(MUG)[0].reserved == 2


def test_one_transaction_over_all_lines_or_a_backorder_naming_the_shortfall(
    services: Services,
) -> None:
    stock_up(services, MUG, 5)
    stock_up(services, POSTER, 1, warehouse="KRK-1")
    order_id = received(services, (MUG, 2, 4900), (POSTER, 3, 5900))

    assert services.fulfilment.reserve_stock(order_id) == "backordered"

    state = services.orders.get(order_id)
    assert state is not None and state.status is OrderStatus.BACKORDERED
    assert state.status_reason == "insufficient stock: POSTER-A2-TATRY: 3 requested, 1 available"
    # nothing was reserved, not even the mugs that were there
    assert services.stock.levels(MUG)[0].reserved == 0
    assert services.stock.levels(POSTER)[0].reserved == 0


def test_an_unknown_sku_holds_the_order_until_its_listing_is_mapped(services: Services) -> None:
    # GIVEN an order whose line names a SKU the shop keeps no stock under, nor maps
    order_id = received(services, ("NO-SUCH-SKU", 1, 100))
    state = services.orders.get(order_id)
    assert state is not None and state.held == "unknown_sku: line 1 (NO-SUCH-SKU)"
    # THEN nothing is reserved on a guess: the workflow waits for the shop
    assert services.fulfilment.reserve_stock(order_id) == "held"
    with pytest.raises(UnmappedLines):
        hold_release(services).release(order_id, actor="test")
    # WHEN the shop maps the channel's SKU to its own and releases the order
    stock_up(services, MUG, 0)
    ListingRepository(services.table).map("shopify", "NO-SUCH-SKU", MUG, at=utc_now())
    hold_release(services).release(order_id, actor="test")
    # THEN its line names the shop's SKU and the workflow reserves it (none in stock here)
    details = services.orders.details(order_id)
    assert details is not None and details.lines[0].sku == MUG
    assert services.fulfilment.reserve_stock(order_id) == "backordered"
    assert timeline(services, order_id)[-3:] == [
        EventType.SKU_MAPPED,
        EventType.ORDER_RELEASED,
        EventType.ORDER_BACKORDERED,
    ]


def hold_release(services: Services) -> HoldRelease:
    return HoldRelease(
        orders=services.orders,
        tokens=services.tokens,
        workflow=services.workflow,
        resolver=SkuResolver(ListingRepository(services.table), services.stock),
    )


def test_lines_without_a_sku_hold_no_stock(services: Services) -> None:
    stock_up(services, MUG, 1)
    order_id = received(services, (MUG, 1, 4900), (None, 1, 500))
    assert services.fulfilment.reserve_stock(order_id) == "awaiting_payment"
    assert services.stock.levels(MUG)[0].reserved == 1


def test_cash_on_delivery_is_ready_to_ship_once_reserved(services: Services) -> None:
    stock_up(services, MUG, 1)
    order_id = received(services, (MUG, 1, 4900), payment_method=PaymentMethod.CASH_ON_DELIVERY)

    assert services.fulfilment.reserve_stock(order_id) == "ready_to_ship"
    assert timeline(services, order_id) == [
        EventType.ORDER_RECEIVED,
        EventType.STOCK_RESERVED,
        EventType.ORDER_READY_TO_SHIP,
    ]


def test_a_payment_while_waiting_pays_the_order_and_resumes_the_workflow(
    services: Services,
) -> None:
    order_id = awaiting_payment(services)
    services.fulfilment.await_payment(order_id, "token-1", 3600)
    assert services.workflow.resumed == []

    services.payments.report(a_payment(order_id, 4900), actor="stripe webhook")

    assert status_of(services, order_id) is OrderStatus.PAID
    assert services.workflow.resumed == [("token-1", {"order_id": order_id, "paid": True})]
    assert services.tokens.get(order_id, "payment") is None


def test_a_payment_that_arrives_before_the_wait_is_settled_when_the_wait_starts(
    services: Services,
) -> None:
    stock_up(services, MUG, 10)
    order_id = received(services, (MUG, 1, 4900))
    services.payments.report(a_payment(order_id, 4900), actor="stripe webhook")
    assert status_of(services, order_id) is OrderStatus.RECEIVED  # not reserved yet

    services.fulfilment.reserve_stock(order_id)
    services.fulfilment.await_payment(order_id, "token-1", 3600)

    assert status_of(services, order_id) is OrderStatus.PAID
    assert [token for token, _ in services.workflow.resumed] == ["token-1"]


def test_a_payment_reported_twice_pays_once(services: Services) -> None:
    order_id = awaiting_payment(services)
    services.fulfilment.await_payment(order_id, "token-1", 3600)
    payment = a_payment(order_id, 4900)

    services.payments.report(payment, actor="stripe webhook")
    services.payments.report(payment, actor="stripe webhook")

    assert timeline(services, order_id).count(EventType.ORDER_PAID) == 1
    assert len(services.workflow.resumed) == 1


def test_a_part_payment_counts_but_does_not_pay_the_order(services: Services) -> None:
    order_id = awaiting_payment(services)

    services.payments.report(a_payment(order_id, 4800), actor="stripe webhook")

    assert status_of(services, order_id) is OrderStatus.AWAITING_PAYMENT
    assert timeline(services, order_id)[-1] == EventType.PAYMENT_RECORDED
    (payment,) = services.records.of_order(order_id)
    assert (payment.decision, payment.applied) == ("partial", True)

    # The rest, paid on another provider, pays it.
    services.payments.report(a_payment(order_id, 100, provider="payu"), actor="payu webhook")
    assert status_of(services, order_id) is OrderStatus.PAID


def test_a_payment_in_another_currency_does_not_pay_the_order(services: Services) -> None:
    order_id = awaiting_payment(services)
    services.payments.report(a_payment(order_id, 4900, currency="EUR"), actor="stripe")
    assert status_of(services, order_id) is OrderStatus.AWAITING_PAYMENT
    assert timeline(services, order_id)[-2:] == [
        EventType.PAYMENT_REJECTED,
        EventType.ORDER_NEEDS_ATTENTION,  # the money goes back, or a person decides
    ]
    (payment,) = services.records.of_order(order_id)
    assert (payment.decision, payment.applied) == ("currency_mismatch", False)


def test_a_second_different_payment_is_flagged_for_refund(services: Services) -> None:
    order_id = awaiting_payment(services)
    services.payments.report(a_payment(order_id, 4900), actor="stripe")

    services.payments.report(a_payment(order_id, 4900), actor="stripe")

    assert timeline(services, order_id)[-3:] == [
        EventType.ORDER_PAID,
        EventType.PAYMENT_REJECTED,
        EventType.ORDER_NEEDS_ATTENTION,  # money to give back: a person's call today
    ]
    decisions = sorted(p.decision or "" for p in services.records.of_order(order_id))
    assert decisions == ["already_paid_refund_needed", "pays_order"]
    state = services.orders.get(order_id)
    assert state is not None and state.attention == "already_paid_refund_needed"


def test_a_late_pending_report_never_downgrades_a_success(services: Services) -> None:
    order_id = awaiting_payment(services)
    services.payments.report(a_payment(order_id, 4900, payment_id="pi_1"), actor="stripe")

    late = a_payment(order_id, 4900, payment_id="pi_1", status=PaymentStatus.PENDING)
    services.payments.report(late, actor="stripe")

    (payment,) = services.records.of_order(order_id)
    assert payment.status is PaymentStatus.SUCCEEDED


def test_a_failed_attempt_is_on_the_timeline_and_a_retry_can_still_pay(
    services: Services,
) -> None:
    order_id = awaiting_payment(services)
    failed = a_payment(order_id, 4900, payment_id="pi_1", status=PaymentStatus.FAILED)

    services.payments.report(failed, actor="stripe")
    services.payments.report(a_payment(order_id, 4900, payment_id="pi_1"), actor="stripe")

    assert timeline(services, order_id)[-2:] == [
        EventType.PAYMENT_RECORDED,
        EventType.ORDER_PAID,
    ]


def test_payment_for_a_cancelled_order_is_flagged_for_refund(services: Services) -> None:
    order_id = awaiting_payment(services)
    services.fulfilment.cancel(order_id, "payment_timeout")

    services.payments.report(a_payment(order_id, 4900), actor="stripe")

    (payment,) = services.records.of_order(order_id)
    assert payment.decision == "order_cancelled_refund_needed"


def test_an_order_the_channel_already_collected_is_paid_when_the_wait_starts(
    services: Services,
) -> None:
    stock_up(services, MUG, 1)
    order_id = received(services, (MUG, 1, 4900), paid_by_channel=True)
    services.fulfilment.reserve_stock(order_id)

    services.fulfilment.await_payment(order_id, "token-1", 3600)

    assert status_of(services, order_id) is OrderStatus.PAID


def test_a_channel_payment_before_its_order_is_parked_and_applied_when_the_order_arrives(
    services: Services,
) -> None:
    # GIVEN Shopify's orders/paid for order 404 arrives before its orders/create
    payment = a_payment(None, 4900, shopify_order="404")
    report = services.payments.report(payment, actor="shopify webhook")
    assert report.outcome is PaymentOutcome.PARKED
    # WHEN the order arrives
    stock_up(services, MUG, 5)
    order_id = services.intake.receive(
        an_order((MUG, 1, 4900), external_id="404"), actor="shopify", event_id="wh-create"
    )
    # THEN the parked payment is on the order, and nothing is left parked
    payments = services.records.of_order(order_id)
    assert [(p.payment_id, p.status) for p in payments] == [
        (payment.payment_id, PaymentStatus.SUCCEEDED)
    ]
    assert services.payments.parked.waiting_for("CHANNEL#shopify#404") == []
    stock_up(services, MUG, 5)
    assert services.fulfilment.reserve_stock(order_id) == "awaiting_payment"
    services.fulfilment.await_payment(order_id, "token-1", 60)
    state = services.orders.get(order_id)
    assert state is not None and state.status is OrderStatus.PAID


def test_a_payment_for_an_unknown_order_is_kept_aside_and_changes_no_order(
    services: Services,
) -> None:
    report = services.payments.report(a_payment("ord_unknown", 100), actor="stripe")
    assert report.outcome is PaymentOutcome.UNKNOWN_ORDER
    assert services.records.of_order("ord_unknown") == []
    assert len(services.payments.parked.waiting_for("ORDER#ord_unknown")) == 1


def test_compensation_never_cancels_an_order_whose_money_was_received(
    services: Services,
) -> None:
    # GIVEN an order still `received` whose payment has arrived (not yet decided)
    order_id = received(services, (MUG, 1, 4900))
    services.payments.report(a_payment(order_id, 4900), actor="stripe")
    # WHEN a step fails for good and the workflow compensates
    outcome = services.fulfilment.compensate(order_id, "step_failed")
    # THEN the order is not cancelled: a person is asked to ship or refund
    assert outcome == "needs_attention"
    state = services.orders.get(order_id)
    assert state is not None and state.status is OrderStatus.RECEIVED
    assert state.attention == "step_failed_money_received"
    assert EventType.ORDER_NEEDS_ATTENTION in timeline(services, order_id)


def test_a_mismatched_payment_still_keeps_an_expired_order_from_being_cancelled(
    services: Services,
) -> None:
    order_id = awaiting_payment(services)
    services.payments.report(a_payment(order_id, 100), actor="stripe")  # too little
    assert services.fulfilment.compensate(order_id, "payment_timeout") == "needs_attention"
    state = services.orders.get(order_id)
    assert state is not None and state.status is OrderStatus.AWAITING_PAYMENT


def test_a_payment_landing_after_compensation_read_the_order_stops_the_cancel(
    services: Services,
) -> None:
    # GIVEN compensation read the order before the payment's money_received flag was set
    order_id = awaiting_payment(services)
    stale = services.orders.get(order_id)
    assert stale is not None
    services.payments.report(a_payment(order_id, 4900), actor="stripe")
    # WHEN it tries to cancel from that stale read, the write is refused
    with pytest.raises(ConcurrentModification):
        services.fulfilment._cancel(stale, "payment_timeout")
    # THEN compensation, reading again, keeps the paid order going
    assert services.fulfilment.compensate(order_id, "payment_timeout") == "paid"


def test_an_unpaid_order_past_its_window_is_cancelled_with_its_stock_in_one_change(
    services: Services,
) -> None:
    order_id = awaiting_payment(services, units=3)
    version = services.orders.get(order_id).version  # type: ignore[union-attr]

    assert services.fulfilment.compensate(order_id, "payment_timeout") == "cancelled"
    assert services.fulfilment.compensate(order_id, "payment_timeout") == "cancelled"

    state = services.orders.get(order_id)
    assert state is not None and state.status is OrderStatus.CANCELLED
    assert state.version == version + 2 and state.reservations == ()
    level = services.stock.levels(MUG)[0]
    assert (level.on_hand, level.reserved, level.available) == (10, 0, 10)
    assert timeline(services, order_id)[-2:] == [
        EventType.STOCK_RELEASED,
        EventType.ORDER_CANCELLED,
    ]


def test_a_payment_that_beats_the_deadline_carries_the_order_on(services: Services) -> None:
    # Given the window closed while the payment webhook was already paying the order
    order_id = awaiting_payment(services)
    services.payments.report(a_payment(order_id, 4900), actor="stripe")

    outcome = services.fulfilment.compensate(order_id, "payment_timeout")

    assert outcome == "paid"
    assert status_of(services, order_id) is OrderStatus.PAID
    assert services.stock.levels(MUG)[0].reserved == 1  # still held for the customer


def test_a_paid_order_whose_step_failed_is_left_for_a_person_not_cancelled(
    services: Services,
) -> None:
    order_id = awaiting_payment(services)
    services.payments.report(a_payment(order_id, 4900), actor="stripe")

    first = services.fulfilment.compensate(order_id, "step_failed")
    again = services.fulfilment.compensate(order_id, "step_failed")

    assert first == again == "needs_attention"
    assert status_of(services, order_id) is OrderStatus.PAID
    assert timeline(services, order_id).count(EventType.ORDER_NEEDS_ATTENTION) == 1
    assert services.stock.levels(MUG)[0].reserved == 1


def test_a_payment_landing_while_the_wait_is_being_parked_still_resumes_the_workflow(
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the webhook pays the order after await_payment read it but before the token is
    # parked (so the webhook finds no token to resume)
    order_id = awaiting_payment(services)
    park = services.tokens.put

    def webhook_first(*args: Any, **kwargs: Any) -> None:
        services.payments.report(a_payment(order_id, 4900), actor="stripe")
        assert services.workflow.resumed == []
        park(*args, **kwargs)

    monkeypatch.setattr(services.tokens, "put", webhook_first)

    services.fulfilment.await_payment(order_id, "token-1", 3600)

    assert [token for token, _ in services.workflow.resumed] == ["token-1"]


def test_a_newer_parked_token_survives_the_resume_of_an_older_one(services: Services) -> None:
    order_id = awaiting_payment(services)
    services.fulfilment.await_payment(order_id, "token-1", 3600)
    services.tokens.put(order_id, "payment", "token-2", at=utc_now(), ttl=timedelta(hours=1))

    services.tokens.delete(order_id, "payment", "token-1")

    assert services.tokens.get(order_id, "payment") == "token-2"


def test_a_payment_for_a_backordered_order_is_kept_visible(services: Services) -> None:
    stock_up(services, "NOT-STOCKED", 0)
    order_id = received(services, ("NOT-STOCKED", 1, 4900))
    services.fulfilment.reserve_stock(order_id)

    services.payments.report(a_payment(order_id, 4900), actor="stripe")

    assert status_of(services, order_id) is OrderStatus.BACKORDERED
    assert timeline(services, order_id)[-1] is EventType.PAYMENT_RECORDED
    (payment,) = services.records.of_order(order_id)
    assert payment.decision is None  # undecided: it pays the order once stock comes


def test_an_order_too_large_for_one_transaction_is_backordered_with_the_reason(
    services: Services,
) -> None:
    lines = [(f"SKU-{n}", 1, 100) for n in range(60)]
    for sku, _, _ in lines:
        stock_up(services, sku, 5)
    order_id = received(services, *lines)

    assert services.fulfilment.reserve_stock(order_id) == "backordered"
    state = services.orders.get(order_id)
    assert state is not None and "60 stock-holding SKUs" in (state.status_reason or "")


def test_a_transaction_lost_to_another_is_a_retryable_concurrent_modification(
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conflict = ClientError(
        {
            "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
            "CancellationReasons": [{"Code": "TransactionConflict"}, {"Code": "None"}],
        },
        "TransactWriteItems",
    )

    def conflicted(**_: Any) -> None:
        raise conflict

    monkeypatch.setattr(services.table.client, "transact_write_items", conflicted)
    with pytest.raises(ConcurrentModification):
        services.table.transact([{"ConditionCheck": {}}])


def test_ready_to_ship_only_from_paid(services: Services) -> None:
    order_id = awaiting_payment(services)
    with pytest.raises(InvalidTransition):
        services.fulfilment.mark_ready_to_ship(order_id)

    services.payments.report(a_payment(order_id, 4900), actor="stripe")
    assert services.fulfilment.mark_ready_to_ship(order_id) == "ready_to_ship"
    assert services.fulfilment.mark_ready_to_ship(order_id) == "ready_to_ship"
