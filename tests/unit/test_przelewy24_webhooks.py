"""Przelewy24 notifications: the sign with the CRC key (and what it does not cover), our merchant
and shop only, transaction and refund notifications mapped to canonical events, hostile bodies
refused as malformed."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from shared.inbox.contract import (
    EventId,
    Headers,
    MalformedWebhook,
    ParsedWebhook,
    SignatureMismatch,
    WebhookRequest,
)
from shared.inbox.events import PaymentReported, RefundReported
from shared.kernel.money import Money
from shared.payments.domain import PaymentEvent, PaymentStatus, RefundEvent, RefundStatus
from shared.providers.payments.przelewy24.simulator import Przelewy24Simulator
from shared.providers.payments.przelewy24.webhook import Przelewy24Webhooks

SECRETS = {
    "merchant_id": "123456",
    "pos_id": "123457",
    "crc": "f1e2d3c4b5a69788",
    "api_key": "0123456789abcdef0123456789abcdef",
}
ADAPTER = Przelewy24Webhooks()
P24 = Przelewy24Simulator.from_secret(SECRETS)
RECEIVED = datetime(2026, 12, 1, 10, 30, tzinfo=UTC)
REFUND_ID = "rf_0123456789abcdef01234567"
EVENT_ID: TypeAdapter[str] = TypeAdapter(EventId)


def request(body: bytes) -> WebhookRequest:
    return WebhookRequest(
        Headers({"Content-Type": "application/json"}), raw_body=body, received_at=RECEIVED
    )


def accepted(body: bytes) -> ParsedWebhook:
    ADAPTER.verify(request(body), SECRETS)
    parsed = ADAPTER.parse(request(body))
    EVENT_ID.validate_python(parsed.event_id)
    return parsed


def payment_of(body: bytes) -> PaymentEvent:
    event = accepted(body).event
    assert isinstance(event, PaymentReported)
    return event.payment


def refund_of(body: bytes) -> RefundEvent:
    event = accepted(body).event
    assert isinstance(event, RefundReported)
    return event.refund


def notification(**changes: Any) -> bytes:
    values = {"session_id": "ord_01HZX/2", "order_id": 316000123, "amount": 40994}
    return P24.transaction_notification(**{**values, **changes}).body


def refund_notification(**changes: Any) -> bytes:
    values: dict[str, Any] = {
        "order_id": 316000123,
        "session_id": "ord_01HZX/2",
        "refunds_uuid": REFUND_ID,
        "request_id": REFUND_ID,
        "amount": 5000,
        "timestamp": 1796121000,
    }
    return P24.refund_notification(**{**values, **changes}).body


def resigned(body: bytes, **changes: Any) -> bytes:
    """The same notification with some values changed and the original sign kept."""
    return json.dumps({**json.loads(body), **changes}).encode()


# -- the sign, by hand from the docs ------------------------------------------------------------


def test_a_notification_signed_by_hand_from_the_documented_string_verifies() -> None:
    # Given the documented sign string, written out (compact, slashes and letters unescaped)
    signed = (
        '{"merchantId":123456,"posId":123457,"sessionId":"ord_01HZX/2","amount":40994,'
        '"originAmount":40994,"currency":"PLN","orderId":316000123,"methodId":154,'
        '"statement":"p24/zamówienie 7","crc":"f1e2d3c4b5a69788"}'
    )
    digest = hashlib.sha384(signed.encode()).hexdigest()
    fields = json.loads(signed)
    del fields["crc"]
    # When P24 posts it (any JSON spelling of the same values)
    body = json.dumps({**fields, "sign": digest}, indent=1).encode()
    # Then it is accepted
    assert payment_of(body).amount == Money(amount=40994, currency="PLN")


def test_what_the_simulator_posts_is_php_default_json_and_verifies() -> None:
    body = notification(statement="p24/ąę")
    assert b'"sessionId":"ord_01HZX\\/2"' in body
    assert b"\\u0105" in body  # PHP's json_encode without flags escapes non-ASCII
    ADAPTER.verify(request(body), SECRETS)


@pytest.mark.parametrize(
    "changes",
    [{"amount": 40995}, {"originAmount": 1}, {"sessionId": "ord_01HZX/3"}, {"methodId": 25}],
    ids=["amount", "originAmount", "sessionId", "methodId"],
)
def test_a_changed_value_breaks_the_sign(changes: dict[str, Any]) -> None:
    with pytest.raises(SignatureMismatch, match="sign does not match"):
        ADAPTER.verify(request(resigned(notification(), **changes)), SECRETS)


def test_a_changed_sign_is_refused() -> None:
    body = json.loads(notification())
    body["sign"] = ("0" if body["sign"][0] != "0" else "1") + body["sign"][1:]
    with pytest.raises(SignatureMismatch):
        ADAPTER.verify(request(json.dumps(body).encode()), SECRETS)


def test_another_crc_key_is_refused() -> None:
    with pytest.raises(SignatureMismatch):
        ADAPTER.verify(request(notification()), {**SECRETS, "crc": "0000000000000000"})


def other_algorithm(digest: Any) -> bytes:
    """The notification's fields signed some other way than P24's."""
    body = json.loads(notification())
    body["sign"] = digest(body)
    return json.dumps(body).encode()


def fields_json(body: dict[str, Any], with_crc: bool) -> bytes:
    names = ["merchantId", "posId", "sessionId", "amount", "originAmount", "currency"]
    names += ["orderId", "methodId", "statement"]
    document = {name: body[name] for name in names}
    if with_crc:
        document["crc"] = SECRETS["crc"]
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


@pytest.mark.parametrize(
    "digest",
    [
        lambda b: hmac.new(SECRETS["crc"].encode(), fields_json(b, False), "sha384").hexdigest(),
        lambda b: hashlib.sha384(fields_json(b, False)).hexdigest(),
        lambda b: hashlib.sha3_384(fields_json(b, True)).hexdigest(),
        lambda b: hashlib.sha384(json.dumps(json.loads(fields_json(b, True))).encode()).hexdigest(),
    ],
    ids=["hmac-sha384", "no-crc", "sha3-384", "json-with-spaces"],
)
def test_another_algorithm_or_encoding_is_refused(digest: Any) -> None:
    with pytest.raises(SignatureMismatch):
        ADAPTER.verify(request(other_algorithm(digest)), SECRETS)


def test_whitespace_is_not_covered_by_the_sign() -> None:
    # The sign is over the values, not the bytes: SignedRequest.tampered() (a space added)
    # still verifies, so tests of tampering with P24 must change a value.
    tampered = P24.transaction_notification(session_id="ord_1/1", order_id=5, amount=1).tampered()
    ADAPTER.verify(request(tampered.body), SECRETS)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"merchant_id": 999999}, "another merchant"),
        ({"pos_id": 999999}, "another shop"),
    ],
)
def test_a_notification_for_another_merchant_or_shop_is_refused(
    changes: dict[str, Any], reason: str
) -> None:
    # Given a notification signed with our CRC key but naming another account
    with pytest.raises(SignatureMismatch, match=reason):
        ADAPTER.verify(request(notification(**changes)), SECRETS)


def test_a_refund_notification_for_another_merchant_is_refused() -> None:
    with pytest.raises(SignatureMismatch, match="another merchant"):
        ADAPTER.verify(request(refund_notification(merchant_id=1)), SECRETS)


def test_a_refund_notification_with_a_changed_amount_is_refused() -> None:
    with pytest.raises(SignatureMismatch):
        ADAPTER.verify(request(resigned(refund_notification(), amount=50000)), SECRETS)


def test_a_refund_notification_with_a_changed_status_is_refused() -> None:
    with pytest.raises(SignatureMismatch):
        ADAPTER.verify(request(resigned(refund_notification(), status=1)), SECRETS)


# -- transaction notifications ------------------------------------------------------------------


def test_a_transaction_notification_is_authorized_money_to_verify() -> None:
    parsed = accepted(notification(method_id=154))
    assert (parsed.event_id, parsed.topic) == ("316000123:notified", "transaction.notification")
    assert parsed.audit_headers == {"P24-Order-Id": "316000123", "P24-Session-Id": "ord_01HZX/2"}
    assert isinstance(parsed.event, PaymentReported)
    payment = parsed.event.payment
    assert payment.status is PaymentStatus.AUTHORIZED
    assert payment.needs_capture is True
    assert (payment.provider, payment.provider_event_id) == ("przelewy24", "316000123:notified")
    assert payment.payment_id == "316000123"
    assert (payment.order_id, payment.attempt) == ("ord_01HZX", 2)
    assert payment.amount == Money(amount=40994, currency="PLN")
    assert payment.method == "blik"
    assert payment.provider_data == {"p24_order_id": "316000123", "session_id": "ord_01HZX/2"}
    assert payment.occurred_at == RECEIVED  # the notification carries no time of its own
    assert payment.test is False


def test_a_resent_notification_has_the_same_dedupe_key() -> None:
    # P24 sends the same notification again after 3, 5, 15 ... minutes until verified.
    first, again = notification(), notification()
    assert first == again
    assert accepted(first).event_id == accepted(again).event_id == "316000123:notified"


@pytest.mark.parametrize(
    ("method_id", "method"),
    [
        (154, "blik"),
        (181, "blik"),
        (218, "card"),
        (241, "card"),
        (242, "card"),
        (252, "apple_pay"),
        (264, "google_pay"),
        (25, "bank_link"),
        (31, "bank_link"),
        (0, None),
    ],
)
def test_the_method_comes_from_the_method_id(method_id: int, method: str | None) -> None:
    assert payment_of(notification(method_id=method_id)).method == method


def test_the_paid_amount_is_reported_not_the_registered_one() -> None:
    payment = payment_of(notification(amount=40000, origin_amount=40994))
    assert payment.amount.amount == 40000


def test_a_session_id_without_an_attempt_names_the_order_alone() -> None:
    payment = payment_of(notification(session_id="ord_7"))
    assert (payment.order_id, payment.attempt) == ("ord_7", None)


def test_a_lowercase_currency_is_signed_as_sent_and_reported_in_iso_form() -> None:
    assert payment_of(notification(currency="eur")).amount == Money(amount=40994, currency="EUR")


def test_an_int64_order_id_survives() -> None:
    payment = payment_of(notification(order_id=2**40 + 7))
    assert payment.payment_id == str(2**40 + 7)


# -- refund notifications -----------------------------------------------------------------------


def test_a_refund_notification_with_status_0_completes_the_refund() -> None:
    parsed = accepted(refund_notification())
    assert (parsed.event_id, parsed.topic) == (f"refund:{REFUND_ID}:0", "refund.notification")
    assert isinstance(parsed.event, RefundReported)
    refund = parsed.event.refund
    assert refund.status is RefundStatus.COMPLETED
    assert (refund.refund_id, refund.provider_refund_id) == (REFUND_ID, REFUND_ID)
    assert (refund.payment_id, refund.order_id) == ("316000123", "ord_01HZX")
    assert refund.amount == Money(amount=5000, currency="PLN")
    assert refund.occurred_at == datetime.fromtimestamp(1796121000, tz=UTC)
    assert refund.failure_reason is None


def test_a_refund_notification_with_status_1_fails_the_refund() -> None:
    refund = refund_of(refund_notification(status=1))
    assert refund.status is RefundStatus.FAILED
    assert refund.failure_reason is not None
    assert refund.provider_event_id == f"refund:{REFUND_ID}:1"


def test_the_request_id_is_the_providers_refund_id() -> None:
    refund = refund_of(refund_notification(request_id="req-77"))
    assert (refund.refund_id, refund.provider_refund_id) == (REFUND_ID, "req-77")


def test_the_kind_is_told_by_the_fields() -> None:
    assert accepted(refund_notification()).topic == "refund.notification"
    assert accepted(notification()).topic == "transaction.notification"


def test_a_signed_refund_of_nothing_is_malformed() -> None:
    body = refund_notification(amount=0)
    ADAPTER.verify(request(body), SECRETS)
    with pytest.raises(MalformedWebhook, match="positive"):
        ADAPTER.parse(request(body))


def test_a_signed_refund_naming_no_refund_is_malformed() -> None:
    body = refund_notification(refunds_uuid="", request_id="")
    ADAPTER.verify(request(body), SECRETS)
    with pytest.raises(MalformedWebhook, match="refund_id"):
        ADAPTER.parse(request(body))


# -- hostile and malformed bodies ---------------------------------------------------------------


def changed(body: bytes, **changes: Any) -> bytes:
    document = json.loads(body)
    for name, value in changes.items():
        if value is ...:
            del document[name]
        else:
            document[name] = value
    return json.dumps(document).encode()


MALFORMED = {
    "not-json": b"merchantId=1&sign=2",
    "array": b"[1, 2]",
    "string": b'"hello"',
    "empty": b"",
    "not-utf8": notification().replace(b"PLN", b"PL\xff"),
    "deep": b'{"a":' * 5000 + b"1" + b"}" * 5000,
    "huge-number": b'{"amount": 1' + b"0" * 5000 + b"}",
    "no-sign": changed(notification(), sign=...),
    "short-sign": changed(notification(), sign="ab" * 47),
    "not-hex-sign": changed(notification(), sign="zz" * 48),
    "bool-amount": changed(notification(), amount=True),
    "float-amount": changed(notification(), amount=40994.0),
    "string-order-id": changed(notification(), orderId="316000123"),
    "bool-merchant": changed(notification(), merchantId=True),
    "negative-amount": changed(notification(), amount=-1),
    "huge-order-id": changed(notification(), orderId=2**64),
    "zero-order-id": changed(notification(), orderId=0),
    "empty-session": changed(notification(), sessionId=""),
    "long-session": changed(notification(), sessionId="x" * 101),
    "bad-currency": changed(notification(), currency="PL"),
    "null-statement": changed(notification(), statement=None),
    "no-method": changed(notification(), methodId=...),
    "refund-status-2": changed(refund_notification(), status=2),
    "refund-status-true": changed(refund_notification(), status=True),
    "refund-non-ascii-uuid": changed(refund_notification(), refundsUuid="rf_ż"),
    "refund-time-out-of-range": changed(refund_notification(), timestamp=10**12),
    "refund-no-merchant": changed(refund_notification(), merchantId=...),
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_body_is_refused_by_verify_and_parse(body: bytes) -> None:
    with pytest.raises(MalformedWebhook):
        ADAPTER.verify(request(body), SECRETS)
    with pytest.raises(MalformedWebhook):
        ADAPTER.parse(request(body))


def test_unknown_fields_are_ignored() -> None:
    body = changed(notification(), extra={"nested": [1, 2]}, flag=True)
    assert payment_of(body).payment_id == "316000123"


def test_a_signed_unicode_session_that_no_payment_can_name_is_malformed() -> None:
    body = notification(session_id=" ord_1/1")  # surrounding blanks: not an order reference
    ADAPTER.verify(request(body), SECRETS)
    with pytest.raises(MalformedWebhook):
        ADAPTER.parse(request(body))


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)
FIELDS = st.sampled_from(
    [
        "merchantId",
        "posId",
        "sessionId",
        "amount",
        "originAmount",
        "currency",
        "orderId",
        "methodId",
        "statement",
        "sign",
        "refundsUuid",
        "requestId",
        "timestamp",
        "status",
    ]
)


def outcome(body: bytes) -> str:
    """Only our two refusals may come out of verify and parse, whatever the body."""
    with contextlib.suppress(SignatureMismatch, MalformedWebhook):
        ADAPTER.verify(request(body), SECRETS)
    try:
        ADAPTER.parse(request(body))
    except MalformedWebhook:
        return "refused"
    return "parsed"


@settings(deadline=None, max_examples=300)
@given(
    base=st.sampled_from([notification(), refund_notification()]),
    changes=st.dictionaries(FIELDS, JSON_VALUES, max_size=4),
)
def test_any_field_values_give_only_our_refusals(base: bytes, changes: dict[str, Any]) -> None:
    outcome(json.dumps({**json.loads(base), **changes}).encode())


@settings(deadline=None, max_examples=200)
@given(raw=st.binary(max_size=300))
def test_any_bytes_give_only_our_refusals(raw: bytes) -> None:
    assert outcome(raw) == "refused"
