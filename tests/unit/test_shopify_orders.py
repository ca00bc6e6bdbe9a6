"""Shopify orders/create, orders/updated, orders/cancelled -> OrderReported: the listing and line
ids, cancellation read from the signed body, B2B tax ids and InPost lockers from checkout
attributes, the revision that orders deliveries, and hostile bodies (MalformedWebhook only)."""

from __future__ import annotations

import contextlib
import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.inbox.contract import Headers, MalformedWebhook, ParsedWebhook, WebhookRequest
from shared.inbox.events import OrderReported
from shared.orders.domain import Address, ChannelStatus, Order, PickupPoint
from shared.providers.channels.shopify.simulator import ShopifySimulator
from shared.providers.channels.shopify.webhook import ShopifyWebhooks
from shared.providers.simulation import Line

ADAPTER = ShopifyWebhooks()
ORDER_TOPICS = ["orders/create", "orders/updated", "orders/cancelled"]


def delivery(
    document: Any, topic: str = "orders/updated", webhook_id: str = "wh-1"
) -> WebhookRequest:
    headers = {"X-Shopify-Topic": topic, "X-Shopify-Webhook-Id": webhook_id}
    raw = document if isinstance(document, bytes) else json.dumps(document).encode()
    return WebhookRequest(headers=Headers(headers), raw_body=raw, received_at=datetime.now(UTC))


def parse(document: Any, topic: str = "orders/updated") -> ParsedWebhook:
    return ADAPTER.parse(delivery(document, topic))


def reported(document: Any, topic: str = "orders/updated") -> Order:
    event = parse(document, topic).event
    assert isinstance(event, OrderReported)
    return event.order


def with_attributes(order: dict[str, Any], **attributes: str) -> dict[str, Any]:
    document = copy.deepcopy(order)
    document["note_attributes"] = [{"name": k, "value": v} for k, v in attributes.items()]
    return document


@pytest.fixture
def shop() -> ShopifySimulator:
    return ShopifySimulator("secret")


# -- lines: listing, line id and SKU ------------------------------------------------------------


def test_lines_name_the_variant_the_line_item_and_the_seller_sku(
    shopify_order: dict[str, Any],
) -> None:
    order = reported(shopify_order, "orders/create")
    first = order.lines[0]
    # The fixture's first line: id 466157049, variant 39072856, SKU IPOD2008GREEN
    assert (first.listing_id, first.channel_line_id, first.sku) == (
        "39072856",
        "466157049",
        "IPOD2008GREEN",
    )
    assert [line.channel_line_id for line in order.lines] == [
        str(item["id"]) for item in shopify_order["line_items"]
    ]


def test_a_product_without_variants_is_listed_by_its_product_id(
    shopify_order: dict[str, Any],
) -> None:
    document = copy.deepcopy(shopify_order)
    document["line_items"][0]["variant_id"] = None
    assert reported(document).lines[0].listing_id == str(document["line_items"][0]["product_id"])


def test_a_line_with_no_variant_product_or_sku_holds_no_stock(
    shopify_order: dict[str, Any],
) -> None:
    # Given a tip: a custom line with neither product nor variant nor SKU
    document = copy.deepcopy(shopify_order)
    document["line_items"][2].update(variant_id=None, product_id=None, sku="")
    line = reported(document).lines[2]
    assert (line.sku, line.listing_id) == (None, None)
    assert line.channel_line_id == str(document["line_items"][2]["id"])
    assert "IPOD2008BLACK" not in reported(document).stock_demand()


# -- cancellation comes from the signed body ----------------------------------------------------


@pytest.mark.parametrize("topic", ORDER_TOPICS)
def test_an_order_with_cancelled_at_is_cancelled_whatever_the_topic(
    shopify_order: dict[str, Any], topic: str
) -> None:
    document = {
        **shopify_order,
        "cancelled_at": "2008-01-10T12:00:00-05:00",
        "cancel_reason": "customer",
    }
    assert reported(document, topic).channel_status is ChannelStatus.CANCELLED


