"""PayPal events mapped to orderhub's canonical payments and refunds (parse only: what verifies
is in test_paypal_signatures.py)."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.inbox.contract import EventId, Headers, MalformedWebhook, WebhookRequest, parse_value
from shared.kernel.money import Money
from shared.payments.domain import PaymentEvent, PaymentStatus, RefundEvent, RefundStatus
from shared.payments.inbound import PaymentReported, RefundReported
from shared.providers.payments.paypal.simulator import PayPalSimulator
from shared.providers.payments.paypal.webhook import PayPalWebhooks
from tests.unit.conftest import fixture_bytes

CREATED = "2026-12-01T10:15:00Z"


def event(
    event_type: str,
    resource: dict[str, Any],
    event_id: str = "WH-4SW78779LY2325805-07E03580SX1414828",
    *,
    live: bool = False,
) -> bytes:
    """An event envelope as PayPal sends it (sandbox links unless `live`)."""
    host = "https://api.paypal.com" if live else "https://api.sandbox.paypal.com"
    return json.dumps(
        {
            "id": event_id,
            "event_version": "1.0",
            "create_time": CREATED,
            "resource_type": "capture",
            "resource_version": "2.0",
            "event_type": event_type,
            "summary": "Payment completed",
            "resource": resource,
            "links": [
                {
                    "href": f"{host}/v1/notifications/webhooks-events/{event_id}",
                    "rel": "self",
                    "method": "GET",
                }
            ],
        },
        separators=(",", ":"),
    ).encode()


def parse(body: bytes) -> Any:
    return PayPalWebhooks().parse(
        WebhookRequest(Headers({}), raw_body=body, received_at=datetime.now(UTC))
    )


def payment_of(body: bytes) -> PaymentEvent:
    parsed = parse(body)
    assert isinstance(parsed.event, PaymentReported), parsed.ignored_reason
    return parsed.event.payment


def refund_of(body: bytes) -> RefundEvent:
    parsed = parse(body)
    assert isinstance(parsed.event, RefundReported), parsed.ignored_reason
    return parsed.event.refund


def capture(**changes: Any) -> dict[str, Any]:
    resource = PayPalSimulator.capture_resource(
        "ord_01JDX",
        "409.94",
        "PLN",
        paypal_order_id="5O190127TN364715T",
        capture_id="3C679366HH908993F",
    )
    resource.update(changes)
    return resource


# -- captures ---------------------------------------------------------------------------------


def test_a_completed_capture_is_paid_and_merges_with_its_order() -> None:
    parsed = parse(event("PAYMENT.CAPTURE.COMPLETED", capture()))
    assert (parsed.event_id, parsed.topic) == (
        "WH-4SW78779LY2325805-07E03580SX1414828",
        "PAYMENT.CAPTURE.COMPLETED",
    )
    assert parsed.audit_headers == {"PayPal-Event-Type": "PAYMENT.CAPTURE.COMPLETED"}
    assert isinstance(parsed.event, PaymentReported)
    payment = parsed.event.payment
    assert payment.status is PaymentStatus.SUCCEEDED
    assert payment.amount == Money(amount=40994, currency="PLN")
    # The checkout order is the payment: its approval and its capture are one record.
    assert payment.payment_id == "5O190127TN364715T"
    assert (payment.order_id, payment.attempt) == ("ord_01JDX", None)
    assert payment.provider_data == {
        "capture_id": "3C679366HH908993F",
        "paypal_order_id": "5O190127TN364715T",
    }
    assert (payment.provider, payment.provider_event_id) == (
        "paypal",
        "WH-4SW78779LY2325805-07E03580SX1414828",
    )
    assert payment.occurred_at == datetime(2026, 12, 1, 10, 15, tzinfo=UTC)
    assert payment.test is True  # sandbox links
    assert payment.needs_capture is False
    assert payment.failure_reason is None


def test_a_live_event_is_not_a_test_payment() -> None:
    resource = capture(links=[])
    assert payment_of(event("PAYMENT.CAPTURE.COMPLETED", resource, live=True)).test is False


def test_the_order_id_comes_from_the_up_link_when_related_ids_are_missing() -> None:
    resource = capture()
    del resource["supplementary_data"]
    assert (
        payment_of(event("PAYMENT.CAPTURE.COMPLETED", resource)).payment_id == "5O190127TN364715T"
    )


def test_a_capture_naming_no_order_is_its_own_payment() -> None:
    resource = capture(links=[])
    del resource["supplementary_data"]
    payment = payment_of(event("PAYMENT.CAPTURE.COMPLETED", resource))
    assert payment.payment_id == "3C679366HH908993F"
    assert payment.provider_data == {"capture_id": "3C679366HH908993F"}


@pytest.mark.parametrize(
    ("event_type", "status"),
    [
        ("PAYMENT.CAPTURE.PENDING", PaymentStatus.PENDING),
        ("PAYMENT.CAPTURE.DECLINED", PaymentStatus.FAILED),
        ("PAYMENT.CAPTURE.DENIED", PaymentStatus.FAILED),
    ],
)
def test_other_capture_events(event_type: str, status: PaymentStatus) -> None:
    payment = payment_of(event(event_type, capture(status=event_type.rsplit(".", 1)[1])))
    assert payment.status is status
    assert (payment.failure_reason is not None) == (status is PaymentStatus.FAILED)


def test_an_attempt_in_the_reference_is_kept() -> None:
    assert payment_of(event("PAYMENT.CAPTURE.COMPLETED", capture(custom_id="ord_7/3"))).attempt == 3


def test_a_capture_without_custom_id_is_ignored() -> None:
    resource = capture()
    del resource["custom_id"]
    parsed = parse(event("PAYMENT.CAPTURE.COMPLETED", resource))
    assert parsed.event is None
    assert (
        parsed.ignored_reason == "capture 3C679366HH908993F has no custom_id (not made by orderhub)"
    )


@pytest.mark.parametrize(
    ("value", "currency", "minor"),
    [("1000", "HUF", 100000), ("500", "JPY", 500), ("1200", "TWD", 120000)],
)
def test_zero_decimal_currencies_become_iso_minor_units(
    value: str, currency: str, minor: int
) -> None:
    resource = capture(amount={"currency_code": currency, "value": value})
    assert payment_of(event("PAYMENT.CAPTURE.COMPLETED", resource)).amount == Money(
        amount=minor, currency=currency
    )


# -- orders -----------------------------------------------------------------------------------


def test_an_approved_order_is_authorized_and_awaits_capture() -> None:
    order = PayPalSimulator.order_resource(
        "ord_01JDX", "409.94", paypal_order_id="5O190127TN364715T", reference_id="ord_01JDX/2"
    )
    order["payment_source"] = {"paypal": {"email_address": "buyer@example.com"}}
    payment = payment_of(event("CHECKOUT.ORDER.APPROVED", order))
    assert payment.status is PaymentStatus.AUTHORIZED
    assert payment.needs_capture is True
    assert payment.payment_id == "5O190127TN364715T"
    assert (payment.order_id, payment.attempt) == ("ord_01JDX", 2)
    assert payment.method == "paypal"
    assert payment.amount == Money(amount=40994, currency="PLN")
    assert payment.provider_data == {"paypal_order_id": "5O190127TN364715T"}


def test_a_reference_id_naming_another_order_does_not_give_the_attempt() -> None:
    order = PayPalSimulator.order_resource("ord_1", "1.00", reference_id="ord_2/5")
    assert payment_of(event("CHECKOUT.ORDER.APPROVED", order)).attempt is None


def test_a_completed_order_reports_its_capture() -> None:
    order = PayPalSimulator.order_resource(
        "ord_1", "10.00", status="COMPLETED", paypal_order_id="8AB"
    )
    order["purchase_units"][0]["payments"] = {
        "captures": [capture(custom_id="ord_1", amount={"currency_code": "PLN", "value": "10.00"})]
    }
    payment = payment_of(event("CHECKOUT.ORDER.COMPLETED", order))
    assert payment.status is PaymentStatus.SUCCEEDED
    assert payment.payment_id == "8AB"
    assert payment.provider_data["capture_id"] == "3C679366HH908993F"


def test_an_order_without_custom_id_is_ignored() -> None:
    order = PayPalSimulator.order_resource("ord_1", "1.00")
    del order["purchase_units"][0]["custom_id"]
    parsed = parse(event("CHECKOUT.ORDER.APPROVED", order))
    assert parsed.event is None
    assert "custom_id" in (parsed.ignored_reason or "")


def test_an_order_event_in_an_earlier_status_reports_nothing() -> None:
    order = PayPalSimulator.order_resource("ord_1", "1.00", status="PAYER_ACTION_REQUIRED")
    parsed = parse(event("CHECKOUT.ORDER.APPROVED", order))
    assert parsed.event is None
    assert parsed.ignored_reason == "CHECKOUT.ORDER.APPROVED reports no payment yet"


# -- refunds ----------------------------------------------------------------------------------


def test_a_refund_orderhub_asked_for_names_its_order_and_refund() -> None:
    resource = PayPalSimulator.refund_resource(
        "3C679366HH908993F",
        "100.00",
        refund_id="1Y107995YT783435V",
        custom_id="ref_01JE",
        invoice_id="ord_01JDX/ref_01JE",
    )
    refund = refund_of(event("PAYMENT.CAPTURE.REFUNDED", resource))
    assert refund.status is RefundStatus.COMPLETED
    assert refund.amount == Money(amount=10000, currency="PLN")
    assert (refund.order_id, refund.refund_id) == ("ord_01JDX", "ref_01JE")
    assert refund.provider_refund_id == "1Y107995YT783435V"
    assert refund.payment_id == "3C679366HH908993F"  # the refunded capture (its "up" link)
    assert refund.test is True


def test_a_refund_made_in_the_dashboard_is_named_by_its_capture() -> None:
    # Given the shape of a real PAYMENT.CAPTURE.REFUNDED resource: no custom_id, no invoice_id
    resource = PayPalSimulator.refund_resource(
        "0JF852973C016714D", "0.99", "USD", refund_id="1Y107995YT783435V"
    )
    refund = refund_of(event("PAYMENT.CAPTURE.REFUNDED", resource, live=True))
    assert refund.order_id is None
    assert refund.refund_id is None
    assert refund.payment_id == "0JF852973C016714D"
    assert refund.amount == Money(amount=99, currency="USD")


def test_an_invoice_id_without_our_refund_id_does_not_name_an_order() -> None:
    resource = PayPalSimulator.refund_resource("CAP1", "1.00", invoice_id="INV-2026-17")
    assert refund_of(event("PAYMENT.CAPTURE.REFUNDED", resource)).order_id is None


@pytest.mark.parametrize(
    ("status", "mapped"),
    [
        ("PENDING", RefundStatus.PENDING),
        ("FAILED", RefundStatus.FAILED),
        ("CANCELLED", RefundStatus.FAILED),
    ],
)
def test_refund_statuses(status: str, mapped: RefundStatus) -> None:
    resource = PayPalSimulator.refund_resource("CAP1", "1.00", status=status, custom_id="ref_1")
    assert refund_of(event("PAYMENT.CAPTURE.REFUNDED", resource)).status is mapped


def test_a_refund_naming_neither_capture_nor_order_is_malformed() -> None:
    resource = PayPalSimulator.refund_resource("CAP1", "1.00")
    resource["links"] = []
    with pytest.raises(MalformedWebhook):
        parse(event("PAYMENT.CAPTURE.REFUNDED", resource))


# -- the legacy sale samples --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["php", "python"])
def test_the_sdk_sale_samples_name_no_order_and_are_ignored(name: str) -> None:
    body = fixture_bytes(f"paypal/payment_sale_completed_{name}_sdk_sample.json")
    parsed = parse(body)
    assert parsed.topic == "PAYMENT.SALE.COMPLETED"
    assert parsed.event_id.startswith("WH-")
    parse_value(EventId, parsed.event_id, "event id")
    assert parsed.event is None
    assert parsed.ignored_reason == "legacy sale has no custom reference (not made by orderhub)"


def test_a_sale_whose_custom_names_an_order_is_paid() -> None:
    document = json.loads(fixture_bytes("paypal/payment_sale_completed_php_sdk_sample.json"))
    document["resource"]["custom"] = "ord_42"
    payment = payment_of(json.dumps(document).encode())
    assert payment.status is PaymentStatus.SUCCEEDED
    assert payment.order_id == "ord_42"
    assert payment.payment_id == "PAY-7F371669SL612941HK7RQFDQ"
    assert payment.amount == Money(amount=2100, currency="USD")
    assert payment.occurred_at == datetime(2016, 9, 21, 22, 0, 45, tzinfo=UTC)
    assert payment.test is True


def test_an_unhandled_event_type_is_ignored() -> None:
    parsed = parse(event("CUSTOMER.DISPUTE.CREATED", {"dispute_id": "PP-D-1"}))
    assert parsed.event is None
    assert parsed.ignored_reason == "event type CUSTOMER.DISPUTE.CREATED is not handled"


# -- hostile and broken bodies ------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b"\xff\xfe{}",
        b'{"event_type":"PAYMENT.CAPTURE.COMPLETED","create_time":"2026-12-01T10:00:00Z","resource":{}}',
        b'{"id":"WH-1","create_time":"2026-12-01T10:00:00Z","resource":{}}',
        b'{"id":"WH-1","event_type":"X","resource":{}}',
        b'{"id":"WH-1","event_type":"X","create_time":"2026-12-01T10:00:00","resource":{}}',
        b'{"id":"WH-1","event_type":"X","create_time":"2026-12-01T10:00:00Z"}',
        b'{"id":"WH 1","event_type":"X","create_time":"2026-12-01T10:00:00Z","resource":{}}',
        b'{"id":"WH-1","event_type":"X","create_time":"2026-12-01T10:00:00Z","resource":[]}',
        b'{"id":"'
        + b"W" * 300
        + b'","event_type":"X","create_time":"2026-12-01T10:00:00Z","resource":{}}',
        b'{"id":"WH-1","event_type":"X","create_time":"9999-12-31T23:59:59-05:00","resource":{}}',
        b'{"id":"WH-1","event_type":"X","create_time":"2026-12-01T10:00:00Z","resource":{"a":'
        + b"[" * 5000
        + b"]" * 5000
        + b"}}",
    ],
    ids=[
        "not-json",
        "array",
        "not-utf8",
        "no-id",
        "no-type",
        "no-time",
        "naive-time",
        "no-resource",
        "id-with-space",
        "resource-array",
        "id-too-long",
        "time-past-9999",
        "deep-nesting",
    ],
)
def test_a_broken_envelope_is_malformed(body: bytes) -> None:
    with pytest.raises(MalformedWebhook):
        parse(body)


@pytest.mark.parametrize(
    "change",
    [
        {"amount": {"currency_code": "PLN", "value": "-1.00"}},
        {"amount": {"currency_code": "PLN", "value": "1e400"}},
        {"amount": {"currency_code": "PLN", "value": "9" * 40}},
        {"amount": {"currency_code": "PLN", "value": 12.5}},
        {"amount": {"currency_code": "zł", "value": "1.00"}},
        {"amount": {"currency_code": "JPY", "value": "1.5"}},
        {"amount": None},
        {"id": 12345},
        {"id": ""},
        {"custom_id": {"nested": True}},
        {"custom_id": "x" * 5000},
        {"status": None},
        {"supplementary_data": {"related_ids": {"order_id": "has space"}}},
        {"links": "nope"},
        {"create_time": "yesterday"},
    ],
)
def test_a_capture_with_wrong_fields_is_malformed(change: dict[str, Any]) -> None:
    with pytest.raises(MalformedWebhook):
        parse(event("PAYMENT.CAPTURE.COMPLETED", capture(**change)))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
EVENT_TYPES = st.sampled_from(
    [
        "PAYMENT.CAPTURE.COMPLETED",
        "PAYMENT.CAPTURE.REFUNDED",
        "CHECKOUT.ORDER.APPROVED",
        "PAYMENT.SALE.COMPLETED",
        "X",
    ]
)


@settings(deadline=None, max_examples=200)
@given(
    event_type=EVENT_TYPES,
    resource=st.dictionaries(
        st.sampled_from(
            [
                "id",
                "status",
                "amount",
                "custom_id",
                "links",
                "purchase_units",
                "supplementary_data",
                "state",
                "custom",
                "invoice_id",
                "payment_source",
            ]
        ),
        JSON,
        max_size=8,
    ),
)
def test_any_resource_maps_or_is_malformed_never_another_error(
    event_type: str, resource: dict[str, Any]
) -> None:
    try:
        parsed = parse(event(event_type, resource))
    except MalformedWebhook:
        return
    parse_value(EventId, parsed.event_id, "event id")


@settings(deadline=None, max_examples=200)
@given(body=st.binary(max_size=300) | JSON.map(lambda value: json.dumps(value).encode()))
def test_any_body_maps_or_is_malformed(body: bytes) -> None:
    with contextlib.suppress(MalformedWebhook):
        parse(body)
