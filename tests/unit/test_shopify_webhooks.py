"""Shopify: X-Shopify-Hmac-Sha256 against the official vector, REST Order -> canonical Order."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from shared.inbox.contract import (
    Headers,
    MalformedWebhook,
    ParsedWebhook,
    SignatureMismatch,
    WebhookRequest,
)
from shared.inbox.events import OrderReported, PaymentReported
from shared.kernel.money import Money
from shared.orders.domain import Address, Order, PaymentMethod
from shared.payments.domain import ChannelOrderRef, PaymentStatus
from shared.providers.channels.shopify.webhook import ShopifyWebhooks, sign

ADAPTER = ShopifyWebhooks()


def usd(amount: int) -> Money:
    return Money(amount=amount, currency="USD")


def request(body: bytes, headers: dict[str, str]) -> WebhookRequest:
    return WebhookRequest(headers=Headers(headers), raw_body=body, received_at=datetime.now(UTC))


def delivery(
    document: Any, topic: str = "orders/create", webhook_id: str = "wh-1"
) -> WebhookRequest:
    headers = {"X-Shopify-Topic": topic, "X-Shopify-Webhook-Id": webhook_id}
    return request(json.dumps(document).encode(), headers)


def parsed_order(document: dict[str, Any]) -> Order:
    event = ADAPTER.parse(delivery(document)).event
    assert isinstance(event, OrderReported)
    return event.order


# -- signatures (official vector) -------------------------------------------------------------


def test_sign_reproduces_the_official_vector(shopify_vector: dict[str, Any]) -> None:
    assert shopify_vector["body"] == shopify_vector["raw_body"].encode()  # exact bytes, no newline
    expected = shopify_vector["x_shopify_hmac_sha256"]
    assert sign(shopify_vector["body"], shopify_vector["client_secret"]) == expected


def test_verify_accepts_the_official_vector(shopify_vector: dict[str, Any]) -> None:
    headers = {
        **shopify_vector["headers"],
        "X-Shopify-Hmac-Sha256": shopify_vector["x_shopify_hmac_sha256"],
    }
    secrets = {"webhook_secret": shopify_vector["client_secret"]}
    ADAPTER.verify(request(shopify_vector["body"], headers), secrets)  # does not raise


def test_verify_reads_the_header_case_insensitively(shopify_vector: dict[str, Any]) -> None:
    headers = {"x-shopify-hmac-sha256": shopify_vector["x_shopify_hmac_sha256"]}
    ADAPTER.verify(request(shopify_vector["body"], headers), {"webhook_secret": "test_secret_key"})


@pytest.mark.parametrize(
    ("body", "secret"),
    [
        (b'{"foo": "baz"}', "test_secret_key"),  # tampered body
        (b'{"foo":"bar"}', "test_secret_key"),  # the same JSON re-serialised is other bytes
        (b'{"foo": "bar"}\n', "test_secret_key"),  # a trailing newline
        (b'{"foo": "bar"}', "another_secret"),  # wrong secret
    ],
)
def test_verify_rejects_anything_but_the_signed_bytes(
    shopify_vector: dict[str, Any], body: bytes, secret: str
) -> None:
    headers = {"X-Shopify-Hmac-Sha256": shopify_vector["x_shopify_hmac_sha256"]}
    with pytest.raises(SignatureMismatch, match="does not match") as raised:
        ADAPTER.verify(request(body, headers), {"webhook_secret": secret})
    assert raised.value.status_code == 401


@pytest.mark.parametrize("headers", [{}, {"X-Shopify-Hmac-Sha256": "  "}], ids=["absent", "blank"])
def test_verify_rejects_a_missing_hmac_header(
    shopify_vector: dict[str, Any], headers: dict[str, str]
) -> None:
    with pytest.raises(SignatureMismatch, match="missing X-Shopify-Hmac-Sha256"):
        ADAPTER.verify(
            request(shopify_vector["body"], headers), {"webhook_secret": "test_secret_key"}
        )


# -- parsing ----------------------------------------------------------------------------------


def test_unhandled_topic_of_the_vector_is_ignored_with_a_reason(
    shopify_vector: dict[str, Any],
) -> None:
    # Given the vector's products/create delivery, When parsed, Then it is ignored, not an error
    parsed = ADAPTER.parse(request(shopify_vector["body"], shopify_vector["headers"]))
    assert parsed == ParsedWebhook(
        event_id="123456789",
        topic="products/create",
        event=None,
        ignored_reason="topic products/create is not handled",
        audit_headers=shopify_vector["headers"],
    )


def test_orders_create_maps_the_official_order_to_the_canonical_order(
    shopify_order: dict[str, Any],
) -> None:
    parsed = ADAPTER.parse(delivery(shopify_order))
    assert (parsed.event_id, parsed.topic) == ("wh-1", "orders/create")
    assert isinstance(parsed.event, OrderReported)
    order = parsed.event.order
    assert (order.channel, order.external_id, order.external_number) == (
        "shopify",
        "450789469",
        "#1001",
    )
    assert [line.sku for line in order.lines] == ["IPOD2008GREEN", "IPOD2008RED", "IPOD2008BLACK"]
    assert [line.line_no for line in order.lines] == [1, 2, 3]
    assert {line.unit_price for line in order.lines} == {usd(19900)}
    assert order.lines[0].name == "IPod Nano - 8gb - green"
    # The fixture's line items carry no tax_lines (only the order does), so no line rate.
    assert {line.vat_rate for line in order.lines} == {Decimal(0)}
    assert order.totals.items == usd(39800)
    assert order.totals.shipping == usd(0)
    assert order.totals.tax == usd(1194)
    assert order.totals.total == usd(40994)
    assert order.currency == "USD"
    assert order.prices_include_vat is False
    assert order.stock_demand() == {"IPOD2008GREEN": 1, "IPOD2008RED": 1, "IPOD2008BLACK": 1}


def test_orders_create_maps_buyer_address_and_timestamps(shopify_order: dict[str, Any]) -> None:
    order = parsed_order(shopify_order)
    assert order.buyer.name == "Bob Norman"
    assert order.buyer.email == "bob.norman@hostmail.com"
    assert order.delivery == Address(
        name="Bob Norman",
        line1="Chestnut Street 92",
        line2=None,
        postal_code="40202",
        city="Louisville",
        region="KY",
        country_code="US",
        phone="555-625-1199",
    )
    placed = datetime.fromisoformat("2008-01-10T11:00:00-05:00")
    assert order.placed_at == placed
    # The revision is updated_at in epoch milliseconds: a later edit outranks this one.
    assert order.revision == int(placed.timestamp() * 1000) == 1199980800000


def test_a_gateway_order_is_prepaid_and_not_yet_paid_by_the_channel(
    shopify_order: dict[str, Any],
) -> None:
    # Given the fixture: gateway authorize_net, financial_status authorized
    order = parsed_order(shopify_order)
    assert order.payment_method is PaymentMethod.PREPAID
    assert order.payment_required
    assert order.channel_payment is None


def test_a_paid_order_records_the_channel_payment(shopify_order: dict[str, Any]) -> None:
    order = parsed_order({**shopify_order, "financial_status": "paid"})
    assert order.channel_payment is not None
    assert order.channel_payment.provider == "shopify"
    assert order.channel_payment.payment_id == "450789469"
    assert order.channel_payment.amount == usd(40994)


def test_shopify_cod_gateway_makes_a_cash_on_delivery_order(shopify_order: dict[str, Any]) -> None:
    order = parsed_order({**shopify_order, "payment_gateway_names": ["Cash on Delivery (COD)"]})
    assert order.payment_method is PaymentMethod.CASH_ON_DELIVERY
    assert not order.payment_required


def test_line_tax_rates_are_summed_into_a_percent(shopify_order: dict[str, Any]) -> None:
    # Given a line taxed by state (6%) and county (1.5%) tax
    document = copy.deepcopy(shopify_order)
    document["line_items"][0]["tax_lines"] = [
        {"rate": 0.06, "price": "11.94", "title": "State Tax"},
        {"rate": 0.015, "price": "2.99", "title": "County Tax"},
    ]
    assert parsed_order(document).lines[0].vat_rate == Decimal("7.5")


def test_a_twenty_percent_rate_serialises_as_plain_20(shopify_order: dict[str, Any]) -> None:
    document = copy.deepcopy(shopify_order)
    document["line_items"][0]["tax_lines"] = [{"rate": 0.2, "price": "39.80", "title": "VAT"}]
    line = parsed_order(document).lines[0]
    assert line.vat_rate == 20
    assert line.model_dump(mode="json")["vat_rate"] == "20"


def test_discount_allocations_become_the_line_discount(shopify_order: dict[str, Any]) -> None:
    document = copy.deepcopy(shopify_order)
    document["line_items"][1]["discount_allocations"] = [{"amount": "5.00"}, {"amount": "5.00"}]
    order = parsed_order(document)
    assert order.lines[1].discount == usd(1000)
    assert order.lines[0].discount is None


def test_an_address_without_street_or_city_is_no_delivery_address(
    shopify_order: dict[str, Any],
) -> None:
    document = copy.deepcopy(shopify_order)
    document["shipping_address"]["address1"] = ""
    assert parsed_order(document).delivery is None


def test_orders_paid_reports_a_succeeded_payment_by_channel_order(
    shopify_order: dict[str, Any],
) -> None:
    paid = {**shopify_order, "financial_status": "paid"}
    parsed = ADAPTER.parse(delivery(paid, topic="orders/paid", webhook_id="wh-paid"))
    assert isinstance(parsed.event, PaymentReported)
    payment = parsed.event.payment
    assert payment.order_id is None
    assert payment.channel_order == ChannelOrderRef(channel="shopify", external_id="450789469")
    assert payment.status is PaymentStatus.SUCCEEDED
    assert payment.amount == usd(40994)
    assert (payment.provider, payment.provider_event_id, payment.payment_id) == (
        "shopify",
        "wh-paid",
        "450789469",
    )


def test_audit_headers_keep_only_the_shopify_delivery_headers(
    shopify_order: dict[str, Any],
) -> None:
    headers = {
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Webhook-Id": "wh-1",
        "X-Shopify-Shop-Domain": "shop1.myshopify.io",
        "Authorization": "Bearer do-not-store",
    }
    parsed = ADAPTER.parse(request(json.dumps(shopify_order).encode(), headers))
    assert parsed.audit_headers == {
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Webhook-Id": "wh-1",
        "X-Shopify-Shop-Domain": "shop1.myshopify.io",
    }


@pytest.mark.parametrize(
    "body",
    [b"not json", b"\xff\xfe", b"[1, 2]", b'"order"'],
    ids=["not-json", "not-utf8", "array", "string"],
)
def test_a_body_that_is_not_a_json_object_is_malformed(body: bytes) -> None:
    headers = {"X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": "wh-1"}
    with pytest.raises(MalformedWebhook) as raised:
        ADAPTER.parse(request(body, headers))
    assert raised.value.status_code == 400


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", "not-a-number"),
        ("line_items", "none"),
        ("total_price", "lots"),
        ("currency", "US"),
        ("created_at", "yesterday"),
    ],
)
def test_wrong_types_in_the_order_are_malformed(
    shopify_order: dict[str, Any], field: str, value: str
) -> None:
    with pytest.raises(MalformedWebhook):
        ADAPTER.parse(delivery({**shopify_order, field: value}))


def test_a_sku_with_control_characters_is_malformed(shopify_order: dict[str, Any]) -> None:
    document = copy.deepcopy(shopify_order)
    document["line_items"][0]["sku"] = "IPOD\u0007GREEN"
    with pytest.raises(MalformedWebhook, match="order 450789469"):
        ADAPTER.parse(delivery(document))


def test_skus_with_spaces_and_hashes_are_kept_as_written(shopify_order: dict[str, Any]) -> None:
    document = copy.deepcopy(shopify_order)
    document["line_items"][0]["sku"] = "IPOD 8GB #GREEN"
    parsed = ADAPTER.parse(delivery(document))
    assert isinstance(parsed.event, OrderReported)
    assert parsed.event.order.lines[0].sku == "IPOD 8GB #GREEN"


@pytest.mark.parametrize("missing", ["X-Shopify-Webhook-Id", "X-Shopify-Topic"])
def test_missing_delivery_headers_are_malformed(
    shopify_order: dict[str, Any], missing: str
) -> None:
    headers = {"X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": "wh-1"}
    del headers[missing]
    with pytest.raises(MalformedWebhook, match=missing):
        ADAPTER.parse(request(json.dumps(shopify_order).encode(), headers))


def test_orders_create_with_a_naive_timestamp_is_malformed(shopify_order: dict[str, Any]) -> None:
    document = {**shopify_order, "created_at": "2008-01-10T11:00:00", "updated_at": None}
    with pytest.raises(MalformedWebhook):
        ADAPTER.parse(delivery(document))


def test_orders_paid_with_a_naive_timestamp_is_malformed(shopify_order: dict[str, Any]) -> None:
    document = {**shopify_order, "created_at": "2008-01-10T11:00:00", "updated_at": None}
    with pytest.raises(MalformedWebhook):
        ADAPTER.parse(delivery(document, topic="orders/paid"))


# -- hardening: what the signed body says decides, and the boundary refuses what cannot be kept


def test_a_pending_order_relabelled_orders_paid_pays_nothing(shopify_order: dict[str, Any]) -> None:
    # GIVEN a captured, correctly signed orders/create of an unpaid order
    pending = {**shopify_order, "financial_status": "pending"}
    # WHEN it is resent with the unsigned topic header changed to orders/paid
    parsed = ADAPTER.parse(delivery(pending, topic="orders/paid", webhook_id="fresh-id"))
    # THEN it is recorded as ignored: the body, not the header, says whether it is paid
    assert parsed.event is None
    assert parsed.ignored_reason is not None and "financial_status=pending" in parsed.ignored_reason


def test_an_order_created_paid_carries_its_channel_payment(shopify_order: dict[str, Any]) -> None:
    order = parsed_order({**shopify_order, "financial_status": "paid"})
    assert order.channel_payment is not None and order.channel_payment.amount == usd(40994)
    assert parsed_order({**shopify_order, "financial_status": "pending"}).channel_payment is None


def test_the_test_flag_of_an_order_is_kept(shopify_order: dict[str, Any]) -> None:
    assert parsed_order({**shopify_order, "test": True}).test is True
    assert parsed_order({**shopify_order, "test": False}).test is False


def signed_by_shop(body: bytes, shop: str | None) -> WebhookRequest:
    headers = {"X-Shopify-Hmac-Sha256": sign(body, "s3cret")}
    if shop is not None:
        headers["X-Shopify-Shop-Domain"] = shop
    return request(body, headers)


def test_a_delivery_for_another_shop_is_refused_when_a_shop_is_configured() -> None:
    secrets = {"webhook_secret": "s3cret", "shop_domain": "our-shop.myshopify.com"}
    ADAPTER.verify(signed_by_shop(b"{}", "Our-Shop.myshopify.com"), secrets)
    for other in ("someone-else.myshopify.com", "", None):
        with pytest.raises(SignatureMismatch, match="not this shop"):
            ADAPTER.verify(signed_by_shop(b"{}", other), secrets)


def test_any_shop_is_accepted_when_none_is_configured() -> None:
    ADAPTER.verify(signed_by_shop(b"{}", "anyone.myshopify.com"), {"webhook_secret": "s3cret"})


@pytest.mark.parametrize("rate", [1e30, 1e308, -0.1, 1.5])
def test_an_impossible_tax_rate_is_malformed(shopify_order: dict[str, Any], rate: float) -> None:
    document = copy.deepcopy(shopify_order)
    document["line_items"][0]["tax_lines"] = [{"rate": rate, "price": "1.00"}]
    with pytest.raises(MalformedWebhook, match="rate"):
        ADAPTER.parse(delivery(document))


@pytest.mark.parametrize(
    "moment", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+01:00", "1969-12-31T23:59:59Z"]
)
def test_a_moment_that_cannot_be_stored_in_utc_is_malformed(
    shopify_order: dict[str, Any], moment: str
) -> None:
    with pytest.raises(MalformedWebhook, match="created_at"):
        ADAPTER.parse(delivery({**shopify_order, "created_at": moment}))


@pytest.mark.parametrize("field", ["total_price", "total_tax", "total_discounts"])
def test_a_negative_total_is_malformed(shopify_order: dict[str, Any], field: str) -> None:
    with pytest.raises(MalformedWebhook, match="negative"):
        ADAPTER.parse(delivery({**shopify_order, field: "-10.00"}))


def test_a_negative_line_price_is_malformed(shopify_order: dict[str, Any]) -> None:
    document = copy.deepcopy(shopify_order)
    document["line_items"][0]["price"] = "-1.00"
    with pytest.raises(MalformedWebhook, match="negative"):
        ADAPTER.parse(delivery(document))


@pytest.mark.parametrize("webhook_id", ["x" * 3000, "has space", "tab\there", "zażółć"])
def test_a_webhook_id_that_cannot_be_a_key_is_malformed(
    shopify_order: dict[str, Any], webhook_id: str
) -> None:
    with pytest.raises(MalformedWebhook, match="X-Shopify-Webhook-Id"):
        ADAPTER.parse(delivery(shopify_order, webhook_id=webhook_id))


def test_an_order_name_too_long_for_the_order_item_is_malformed(
    shopify_order: dict[str, Any],
) -> None:
    # The name lands in the small hot order item: 420 KB of it would fail every write.
    with pytest.raises(MalformedWebhook, match="external_number"):
        ADAPTER.parse(delivery({**shopify_order, "name": "#" + "9" * 420_000}))