def test_a_body_relabelled_orders_cancelled_without_cancelled_at_stays_open(
    shopify_order: dict[str, Any],
) -> None:
    # Given a captured, signed orders/updated resent with the unsigned topic orders/cancelled
    parsed = parse({**shopify_order, "cancelled_at": None}, "orders/cancelled")
    # Then the order is reported as the body says: open
    assert isinstance(parsed.event, OrderReported)
    assert parsed.event.order.channel_status is ChannelStatus.OPEN


def test_the_simulators_cancelled_body_cancels(shop: ShopifySimulator) -> None:
    placed = shop.order(5001, [Line("MUG-1", "Mug", 1, "49.00")])
    cancelled = shop.cancelled(placed, reason="inventory")
    order = reported(shop_body(shop, "orders/cancelled", cancelled), "orders/cancelled")
    assert order.channel_status is ChannelStatus.CANCELLED
    assert order.revision > reported(placed, "orders/create").revision


def shop_body(shop: ShopifySimulator, topic: str, resource: dict[str, Any]) -> bytes:
    return shop.webhook(topic, resource).body


# -- revision -----------------------------------------------------------------------------------


def test_the_revision_is_updated_at_in_epoch_milliseconds(shopify_order: dict[str, Any]) -> None:
    document = {**shopify_order, "updated_at": "2008-01-10T11:00:01.250-05:00"}
    expected = datetime.fromisoformat("2008-01-10T11:00:01.250-05:00").timestamp() * 1000
    assert reported(document).revision == int(expected)


def test_a_later_update_outranks_an_earlier_one_however_they_arrive(
    shop: ShopifySimulator,
) -> None:
    # Given an order, an edit of it, and then its cancellation
    placed = shop.order(5002, [Line("MUG-1", "Mug", 1, "49.00")])
    edited = shop.updated(placed, note="leave at the door")
    cancelled = shop.cancelled(edited)
    # When the deliveries arrive newest first (Shopify does not order them)
    revisions = [
        reported(body, topic).revision
        for topic, body in [
            ("orders/cancelled", cancelled),
            ("orders/updated", edited),
            ("orders/create", placed),
        ]
    ]
    # Then the revisions still rank them as they happened
    assert revisions[0] > revisions[1] > revisions[2]
    assert reported(edited).note == "leave at the door"


def test_the_unsigned_triggered_at_header_does_not_change_the_revision(
    shopify_order: dict[str, Any],
) -> None:
    request = delivery(shopify_order)
    later = WebhookRequest(
        headers=Headers(
            {**dict(request.headers.items()), "X-Shopify-Triggered-At": "2099-01-01T00:00:00Z"}
        ),
        raw_body=request.raw_body,
        received_at=request.received_at,
    )
    parsed = ADAPTER.parse(later)
    assert isinstance(parsed.event, OrderReported)
    assert parsed.event.order.revision == reported(shopify_order).revision
    assert parsed.audit_headers["X-Shopify-Triggered-At"] == "2099-01-01T00:00:00Z"  # kept


def test_a_cancel_never_ranks_below_the_revision_it_cancels(
    shopify_order: dict[str, Any],
) -> None:
    # A body whose cancelled_at is later than its updated_at still ranks at the cancel
    document = {
        **shopify_order,
        "updated_at": "2008-01-10T11:00:00-05:00",
        "cancelled_at": "2008-01-10T11:30:00-05:00",
    }
    expected = datetime.fromisoformat("2008-01-10T11:30:00-05:00").timestamp() * 1000
    assert reported(document).revision == int(expected)


# -- orders/edited ------------------------------------------------------------------------------


def test_orders_edited_is_ignored_with_a_reason() -> None:
    body = {"order_edit": {"id": 78912328, "order_id": 450789469, "line_items": {}}}
    parsed = parse(body, "orders/edited")
    assert parsed.event is None
    assert parsed.ignored_reason is not None and "orders/updated" in parsed.ignored_reason


# -- channel refs -------------------------------------------------------------------------------


