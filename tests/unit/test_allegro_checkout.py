"""Allegro: the stored journal item ({"event", "checkoutForm"}) -> canonical order, by the form's
status; the reference checkout form (Allegro's swagger example) mapped field by field."""

from __future__ import annotations

import contextlib
import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.inbox.contract import Headers, MalformedWebhook, ParsedWebhook, WebhookRequest
from shared.kernel.money import Money
from shared.orders.domain import (
    Address,
    ChannelStatus,
    Order,
    PaymentMethod,
    PickupPoint,
)
from shared.orders.inbound import OrderReported
from shared.providers.channels.allegro.checkout import epoch_ms
from shared.providers.channels.allegro.journal import AllegroOrderJournal

FIXTURES = Path(__file__).parents[1] / "fixtures" / "allegro"
ADAPTER = AllegroOrderJournal()


def pln(amount: int) -> Money:
    return Money(amount=amount, currency="PLN")


@pytest.fixture
def form() -> dict[str, Any]:
    """GET /order/checkout-forms/{id} 200 example from Allegro's swagger (an older revision)."""
    document: dict[str, Any] = json.loads(
        (FIXTURES / "checkout_form_swagger_example_old.json").read_text()
    )
    return document


def an_event(
    form_id: str, kind: str = "READY_FOR_PROCESSING", event_id: str = "1532603898317497"
) -> dict[str, Any]:
    return {
        "id": event_id,
        "order": {
            "seller": {"id": "44470112"},
            "checkoutForm": {"id": form_id, "revision": "819b5836"},
        },
        "type": kind,
        "occurredAt": "2018-10-12T10:12:32.321Z",
    }


def stored(form: dict[str, Any] | None, event: dict[str, Any] | None = None) -> WebhookRequest:
    """The item as the poller stores it."""
    event = event or an_event(form["id"] if form else "29738e61-7f6a-11e8-ac45-09db60ede9d6")
    body = json.dumps({"event": event, "checkoutForm": form}).encode()
    return WebhookRequest(Headers({}), body, received_at=datetime.now(UTC))


def parsed(form: dict[str, Any], **event: Any) -> ParsedWebhook:
    return ADAPTER.parse(stored(form, an_event(form["id"], **event) if event else None))


def order_of(form: dict[str, Any]) -> Order:
    event = parsed(form).event
    assert isinstance(event, OrderReported)
    return event.order


# -- the reference form -------------------------------------------------------------------------


def test_the_reference_form_maps_to_an_order(form: dict[str, Any]) -> None:
    # Given Allegro's example form (READY_FOR_PROCESSING, cash on delivery, an InPost locker)
    # When the stored item is parsed
    result = parsed(form)
    order = result.event.order if isinstance(result.event, OrderReported) else None
    # Then it is an order under the event's id, revised at updatedAt
    assert result.event_id == "1532603898317497"
    assert result.topic == "READY_FOR_PROCESSING"
    assert order is not None
    assert order.channel == "allegro"
    assert order.external_id == "29738e61-7f6a-11e8-ac45-09db60ede9d6"
    assert order.revision == epoch_ms(datetime(2011, 12, 3, 10, 15, 30, 133000, tzinfo=UTC))
    assert order.channel_refs == {
        "revision": "819b5836",
        "buyer_login": "User_Login",
        "marketplace_id": "allegro-pl",
    }
    assert order.placed_at == datetime(2018, 1, 1, 10, 23, 43, 123000, tzinfo=UTC)
    assert order.prices_include_vat is True
    assert order.channel_status is ChannelStatus.OPEN
    assert order.note == "Please send me an item in red color"


def test_the_reference_lines_name_the_offer_the_seller_sku_and_the_line(
    form: dict[str, Any],
) -> None:
    (line,) = order_of(form).lines
    assert line.listing_id == "3213213"
    assert line.sku == "AH-129834"
    assert line.channel_line_id == "62ae358b-8f65-4fc4-9c77-bedf604a2e2b"
    assert line.name == "Name of purchased offer"
    assert line.quantity == 1
    assert line.unit_price == pln(12345)
    assert line.vat_rate == Decimal(23)  # the example has no lineItems[].tax


def test_the_reference_totals_are_allegros_figures(form: dict[str, Any]) -> None:
    totals = order_of(form).totals
    assert totals.items == pln(12345)
    assert totals.shipping == pln(12445)  # delivery.cost
    assert totals.total == pln(12445)  # summary.totalToPay, authoritative
    assert totals.tax == pln(2308)  # 123.45 * 23 / 123


