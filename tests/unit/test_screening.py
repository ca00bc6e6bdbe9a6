"""An order the webhook accepts without mapping it (screening, decision 65) always maps:
Shopify's and WooCommerce's.

The stream router maps a screened Shopify order from the same bytes after the webhook has
answered 200, so a screened order that cannot map would be acknowledged and lost: the one
thing the screen must never do. Hypothesis mutates the reference order (Shopify's own REST
resource fixture, WooCommerce's documented order) with hostile values, field by field, and
holds every screened result to a mapping that succeeds; the reference order itself is
screened, so the fast path is the ordinary one.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.inbox.contract import Headers, WebhookRequest
from shared.inbox.service import record
from shared.inbox.store import InboxEntry
from shared.platform.clock import utc_now
from shared.providers.channels.shopify.screening import plainly_mappable
from shared.providers.channels.shopify.webhook import ShopifyOrder, ShopifyWebhooks, to_order
from shared.providers.channels.woocommerce import mapping as woo_mapping
from shared.providers.channels.woocommerce import screening as woo_screening
from shared.providers.channels.woocommerce.resources import WooOrder
from tests.unit.conftest import fixture_json

# A character reference html.unescape cannot read (int's 4,300-digit limit): found by review.
HUGE_REF = "&#" + "1" * 4301 + ";"
# Most fields keep their value: screened orders then come up often enough to probe the edge.
MAYBE = st.sampled_from([False, False, False, False, True])
AMOUNTS = st.one_of(
    st.decimals(min_value=0, max_value=10**13, places=2).map(str),
    st.sampled_from(
        ["0", "0.00", "409.94", "1e3", "-1.00", "1.005", " 1.00", "NaN", "Infinity", "", "1,00"]
    ),
    st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
    st.text(alphabet="0123456789.-e+", max_size=20),
)
TEXT = st.one_of(
    st.none(),
    st.text(max_size=300),
    st.sampled_from(
        ["SKU-1", " SKU ", "\x00", "a\tb", "\u2028", "x" * 256, "ß", "\x7f", "&ndash;", HUGE_REF]
    ),
)
CODES = st.one_of(
    st.sampled_from(["PLN", "pln", "JPY", "KWD", "US", "ZZZ", "ßp", "", "EURO", "ŁÓD"]),
    st.text(max_size=4),
)
COUNTRIES = st.one_of(st.sampled_from(["PL", "pl", "P", "POL", "ß", "", "1Z"]), st.text(max_size=3))
MOMENTS = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "2026-12-01T10:00:00+01:00",
            "1969-12-31T23:59:59Z",
            "1970-01-01T00:00:00-05:00",
            "9999-12-31T23:59:59-05:00",
            "0001-01-01T00:00:00Z",
        ]
    ),
)
RATES = st.lists(
    st.one_of(st.decimals(min_value=0, max_value=1, places=4), st.sampled_from(["0.5", "1"])),
    max_size=3,
)


@st.composite
def mutated_orders(draw: st.DrawFn, reference: dict[str, Any]) -> dict[str, Any]:
    order = copy.deepcopy(reference)
    _mutate_order_fields(draw, order)
    if draw(MAYBE):
        order["line_items"] = order["line_items"][: draw(st.integers(0, 2))]
    for line in order["line_items"]:
        _mutate_line(draw, line)
    for line in order.get("shipping_lines", []):
        if draw(MAYBE):
            line["price"] = draw(AMOUNTS)
    for kind in ("shipping_address", "billing_address"):
        if order.get(kind) and draw(MAYBE):
            order[kind]["country_code"] = draw(COUNTRIES)
    return order


def _mutate_order_fields(draw: st.DrawFn, order: dict[str, Any]) -> None:
    if draw(MAYBE):
        order["currency"] = draw(CODES)
    for field in ("total_price", "total_tax", "total_discounts", "total_line_items_price"):
        if draw(MAYBE):
            order[field] = draw(AMOUNTS)
    for moment in ("created_at", "updated_at", "cancelled_at"):
        value = draw(MOMENTS) if draw(MAYBE) else order.get(moment)
        if value is not None or moment != "created_at":
            order[moment] = value
    if draw(MAYBE):
        order["name"] = draw(TEXT)


def _mutate_line(draw: st.DrawFn, line: dict[str, Any]) -> None:
    if draw(MAYBE):
        line["price"] = draw(AMOUNTS)
    if draw(MAYBE):
        line["sku"] = draw(TEXT)
    if draw(MAYBE):
        line["tax_lines"] = [{"rate": str(rate), "price": "0.00"} for rate in draw(RATES)]
    if draw(MAYBE):
        line["discount_allocations"] = [{"amount": draw(AMOUNTS)}]


@pytest.fixture
def reference(shopify_order: dict[str, Any]) -> dict[str, Any]:
    return shopify_order


def test_the_reference_order_is_screened(reference: dict[str, Any]) -> None:
    assert plainly_mappable(ShopifyOrder.model_validate(reference))


@settings(
    max_examples=1500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_every_screened_order_maps(data: st.DataObject, shopify_order: dict[str, Any]) -> None:
    body = data.draw(mutated_orders(shopify_order))
    try:
        order = ShopifyOrder.model_validate(body)
    except ValidationError:
        return  # the webhook refuses it before any screen: a 400
    if plainly_mappable(order):
        to_order(order)  # must not raise


class _Inbox:
    def __init__(self) -> None:
        self.entries: list[InboxEntry] = []

    def record(self, entry: InboxEntry) -> bool:
        self.entries.append(entry)
        return True


def request_for(body: dict[str, Any]) -> WebhookRequest:
    headers = {"X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": "wh-1"}
    return WebhookRequest(Headers(headers), json.dumps(body).encode(), received_at=utc_now())


def test_a_screened_order_is_stored_as_an_order_the_router_maps(reference: dict[str, Any]) -> None:
    inbox = _Inbox()
    receipt = record(ShopifyWebhooks(), request_for(reference), inbox)
    assert receipt.receipt.value == "accepted"
    assert inbox.entries[0].kind == "order"
    event = ShopifyWebhooks().parse(request_for(reference)).event
    assert event is not None and event.kind == "order"


def test_an_order_outside_the_screen_is_still_mapped_before_the_answer(
    reference: dict[str, Any],
) -> None:
    from shared.inbox.contract import MalformedWebhook

    negative = copy.deepcopy(reference)
    negative["total_price"] = "-10.00"
    assert not plainly_mappable(ShopifyOrder.model_validate(negative))
    with pytest.raises(MalformedWebhook):
        record(ShopifyWebhooks(), request_for(negative), _Inbox())


# -- WooCommerce -------------------------------------------------------------------------------
WOO_AMOUNTS = st.one_of(
    st.decimals(min_value=0, max_value=10**6, places=2).map(str),
    st.sampled_from(["0", "0.00", "-1.00", "0.004", "0.005", "999999999999.99", "1e3", "12.345"]),
    st.decimals(min_value=-(10**12), max_value=10**12, places=4).map(str),
)
WOO_RATES = st.one_of(st.none(), st.sampled_from(["0", "0.0000", "8", "23", "100", "60"]))
WOO_MOMENTS = st.sampled_from(
    ["2017-03-22T19:28:08", "1969-12-31T23:59:59", "1970-01-01T00:00:00", "9999-12-31T23:59:59"]
)


@st.composite
def mutated_woo_orders(draw: st.DrawFn, reference: dict[str, Any]) -> dict[str, Any]:
    order = copy.deepcopy(reference)
    _mutate_woo_fields(draw, order)
    for line in order["tax_lines"]:
        if draw(MAYBE):
            line["rate_percent"] = draw(WOO_RATES)
    if draw(MAYBE):
        order["line_items"] = order["line_items"][: draw(st.integers(0, 2))]
    for line in order["line_items"]:
        _mutate_woo_line(draw, line)
    if draw(MAYBE):
        name = draw(st.sampled_from(["COD", HUGE_REF, "&amp;"]))
        order["fee_lines"] = [
            {"id": 9, "name": name, "total": draw(WOO_AMOUNTS), "total_tax": draw(WOO_AMOUNTS)}
        ]
    for kind in ("shipping", "billing"):
        if draw(MAYBE):
            order[kind]["country"] = draw(COUNTRIES)
    return order


def _mutate_woo_fields(draw: st.DrawFn, order: dict[str, Any]) -> None:
    if draw(MAYBE):
        order["currency"] = draw(st.sampled_from(["PLN", "pln", "JPY", "KWD", "XYZ"]))
    for field in ("total", "total_tax", "shipping_total", "shipping_tax"):
        if draw(MAYBE):
            order[field] = draw(WOO_AMOUNTS)
    for moment in ("date_created_gmt", "date_modified_gmt"):
        if draw(MAYBE):
            order[moment] = draw(WOO_MOMENTS)
    if draw(MAYBE):
        order["number"] = draw(TEXT)


def _mutate_woo_line(draw: st.DrawFn, line: dict[str, Any]) -> None:
    for field in ("subtotal", "subtotal_tax", "total", "total_tax"):
        if draw(MAYBE):
            line[field] = draw(WOO_AMOUNTS)
    if draw(MAYBE):
        line["sku"] = draw(TEXT)
    if draw(MAYBE):
        line["name"] = draw(st.one_of(st.just(HUGE_REF), st.text(max_size=50)))
    if draw(MAYBE):
        ids = draw(st.lists(st.sampled_from([75, 76]), max_size=3))
        line["taxes"] = [{"id": rate_id, "total": "0.10"} for rate_id in ids]


def woo_reference() -> dict[str, Any]:
    reference: dict[str, Any] = fixture_json("woocommerce/order_retrieve_docs_example.json")
    return reference


def test_the_reference_woocommerce_order_is_screened() -> None:
    assert woo_screening.plainly_mappable(WooOrder.model_validate(woo_reference()))


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_screened_woocommerce_order_maps(data: st.DataObject) -> None:
    body = data.draw(mutated_woo_orders(woo_reference()))
    try:
        order = WooOrder.model_validate(body)
    except ValidationError:
        return
    if woo_screening.plainly_mappable(order):
        woo_mapping.to_order(order)  # must not raise


def test_a_name_html_cannot_unescape_is_kept_as_sent() -> None:
    body = woo_reference()
    body["line_items"][0]["name"] = HUGE_REF
    order = WooOrder.model_validate(body)
    assert woo_screening.plainly_mappable(order)
    assert woo_mapping.to_order(order).lines[0].name == HUGE_REF
