"""WooCommerce webhooks: X-WC-Webhook-Signature against OpenSSL-computed vectors, the unsigned
creation ping, topics, dedupe keys, and hostile bodies (always a MalformedWebhook)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared import registry
from shared.inbox.contract import (
    Headers,
    MalformedWebhook,
    ParsedWebhook,
    SignatureMismatch,
    WebhookRequest,
)
from shared.inbox.events import OrderReported, OrderWithdrawn
from shared.providers.channels.woocommerce.simulator import WooCommerceSimulator
from shared.providers.channels.woocommerce.webhook import WooCommerceOrders, sign
from shared.providers.simulation import Line
from tests.unit.conftest import fixture_bytes, fixture_json

ADAPTER = WooCommerceOrders()
RECEIVED = datetime(2026, 5, 4, 10, 0, 0, 123000, tzinfo=UTC)
REFERENCE = "woocommerce/order_retrieve_docs_example.json"


def request(body: bytes, headers: dict[str, str] | None = None) -> WebhookRequest:
    return WebhookRequest(Headers(headers or {}), body, received_at=RECEIVED)


def delivery(document: Any, topic: str = "order.updated") -> WebhookRequest:
    return request(json.dumps(document).encode(), {"X-WC-Webhook-Topic": topic})


@pytest.fixture
def vectors() -> dict[str, Any]:
    found: dict[str, Any] = fixture_json("woocommerce/signature_vectors_openssl.json")
    return found


@pytest.fixture
def reference_order() -> dict[str, Any]:
    order: dict[str, Any] = fixture_json(REFERENCE)
    return order


# -- signatures ------------------------------------------------------------------------------


def test_sign_reproduces_the_openssl_vectors(vectors: dict[str, Any]) -> None:
    # Given bodies signed with `openssl dgst -sha256 -hmac` (an oracle beside our code)
    for vector in vectors["vectors"]:
        body = (
            fixture_bytes(f"woocommerce/{vector['body_file']}")
            if "body_file" in vector
            else vector["body"].encode()
        )
        # Then our signature is the same
        assert sign(body, vectors["secret"]) == vector["x_wc_webhook_signature"]


def test_verify_accepts_the_reference_order_signed(vectors: dict[str, Any]) -> None:
    body = fixture_bytes(REFERENCE)
    signature = vectors["vectors"][0]["x_wc_webhook_signature"]
    # API Gateway lowercases header names
    ADAPTER.verify(
        request(body, {"x-wc-webhook-signature": signature}),
        {"webhook_secret": vectors["secret"]},
    )


@pytest.mark.parametrize(
    ("body", "secret"),
    [
        (b'{"id":728}', "wc_secret_K8mvT2qX"),  # another order's id
        (b'{"id": 727}', "wc_secret_K8mvT2qX"),  # the same JSON, other bytes
        (b'{"id":727}\n', "wc_secret_K8mvT2qX"),  # a trailing newline
        (b'{"id":727}', "another_secret"),  # the wrong webhook's secret
    ],
)
def test_verify_refuses_what_the_signature_was_not_made_over(
    vectors: dict[str, Any], body: bytes, secret: str
) -> None:
    signature = vectors["vectors"][1]["x_wc_webhook_signature"]  # over b'{"id":727}'
    with pytest.raises(SignatureMismatch):
        ADAPTER.verify(
            request(body, {"X-WC-Webhook-Signature": signature}), {"webhook_secret": secret}
        )


def test_verify_refuses_an_unsigned_order() -> None:
    with pytest.raises(SignatureMismatch, match="missing X-WC-Webhook-Signature"):
        ADAPTER.verify(delivery({"id": 727}), {"webhook_secret": "s"})


def test_a_simulated_delivery_verifies_and_a_tampered_one_does_not() -> None:
    simulator = WooCommerceSimulator("whsec-local")
    signed = simulator.webhook(
        "order.created", simulator.order(41, [Line("MUG", "Kubek / 350 ml", 1, "49.00")])
    )
    assert b"\\/" in signed.body  # wp_json_encode escapes "/": the bytes are what is signed
    ADAPTER.verify(request(signed.body, signed.headers), {"webhook_secret": "whsec-local"})
    tampered = signed.tampered()
    with pytest.raises(SignatureMismatch):
        ADAPTER.verify(request(tampered.body, tampered.headers), {"webhook_secret": "whsec-local"})


# -- the creation ping -----------------------------------------------------------------------


def test_the_creation_ping_passes_unsigned_and_is_ignored() -> None:
    # Given WooCommerce's ping, exactly as deliver_ping() posts it
    ping = WooCommerceSimulator("s").ping(17)
    assert "X-WC-Webhook-Signature" not in ping.headers
    # When it arrives
    ADAPTER.verify(request(ping.body, ping.headers), {"webhook_secret": "s"})
    parsed = ADAPTER.parse(request(ping.body, ping.headers))
    # Then it is stored as ignored (answered 200), and nothing happens
    assert parsed.event is None
    assert parsed.event_id == "ping-17"
    assert parsed.ignored_reason


@pytest.mark.parametrize(
    "body",
    [
        b"webhook_id=17&status=paid",
        b"webhook_id=17\n",
        b" webhook_id=17",
        b"webhook_id=",
        b"webhook_id=abc",
        b"webhook_id=" + b"9" * 21,
        b'{"webhook_id": 17}',
    ],
)
def test_only_the_exact_ping_body_passes_unsigned(body: bytes) -> None:
    with pytest.raises(SignatureMismatch):
        ADAPTER.verify(request(body), {"webhook_secret": "s"})


# -- topics and dedupe keys ------------------------------------------------------------------


def test_created_and_updated_of_one_version_share_the_dedupe_key(
    reference_order: dict[str, Any],
) -> None:
    created = ADAPTER.parse(delivery(reference_order, "order.created"))
    updated = ADAPTER.parse(delivery(reference_order, "order.updated"))
    # date_modified_gmt 2017-03-22T19:28:08 GMT = 1490210888 s
    assert created.event_id == updated.event_id == "order-727-1490210888000"
    assert isinstance(created.event, OrderReported)
    assert created.event.order.revision == 1490210888000


def test_a_new_version_is_a_new_key(reference_order: dict[str, Any]) -> None:
    later = {**reference_order, "date_modified_gmt": "2017-03-22T19:30:00"}
    assert ADAPTER.parse(delivery(later)).event_id == "order-727-1490211000000"


def test_the_delivery_id_is_not_the_key(reference_order: dict[str, Any]) -> None:
    body = json.dumps(reference_order).encode()
    first = request(body, {"X-WC-Webhook-Topic": "order.updated", "X-WC-Webhook-Delivery-ID": "a"})
    again = request(body, {"X-WC-Webhook-Topic": "order.updated", "X-WC-Webhook-Delivery-ID": "b"})
    assert ADAPTER.parse(first).event_id == ADAPTER.parse(again).event_id


def test_order_deleted_withdraws_the_order_as_of_its_arrival() -> None:
    parsed = ADAPTER.parse(delivery({"id": 727}, "order.deleted"))
    assert parsed.event_id == "order-727-deleted"
    assert parsed.event == OrderWithdrawn(
        channel="woocommerce",
        external_id="727",
        revision=int(RECEIVED.timestamp() * 1000),
        reason="deleted",
    )


def test_order_deleted_uses_the_bodys_date_when_there_is_one() -> None:
    parsed = ADAPTER.parse(
        delivery({"id": 727, "date_modified_gmt": "2017-03-22T19:28:08"}, "order.deleted")
    )
    assert isinstance(parsed.event, OrderWithdrawn)
    assert parsed.event.revision == 1490210888000


def test_order_restored_with_the_order_is_an_update(reference_order: dict[str, Any]) -> None:
    parsed = ADAPTER.parse(delivery(reference_order, "order.restored"))
    assert isinstance(parsed.event, OrderReported)
    assert parsed.event_id == "order-727-1490210888000"


def test_order_restored_with_only_the_id_is_ignored() -> None:
    parsed = ADAPTER.parse(delivery({"id": 727}, "order.restored"))
    assert parsed.event is None


@pytest.mark.parametrize("topic", ["product.updated", "customer.created", "action.wc_foo"])
def test_other_topics_are_ignored(topic: str) -> None:
    parsed = ADAPTER.parse(delivery({"id": 5}, topic))
    assert parsed.event is None
    assert parsed.topic == topic
    assert parsed.event_id == ADAPTER.parse(delivery({"id": 5}, topic)).event_id


def test_a_checkout_draft_is_not_an_order_yet(reference_order: dict[str, Any]) -> None:
    parsed = ADAPTER.parse(delivery({**reference_order, "status": "checkout-draft"}))
    assert parsed.event is None


@pytest.mark.parametrize("headers", [{}, {"X-WC-Webhook-Topic": "order updated"}])
def test_a_missing_or_odd_topic_is_malformed(headers: dict[str, str]) -> None:
    with pytest.raises(MalformedWebhook):
        ADAPTER.parse(request(b'{"id": 1}', headers))


def test_the_stored_audit_headers_parse_to_the_same_event(reference_order: dict[str, Any]) -> None:
    # Given a delivery parsed at the webhook
    signed = WooCommerceSimulator("s").webhook("order.created", reference_order)
    first = ADAPTER.parse(request(signed.body, signed.headers))
    # When the stream router parses the stored bytes with the stored (audit) headers
    again = ADAPTER.parse(request(signed.body, first.audit_headers))
    # Then it is the same event
    assert again == first
    assert first.audit_headers["X-WC-Webhook-Topic"] == "order.created"
    assert "X-WC-Webhook-Signature" not in first.audit_headers


def test_the_registry_loads_this_adapter_as_webhook_and_poller() -> None:
    adapter = registry.provider("woocommerce").load_adapter()
    assert isinstance(adapter, WooCommerceOrders)
    assert callable(adapter.verify) and callable(adapter.poll) and callable(adapter.parse)


# -- hostile bodies --------------------------------------------------------------------------

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["1e999", "-1", "NaN", "0001-01-01T00:00:00", "9999-12-31T23:59:59", ""]),
)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
_FIELDS = [
    "id",
    "status",
    "currency",
    "date_created_gmt",
    "date_modified_gmt",
    "total",
    "total_tax",
    "shipping_total",
    "prices_include_tax",
    "billing",
    "shipping",
    "line_items",
    "tax_lines",
    "shipping_lines",
    "fee_lines",
    "meta_data",
    "date_paid_gmt",
    "payment_method",
    "number",
]
_LINE_FIELDS = ["quantity", "subtotal", "total", "total_tax", "sku", "taxes", "name", "id"]


def _only_malformed(parse: Any, body: bytes, topic: str) -> None:
    try:
        result = parse(request(body, {"X-WC-Webhook-Topic": topic}))
    except MalformedWebhook:
        return
    assert isinstance(result, ParsedWebhook)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.binary(max_size=200),
    topic=st.sampled_from(["order.created", "order.updated", "order.deleted", "order.restored"]),
)
def test_random_bytes_are_malformed_never_a_crash(body: bytes, topic: str) -> None:
    _only_malformed(ADAPTER.parse, body, topic)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    changes=st.dictionaries(st.sampled_from(_FIELDS), _json, min_size=1, max_size=3),
    line_changes=st.dictionaries(st.sampled_from(_LINE_FIELDS), _json, max_size=3),
    topic=st.sampled_from(["order.created", "order.updated", "order.deleted", "order.restored"]),
)
def test_a_reference_order_with_hostile_fields_is_malformed_never_a_crash(
    changes: dict[str, Any], line_changes: dict[str, Any], topic: str
) -> None:
    order: dict[str, Any] = copy.deepcopy(fixture_json(REFERENCE))
    order["line_items"][0].update(line_changes)
    order.update(changes)
    _only_malformed(ADAPTER.parse, json.dumps(order).encode(), topic)


@settings(max_examples=100, deadline=None)
@given(depth=st.integers(min_value=100, max_value=5000))
def test_deeply_nested_json_is_malformed(depth: int) -> None:
    body = b'{"id": 1, "line_items": ' + b"[" * depth + b"]" * depth + b"}"
    _only_malformed(ADAPTER.parse, body, "order.updated")