def test_the_reference_buyer_delivery_payment_and_invoice(form: dict[str, Any]) -> None:
    order = order_of(form)
    assert order.buyer.name == "Jan Kowalski"
    assert order.buyer.email == "user-email@allegro.pl"
    assert order.buyer.phone == "555-444-555"
    assert order.buyer.company == "Evil Corp"
    assert order.buyer.tax_id == "1234"
    assert order.delivery == PickupPoint(
        carrier="inpost", point_id="POZ08A", name="Paczkomat POZ08A", phone="555-444-555"
    )
    # CASH_ON_DELIVERY: the buyer pays the courier, Allegro collected nothing
    assert order.payment_method is PaymentMethod.CASH_ON_DELIVERY
    assert order.channel_payment is None
    assert order.invoice_requested is True
    assert order.billing_address == Address(
        name="Jan Kowalski",
        company="Udix Sp. z o.o.",
        line1="Grunwaldzka 182",
        postal_code="60-166",
        city="Poznań",
        country_code="PL",
    )


# -- variants -------------------------------------------------------------------------------------


def test_an_online_payment_allegro_collected_is_a_channel_payment(form: dict[str, Any]) -> None:
    form["payment"]["type"] = "ONLINE"
    order = order_of(form)
    assert order.payment_method is PaymentMethod.PREPAID
    assert order.channel_payment is not None
    assert order.channel_payment.provider == "allegro"
    assert order.channel_payment.payment_id == "0f8f1d13-7e9e-11e8-9b00-c5b0dfb78ea6"
    assert order.channel_payment.amount == pln(12345)


def test_a_courier_delivery_is_the_address(form: dict[str, Any]) -> None:
    del form["delivery"]["pickupPoint"]
    form["delivery"]["method"]["name"] = "Allegro Kurier DPD"
    assert order_of(form).delivery == Address(
        name="Jan Kowalski",
        company="Evil Corp",
        line1="Grunwaldzka 182",
        postal_code="60-166",
        city="Poznań",
        country_code="PL",
        phone="555-444-555",
    )


def test_a_pickup_point_of_another_carrier_is_named_by_the_method(form: dict[str, Any]) -> None:
    form["delivery"]["method"]["name"] = "Allegro One Box, DPD"
    delivery = order_of(form).delivery
    assert isinstance(delivery, PickupPoint)
    assert delivery.carrier == "allegro one box, dpd"


def test_a_line_tax_rate_is_used_when_allegro_states_it(form: dict[str, Any]) -> None:
    form["lineItems"][0]["tax"] = {"rate": "8.00", "subject": "GOODS"}
    assert order_of(form).lines[0].vat_rate == Decimal(8)


def test_no_invoice_asked_means_no_tax_id_or_billing_address(form: dict[str, Any]) -> None:
    form["invoice"]["required"] = False
    order = order_of(form)
    assert order.invoice_requested is False
    assert order.buyer.tax_id is None
    assert order.billing_address is None


@pytest.mark.parametrize("kind", ["BUYER_CANCELLED", "AUTO_CANCELLED"])
def test_a_cancelled_form_is_the_order_cancelled(form: dict[str, Any], kind: str) -> None:
    # Given the buyer (or Allegro) cancelled: the form is CANCELLED, with a later updatedAt
    form["status"] = "CANCELLED"
    form["updatedAt"] = "2011-12-04T08:00:00.000Z"
    result = parsed(form, kind=kind)
    assert isinstance(result.event, OrderReported)
    assert result.topic == kind
    assert result.event.order.channel_status is ChannelStatus.CANCELLED
    reference = json.loads((FIXTURES / "checkout_form_swagger_example_old.json").read_text())
    assert result.event.order.revision > order_of(reference).revision


def test_a_fulfilment_cancelled_in_the_sellers_panel_cancels_the_order(
    form: dict[str, Any],
) -> None:
    form["fulfillment"]["status"] = "CANCELLED"
    assert order_of(form).channel_status is ChannelStatus.CANCELLED


@pytest.mark.parametrize(
    ("status", "reason"),
    [("BOUGHT", "not filled in"), ("FILLED_IN", "not paid")],
)
def test_a_form_not_ready_yet_is_ignored_with_the_reason(
    form: dict[str, Any], status: str, reason: str
) -> None:
    # Given a READY event polled while the form said otherwise, or an early event
    form["status"] = status
    result = parsed(form, kind="BOUGHT")
    assert result.event is None
    assert result.ignored_reason is not None
    assert reason in result.ignored_reason
    assert status in result.ignored_reason


