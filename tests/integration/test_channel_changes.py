"""A channel's later revisions, cancellations and shipments against moto: what each changes of
the order, its stock and its workflow, and what is refused as a visible conflict."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shared.channels.listings import ListingRepository
from shared.channels.push import ShipmentPush
from shared.kernel.events import EventType
from shared.orders.domain import Address, ChannelStatus, Order, OrderStatus, PaymentMethod
from shared.platform.clock import utc_now
from shared.shipping.events import ShippedLine
from shared.shipping.notify_channel import ChannelNotifier, Pacer
from shared.shipping.shipments import NotShippable, ShipmentRecords, ShipmentRequest, Shipments
from tests.builders import a_payment, an_order
from tests.integration.conftest import Services

MUG, TEE = "MUG-KRAKOW-350", "TEE-ORGANIC-M"


def stock_up(services: Services, sku: str, units: int) -> None:
    services.stock.set_on_hand(sku, "WAW-1", units, at=utc_now())


def reserved(services: Services, sku: str) -> int:
    return sum(level.reserved for level in services.stock.levels(sku))


def on_hand(services: Services, sku: str) -> int:
    return sum(level.on_hand for level in services.stock.levels(sku))


def revision(order: Order, step: int, **changes: Any) -> Order:
    return order.model_copy(update={"revision": order.revision + step, **changes})


def events(services: Services, order_id: str) -> list[EventType]:
    items = services.orders.partition(order_id)
    return [
        EventType(i["event_type"])
        for i in sorted(items, key=lambda i: i["SK"])
        if i["SK"].startswith("EVENT#")
    ]


def cod_order(*lines: tuple[str | None, int, int]) -> Order:
    return an_order(*lines, payment_method=PaymentMethod.CASH_ON_DELIVERY)


def receive(services: Services, order: Order) -> str:
    return services.intake.receive(order, actor="test", event_id=f"ev-{order.revision}")


def ready(services: Services, order: Order) -> str:
    order_id = receive(services, order)
    assert services.fulfilment.reserve_stock(order_id) == "ready_to_ship"
    return order_id


NEW_ADDRESS = Address(line1="ul. Nowa 5", city="Gdańsk", country_code="PL", postal_code="80-001")


def test_a_newer_revision_applies_and_an_older_one_changes_nothing(services: Services) -> None:
    stock_up(services, MUG, 5)
    first = cod_order((MUG, 1, 4900))
    order_id = ready(services, first)
    newer = revision(first, 10, delivery=NEW_ADDRESS)

    receive(services, newer)
    receive(services, revision(first, 5))  # older than the applied one: stale
    receive(services, newer)  # the same again: nothing

    details = services.orders.details(order_id)
    assert details is not None and details.delivery == NEW_ADDRESS
    assert events(services, order_id).count(EventType.ORDER_UPDATED) == 1
    state = services.orders.get(order_id)
    assert state is not None and state.revision == newer.revision


def test_a_line_change_moves_the_reservations_with_it(services: Services) -> None:
    stock_up(services, MUG, 5)
    stock_up(services, TEE, 5)
    first = cod_order((MUG, 1, 4900), (TEE, 1, 8900))
    order_id = ready(services, first)
    assert (reserved(services, MUG), reserved(services, TEE)) == (1, 1)
    # The buyer takes three mugs and no tee, then a poster joins (another SKU).
    stock_up(services, "POSTER-A2-TATRY", 2)
    changed = revision(
        an_order(
            (MUG, 3, 4900),
            ("POSTER-A2-TATRY", 1, 3900),
            external_id=first.external_id,
            payment_method=PaymentMethod.CASH_ON_DELIVERY,
        ),
        5,
    )
    receive(services, changed)

    assert (reserved(services, MUG), reserved(services, TEE)) == (3, 0)
    assert reserved(services, "POSTER-A2-TATRY") == 1
    state = services.orders.get(order_id)
    assert state is not None
    assert {(a.sku, a.quantity) for a in state.reservations} == {
        (MUG, 3),
        ("POSTER-A2-TATRY", 1),
    }
    assert state.total.amount == 3 * 4900 + 3900


def test_a_line_change_the_stock_cannot_cover_is_a_conflict_and_changes_nothing(
    services: Services,
) -> None:
    stock_up(services, MUG, 2)
    first = cod_order((MUG, 1, 4900))
    order_id = ready(services, first)
    more = revision(
        an_order(
            (MUG, 5, 4900),
            external_id=first.external_id,
            payment_method=PaymentMethod.CASH_ON_DELIVERY,
        ),
        5,
    )
    receive(services, more)

    assert reserved(services, MUG) == 1
    state = services.orders.get(order_id)
    assert state is not None and state.attention is not None
    assert state.attention.startswith("channel_change_conflict")
    details = services.orders.details(order_id)
    assert details is not None and details.lines[0].quantity == 1
    assert events(services, order_id)[-1] is EventType.ORDER_CHANGE_CONFLICT


def test_a_cancellation_gives_the_stock_back_and_wakes_the_waiting_workflow(
    services: Services,
) -> None:
    stock_up(services, MUG, 5)
    first = an_order((MUG, 2, 4900))
    order_id = receive(services, first)
    assert services.fulfilment.reserve_stock(order_id) == "awaiting_payment"
    services.fulfilment.await_payment(order_id, "token-1", 3600)
    assert reserved(services, MUG) == 2

    receive(services, revision(first, 3, channel_status=ChannelStatus.CANCELLED))
    receive(services, revision(first, 3, channel_status=ChannelStatus.CANCELLED))  # again

    state = services.orders.get(order_id)
    assert state is not None and state.status is OrderStatus.CANCELLED
    assert state.status_reason == "cancelled_on_channel"
    assert reserved(services, MUG) == 0
    assert services.workflow.resumed_tokens() == ["token-1"]
    assert services.fulfilment.mark_ready_to_ship(order_id) == "cancelled"
    assert events(services, order_id).count(EventType.ORDER_CANCELLED) == 1


def test_a_cancellation_seen_before_the_order_keeps_it_cancelled(services: Services) -> None:
    stock_up(services, MUG, 5)
    first = cod_order((MUG, 1, 4900))
    order_id = receive(services, revision(first, 9, channel_status=ChannelStatus.CANCELLED))
    receive(services, first)  # the creation, late

    state = services.orders.get(order_id)
    assert state is not None and state.status is OrderStatus.CANCELLED
    assert order_id not in services.workflow.started
    assert reserved(services, MUG) == 0


def test_shipping_takes_the_units_out_and_a_later_change_is_a_conflict(
    services: Services,
) -> None:
    stock_up(services, MUG, 5)
    first = cod_order((MUG, 2, 4900))
    order_id = ready(services, first)
    shipments = Shipments(services.orders, services.stock, ShipmentRecords(services.table))

    part, created = shipments.record(
        order_id,
        ShipmentRequest(
            carrier="inpost",
            tracking_number="TRK-1",
            lines=[ShippedLine(line_no=1, quantity=1)],
        ),
        actor="test",
    )
    assert created and not part.complete
    again, created_again = shipments.record(
        order_id, ShipmentRequest(carrier="inpost", tracking_number="TRK-1"), actor="test"
    )
    assert again.shipment_id == part.shipment_id and not created_again
    rest, _ = shipments.record(
        order_id, ShipmentRequest(carrier="inpost", tracking_number="TRK-2"), actor="test"
    )
    assert rest.complete
    assert (on_hand(services, MUG), reserved(services, MUG)) == (3, 0)
    state = services.orders.get(order_id)
    assert state is not None and state.status is OrderStatus.SHIPPED
    assert state.reservations == ()
    with pytest.raises(NotShippable):
        shipments.record(
            order_id, ShipmentRequest(carrier="inpost", tracking_number="TRK-3"), actor="test"
        )

    receive(services, revision(first, 4, delivery=NEW_ADDRESS))
    receive(services, revision(first, 6, channel_status=ChannelStatus.CANCELLED))
    state = services.orders.get(order_id)
    assert state is not None and state.status is OrderStatus.SHIPPED
    assert events(services, order_id).count(EventType.ORDER_CHANGE_CONFLICT) == 2


def test_a_held_or_unpaid_order_does_not_ship(services: Services) -> None:
    stock_up(services, MUG, 5)
    shipments = Shipments(services.orders, services.stock, ShipmentRecords(services.table))
    unpaid = receive(services, an_order((MUG, 1, 4900)))
    services.fulfilment.reserve_stock(unpaid)
    held = receive(services, cod_order(("NOT-A-SKU-WE-KNOW", 1, 100)))
    for order_id in (unpaid, held):
        with pytest.raises(NotShippable):
            shipments.record(
                order_id, ShipmentRequest(carrier="dpd", tracking_number="X1"), actor="test"
            )


class ChannelThatRemembers:
    """A channel client as the real ones behave: a tracking number it has is not created
    again. `crash_after` makes orderhub's own record fail right after the channel's call."""

    def __init__(self) -> None:
        self.created: list[str] = []
        self.calls = 0

    def push_shipment(self, push: ShipmentPush) -> str:
        self.calls += 1
        if push.tracking_number not in self.created:
            self.created.append(push.tracking_number)
        return f"ful-{self.created.index(push.tracking_number)}"


def test_a_push_that_crashes_after_the_channel_call_is_retried_and_told_once(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    stock_up(services, MUG, 5)
    order_id = ready(services, cod_order((MUG, 1, 4900)))
    records = ShipmentRecords(services.table)
    shipment, _ = Shipments(services.orders, services.stock, records).record(
        order_id, ShipmentRequest(carrier="inpost", tracking_number="TRK-9"), actor="test"
    )
    channel = ChannelThatRemembers()
    notifier = ChannelNotifier(
        orders=services.orders,
        shipments=records,
        client_for=lambda _: channel,
        pacer=Pacer(sleep=lambda _: None),
    )
    original = notifier._record

    def crash(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("the function died right after the channel answered")

    monkeypatch.setattr(notifier, "_record", crash)
    with pytest.raises(ConnectionError):
        notifier.notify(order_id, shipment.shipment_id)
    monkeypatch.setattr(notifier, "_record", original)
    assert notifier.notify(order_id, shipment.shipment_id) == "ful-0"  # the SQS retry
    assert notifier.notify(order_id, shipment.shipment_id) == "ful-0"  # a duplicate message

    assert channel.created == ["TRK-9"]
    assert channel.calls == 2  # the third delivery found it told and called nobody
    assert events(services, order_id).count(EventType.CHANNEL_NOTIFIED) == 1
    stored = records.get(order_id, shipment.shipment_id)
    assert stored is not None and stored.channel_reference == "ful-0"


def test_a_pacer_spaces_calls_per_channel() -> None:
    slept: list[float] = []
    pacer = Pacer(sleep=slept.append)
    pacer.wait("shopify")
    pacer.wait("shopify")
    pacer.wait("amazon")
    assert len(slept) == 1 and timedelta(0) < timedelta(seconds=slept[0]) <= timedelta(seconds=0.5)


# -- found by review ------------------------------------------------------------------------------
def shipments_of(services: Services) -> Shipments:
    return Shipments(services.orders, services.stock, ShipmentRecords(services.table))


def test_after_a_partial_shipment_lines_and_cancellations_are_conflicts(
    services: Services,
) -> None:
    stock_up(services, MUG, 5)
    first = cod_order((MUG, 2, 4900))
    order_id = ready(services, first)
    shipments_of(services).record(
        order_id,
        ShipmentRequest(
            carrier="inpost", tracking_number="PART-1", lines=[ShippedLine(line_no=1, quantity=1)]
        ),
        actor="test",
    )
    repriced = revision(
        an_order(
            (MUG, 2, 3900),
            external_id=first.external_id,
            payment_method=PaymentMethod.CASH_ON_DELIVERY,
        ),
        3,
    )
    receive(services, repriced)
    receive(services, revision(first, 5, channel_status=ChannelStatus.CANCELLED))

    assert reserved(services, MUG) == 1  # the unit still to ship, nothing re-reserved
    state = services.orders.get(order_id)
    assert state is not None and state.status is OrderStatus.READY_TO_SHIP
    assert events(services, order_id).count(EventType.ORDER_CHANGE_CONFLICT) == 2


def test_a_change_that_leaves_the_lines_keeps_their_skus(services: Services) -> None:
    stock_up(services, MUG, 5)
    listings = ListingRepository(services.table)
    listings.map("shopify", "CHAN-42", MUG, at=utc_now())
    first = cod_order(("CHAN-42", 1, 4900))
    order_id = ready(services, first)
    listings.unmap("shopify", "CHAN-42")  # remapped or removed later: received orders keep theirs

    receive(services, revision(first, 2, note="ring twice"))

    details = services.orders.details(order_id)
    assert details is not None and details.lines[0].sku == MUG and details.note == "ring twice"
    shipments_of(services).record(
        order_id, ShipmentRequest(carrier="inpost", tracking_number="KEEP-1"), actor="test"
    )
    assert (on_hand(services, MUG), reserved(services, MUG)) == (4, 0)


def test_an_older_cancellation_leaves_a_newer_revision_open(services: Services) -> None:
    stock_up(services, MUG, 5)
    first = cod_order((MUG, 1, 4900))
    order_id = ready(services, first)
    receive(services, revision(first, 10, note="newer"))
    receive(services, revision(first, 5, channel_status=ChannelStatus.CANCELLED))
    state = services.orders.get(order_id)
    assert state is not None and state.status is OrderStatus.READY_TO_SHIP


class RefundsThatFailOnce:
    """The refunds service as the cancellation sees it: the first call fails after the cancel
    committed (a provider outage), as the stream's retry then meets it."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def request(self, order_id: str, **asked: Any) -> None:
        self.calls.append(asked)
        if len(self.calls) == 1:
            raise ConnectionError("the refunds path failed after the cancellation committed")


def test_a_refund_that_failed_after_the_cancellation_is_asked_again_on_redelivery(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    stock_up(services, MUG, 5)
    first = an_order((MUG, 1, 4900))
    order_id = receive(services, first)
    services.fulfilment.reserve_stock(order_id)
    services.payments.report(
        a_payment(order_id, 4900), actor="stripe webhook"
    )  # paid through Stripe: refunded through it
    changes = services.intake.changes
    assert changes is not None
    refunds = RefundsThatFailOnce()
    monkeypatch.setattr(changes, "refunds", refunds)
    cancelled = revision(first, 3, channel_status=ChannelStatus.CANCELLED)

    with pytest.raises(ConnectionError):
        receive(services, cancelled)
    receive(services, cancelled)  # the stream's retry of the same delivery

    assert [call["idempotency_key"] for call in refunds.calls] == ["cancelled_on_channel"] * 2
    assert refunds.calls[1]["amount"] == 4900
    state = services.orders.get(order_id)
    assert state is not None and state.status is OrderStatus.CANCELLED


def test_a_shipment_names_at_least_one_line() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ShipmentRequest(carrier="inpost", tracking_number="EMPTY", lines=[])