def test_the_graphql_id_is_kept_for_the_fulfilment_client(shopify_order: dict[str, Any]) -> None:
    document = {**shopify_order, "admin_graphql_api_id": "gid://shopify/Order/450789469"}
    assert reported(document).channel_refs == {
        "admin_graphql_api_id": "gid://shopify/Order/450789469"
    }


@pytest.mark.parametrize("value", [None, "", "gid://shopify/Product/1", "x" * 600])
def test_an_odd_graphql_id_is_left_out(shopify_order: dict[str, Any], value: str | None) -> None:
    assert reported({**shopify_order, "admin_graphql_api_id": value}).channel_refs == {}


# -- B2B: the tax id from checkout attributes ---------------------------------------------------


@pytest.mark.parametrize("name", ["NIP", "nip", "VAT", "vat_id", "VAT number", "Tax-ID", "tax_id"])
def test_a_tax_id_attribute_requests_an_invoice(shopify_order: dict[str, Any], name: str) -> None:
    document = with_attributes(shopify_order, **{name: "PL 525-000-00-00"})
    document["billing_address"]["company"] = "Acme Sp. z o.o."
    order = reported(document)
    assert order.buyer.tax_id == "PL5250000000"
    assert order.buyer.company == "Acme Sp. z o.o."
    assert order.invoice_requested is True
    assert order.billing_address == Address(
        name="Bob Norman",
        company="Acme Sp. z o.o.",
        line1="Chestnut Street 92",
        postal_code="40202",
        city="Louisville",
        region="KY",
        country_code="US",
        phone="555-625-1199",
    )


def test_without_a_tax_id_no_invoice_is_requested(shopify_order: dict[str, Any]) -> None:
    # The fixture's attributes are an engraving and a colour
    order = reported(shopify_order)
    assert (order.buyer.tax_id, order.invoice_requested, order.billing_address) == (
        None,
        False,
        None,
    )


@pytest.mark.parametrize("value", ["brak", "-", "   ", "12", "x" * 40, "PL\u00a0\u0007"])
def test_text_that_is_no_tax_id_requests_nothing(shopify_order: dict[str, Any], value: str) -> None:
    order = reported(with_attributes(shopify_order, nip=value))
    assert (order.buyer.tax_id, order.invoice_requested) == (None, False)


def test_the_company_of_the_shipping_address_names_the_buyer_when_billing_has_none(
    shopify_order: dict[str, Any],
) -> None:
    document = with_attributes(shopify_order, nip="5250000000")
    document["shipping_address"]["company"] = "Acme"
    assert reported(document).buyer.company == "Acme"


def test_non_text_attribute_values_do_not_break_the_order(shopify_order: dict[str, Any]) -> None:
    document = copy.deepcopy(shopify_order)
    document["note_attributes"] = [
        {"name": "nip", "value": 5250000000},
        {"name": "gift", "value": {"wrap": True}},
        {"name": None, "value": None},
    ]
    assert reported(document).buyer.tax_id == "5250000000"


# -- InPost lockers -------------------------------------------------------------------------------


def inpost(order: dict[str, Any], **attributes: str) -> dict[str, Any]:
    document = with_attributes(order, **attributes)
    document["shipping_lines"] = [
        {"code": "InPost Paczkomat 24/7", "title": "InPost Paczkomat 24/7", "price": "12.99"}
    ]
    return document


def test_a_locker_attribute_with_an_inpost_shipping_line_is_a_pickup_point(
    shopify_order: dict[str, Any],
) -> None:
    order = reported(inpost(shopify_order, paczkomat="KRA01M, ul. Floriańska 3, Kraków"))
    assert order.delivery == PickupPoint(
        carrier="inpost", point_id="KRA01M", name="ul. Floriańska 3, Kraków", phone="555-625-1199"
    )


@pytest.mark.parametrize("name", ["paczkomat", "inpost_point", "Locker", "locker_id"])
def test_locker_attribute_names(shopify_order: dict[str, Any], name: str) -> None:
    order = reported(inpost(shopify_order, **{name: "waw123app"}))
    assert isinstance(order.delivery, PickupPoint) and order.delivery.point_id == "WAW123APP"