def test_the_state_comes_from_the_form_not_the_event_type(form: dict[str, Any]) -> None:
    # An old BOUGHT event replayed after the form became READY maps to the same order and
    # revision as the READY event: intake sees the revision it has and ignores it.
    bought = parsed(form, kind="BOUGHT", event_id="1001")
    ready = parsed(form, kind="READY_FOR_PROCESSING", event_id="1003")
    assert isinstance(bought.event, OrderReported)
    assert isinstance(ready.event, OrderReported)
    assert bought.event_id != ready.event_id
    assert bought.event.order == ready.event.order


def test_a_form_that_could_not_be_read_is_ignored(form: dict[str, Any]) -> None:
    result = ADAPTER.parse(stored(None, an_event(form["id"])))
    assert result.event is None
    assert result.ignored_reason is not None
    assert "404" in result.ignored_reason


def test_a_form_other_than_the_events_is_malformed(form: dict[str, Any]) -> None:
    with pytest.raises(MalformedWebhook, match="names checkout form"):
        ADAPTER.parse(stored(form, an_event("another-form")))


@pytest.mark.parametrize(
    "spoil",
    [
        lambda f: f.pop("updatedAt"),
        lambda f: f.pop("summary"),
        lambda f: f.update(lineItems=[]),
        lambda f: f["lineItems"][0].update(quantity=0),
        lambda f: f["lineItems"][0]["price"].update(amount="12.345"),
        lambda f: f["lineItems"][0]["price"].update(currency="EUR"),
        lambda f: f["lineItems"][0].update(tax={"rate": "230"}),
        lambda f: f["lineItems"][0].update(tax={"rate": "NaN"}),
        lambda f: f["summary"]["totalToPay"].update(amount="1e999999"),
    ],
)
def test_a_form_that_is_no_valid_order_is_malformed(form: dict[str, Any], spoil: Any) -> None:
    spoil(form)
    with pytest.raises(MalformedWebhook):
        ADAPTER.parse(stored(form))


def test_parse_is_pure_and_repeatable(form: dict[str, Any]) -> None:
    request = stored(copy.deepcopy(form))
    assert ADAPTER.parse(request) == ADAPTER.parse(request)


# -- hostile bodies ------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


def _parse_or_malformed(body: bytes) -> None:
    with contextlib.suppress(MalformedWebhook):
        ADAPTER.parse(WebhookRequest(Headers({}), body, received_at=datetime.now(UTC)))


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_hostile_bytes_are_malformed_or_parsed(body: bytes) -> None:
    _parse_or_malformed(body)


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_hostile_json_is_malformed_or_parsed(document: Any) -> None:
    _parse_or_malformed(json.dumps(document).encode())


# A real form with one field replaced by anything: the paths a mapping bug hides in.
FIELD_PATHS = [
    ("status",),
    ("updatedAt",),
    ("revision",),
    ("buyer",),
    ("buyer", "email"),
    ("payment", "type"),
    ("payment", "paidAmount"),
    ("payment", "paidAmount", "amount"),
    ("delivery", "pickupPoint"),
    ("delivery", "pickupPoint", "id"),
    ("delivery", "address", "countryCode"),
    ("delivery", "cost"),
    ("delivery", "method"),
    ("invoice",),
    ("invoice", "required"),
    ("invoice", "address", "company"),
    ("lineItems",),
    ("lineItems", 0, "quantity"),
    ("lineItems", 0, "price", "amount"),
    ("lineItems", 0, "price", "currency"),
    ("lineItems", 0, "offer", "external"),
    ("lineItems", 0, "offer", "external", "id"),
    ("lineItems", 0, "boughtAt"),
    ("lineItems", 0, "tax"),
    ("summary", "totalToPay", "amount"),
    ("fulfillment",),
    ("messageToSeller",),
]


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(path=st.sampled_from(FIELD_PATHS), value=json_values)
def test_a_form_with_any_field_replaced_is_malformed_or_an_order(
    form: dict[str, Any], path: tuple[Any, ...], value: Any
) -> None:
    document = copy.deepcopy(form)
    target: Any = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    body = json.dumps({"event": an_event(form["id"]), "checkoutForm": document}).encode()
    _parse_or_malformed(body)