def test_the_locker_id_may_be_in_the_shipping_line_code(shopify_order: dict[str, Any]) -> None:
    document = copy.deepcopy(shopify_order)
    document["shipping_lines"] = [
        {"code": "inpost-paczkomat POZ08A", "title": "Paczkomat InPost", "price": "9.99"}
    ]
    assert reported(document).delivery == PickupPoint(
        carrier="inpost", point_id="POZ08A", name="Paczkomat InPost", phone="555-625-1199"
    )


def test_a_locker_attribute_without_an_inpost_shipping_line_is_a_home_delivery(
    shopify_order: dict[str, Any],
) -> None:
    # The buyer picked a locker, then switched to a courier: the shipping line decides
    order = reported(with_attributes(shopify_order, paczkomat="KRA01M"))
    assert isinstance(order.delivery, Address)


def test_an_inpost_line_without_a_locker_id_delivers_to_the_address(
    shop: ShopifySimulator,
) -> None:
    # The simulator's sample ships "InPost Paczkomat 24/7" without saying which locker
    order = reported(shop.order(5003, [Line("MUG-1", "Mug", 1, "49.00")]))
    assert isinstance(order.delivery, Address) and order.delivery.city == "Kraków"


def test_the_simulator_builds_b2b_locker_orders(shop: ShopifySimulator) -> None:
    placed = shop.order(
        5004,
        [Line("MUG-1", "Mug", 2, "49.00")],
        tax_id="5250000000",
        company="Acme",
        locker="KRA01M",
    )
    order = reported(placed, "orders/create")
    assert (order.buyer.tax_id, order.buyer.company, order.invoice_requested) == (
        "5250000000",
        "Acme",
        True,
    )
    assert isinstance(order.delivery, PickupPoint) and order.delivery.point_id == "KRA01M"
    assert order.lines[0].listing_id is not None and order.lines[0].sku == "MUG-1"


# -- hostile bodies -----------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
ORDER_FIELDS = [
    "id",
    "admin_graphql_api_id",
    "created_at",
    "updated_at",
    "cancelled_at",
    "currency",
    "total_price",
    "line_items",
    "shipping_lines",
    "note_attributes",
    "billing_address",
    "shipping_address",
]
LINE_FIELDS = ["id", "variant_id", "product_id", "sku", "quantity", "price", "tax_lines"]


def hostile_outcome(document: Any, topic: str) -> None:
    # A 400 is the only failure a hostile body may cause; anything else fails the test.
    with contextlib.suppress(MalformedWebhook):
        parse(document, topic)


@settings(
    deadline=None, max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    topic=st.sampled_from([*ORDER_TOPICS, "orders/edited", "orders/paid"]),
    field=st.sampled_from(ORDER_FIELDS),
    value=JSON_VALUES,
)
def test_a_hostile_order_field_is_malformed_or_mapped(
    shopify_order: dict[str, Any], topic: str, field: str, value: Any
) -> None:
    hostile_outcome({**shopify_order, field: value}, topic)


@settings(
    deadline=None, max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    topic=st.sampled_from(ORDER_TOPICS),
    field=st.sampled_from(LINE_FIELDS),
    value=JSON_VALUES,
    attributes=st.lists(
        st.fixed_dictionaries(
            {"name": st.sampled_from(["nip", "paczkomat", "vat"]), "value": JSON_VALUES}
        ),
        max_size=3,
    ),
)
def test_hostile_lines_and_attributes_are_malformed_or_mapped(
    shopify_order: dict[str, Any], topic: str, field: str, value: Any, attributes: list[Any]
) -> None:
    document = copy.deepcopy(shopify_order)
    document["line_items"][0][field] = value
    document["note_attributes"] = attributes
    document["shipping_lines"] = [{"code": "InPost Paczkomat", "price": "1.00"}]
    hostile_outcome(document, topic)


@settings(deadline=None, max_examples=200)
@given(topic=st.sampled_from([*ORDER_TOPICS, "orders/edited"]), raw=st.binary(max_size=300))
def test_hostile_bytes_are_malformed_or_ignored(topic: str, raw: bytes) -> None:
    hostile_outcome(raw, topic)
