"""PayU: OpenPayu-Signature checked against the official openpayu_php vectors (and its SDK's
rules for algorithm names), order and refund notifications mapped to canonical events, and
hostile bodies refused as malformed, never with another exception."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.inbox.contract import (
    EventId,
    Headers,
    MalformedWebhook,
    ParsedWebhook,
    ProviderNotConfigured,
    SignatureMismatch,
    WebhookRequest,
    parse_value,
)
from shared.kernel.money import Money
from shared.payments.domain import PaymentEvent, PaymentStatus, RefundEvent, RefundStatus
from shared.payments.inbound import PaymentReported, RefundReported
from shared.providers.payments.payu.simulator import PayUSimulator
from shared.providers.payments.payu.webhook import (
    PayUWebhooks,
    compute_signature,
    parse_signature_header,
    signature_header,
    verify_signature,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "payu"
KEY = "b6ca15b0d1020e8094d9b5f8d163db54"
POS = "300746"
SECRETS = {"second_key": KEY, "pos_id": POS}
RECEIVED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def vectors() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(fixture("signature_test_vectors_openpayu_php.json"))
    return loaded


def completed_sample() -> bytes:
    """The docs' COMPLETED sample without its JS comment (its .source.txt says to strip it)."""
    text = fixture("order_notification_completed_docs_pl.txt").decode()
    return re.sub(r" *//lub [^\n]*", "", text).encode()


def request(body: bytes, headers: Mapping[str, str] | None = None) -> WebhookRequest:
    return WebhookRequest(Headers(headers or {}), raw_body=body, received_at=RECEIVED)


def signed(body: bytes, algorithm: str = "MD5", key: str = KEY) -> WebhookRequest:
    return request(body, {"OpenPayu-Signature": signature_header(body, key, algorithm)})


def simulator() -> PayUSimulator:
    return PayUSimulator(pos_id=POS, second_key=KEY, client_id=POS, client_secret="secret")


def parse(body: bytes) -> ParsedWebhook:
    return PayUWebhooks().parse(request(body))


def payment_of(body: bytes) -> PaymentEvent:
    parsed = parse(body)
    assert isinstance(parsed.event, PaymentReported), parsed.ignored_reason
    return parsed.event.payment


def refund_of(body: bytes) -> RefundEvent:
    parsed = parse(body)
    assert isinstance(parsed.event, RefundReported), parsed.ignored_reason
    return parsed.event.refund


def order_body(status: str, **changes: Any) -> bytes:
    document = PayUSimulator.order_document("ord_7/3", 4999, order_id="ORDER7", pos_id=POS)
    document.update(changes)
    return simulator().notification(document, status).body


def raw_order(**changes: str) -> bytes:
    """An order notification from raw JSON values (some not even JSON Python can write)."""
    fields = {
        "orderId": '"O"',
        "extOrderId": '"a"',
        "currencyCode": '"PLN"',
        "totalAmount": '"100"',
        "status": '"COMPLETED"',
        **changes,
    }
    return ('{"order": {' + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}}").encode()


def raw_refund(**changes: str) -> bytes:
    fields = {
        "refundId": '"1"',
        "amount": '"5"',
        "currencyCode": '"PLN"',
        "status": '"FINALIZED"',
        **changes,
    }
    inner = ", ".join(f'"{k}": {v}' for k, v in fields.items() if v)
    return ('{"orderId": "O", "refund": {' + inner + "}}").encode()


# -- the official vectors -------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-1", "SHA256", "SHA384", "SHA512"])
def test_every_official_vector_is_reproduced_and_verifies(algorithm: str) -> None:
    vector = vectors()
    message, key = vector["message"].encode(), vector["second_key"]
    expected = vector["signatures"][algorithm]
    assert compute_signature(message, key, algorithm) == expected
    header = f"sender=checkout;signature={expected};algorithm={algorithm};content=DOCUMENT"
    assert verify_signature(message, header, key) == algorithm


def test_the_official_negative_case_is_rejected() -> None:
    vector = vectors()
    negative = vector["negative_case"]
    header = f"signature={negative['signature']};algorithm={negative['algorithm']}"
    with pytest.raises(SignatureMismatch, match="does not match"):
        verify_signature(vector["message"].encode(), header, vector["second_key"])


def test_the_sdk_parse_example_parses_to_the_same_pairs() -> None:
    example = vectors()["parse_signature_example"]
    assert parse_signature_header(example["header"]) == example["parsed"]


# openpayu_php Util::toHashAlgorithm renames these exact spellings, then upper-cases the name.
SDK_SPELLINGS = [
    ("MD5", "MD5"),
    ("md5", "MD5"),
    ("SHA1", "SHA-1"),
    ("sha1", "SHA-1"),
    ("SHA-1", "SHA-1"),
    ("SHA256", "SHA256"),
    ("sha256", "SHA256"),
    ("SHA-256", "SHA256"),
    ("SHA", "SHA256"),
    ("SHA384", "SHA384"),
    ("SHA-384", "SHA384"),
    ("SHA512", "SHA512"),
    ("Sha512", "SHA512"),
    ("SHA-512", "SHA512"),
]


@pytest.mark.parametrize(("spelling", "vector_name"), SDK_SPELLINGS)
def test_every_spelling_the_sdk_accepts_is_accepted(spelling: str, vector_name: str) -> None:
    vector = vectors()
    signature = vector["signatures"][vector_name]
    header = f"algorithm={spelling};signature={signature}"
    assert verify_signature(vector["message"].encode(), header, vector["second_key"]) == spelling


@pytest.mark.parametrize(
    "spelling", ["sha-256", "sha", "SHA-224", "SHA3-256", "HMAC-SHA256", "UNKNOWN-ALG", "MD 5"]
)
def test_spellings_the_sdk_refuses_are_refused(spelling: str) -> None:
    vector = vectors()
    header = f"algorithm={spelling};signature={vector['signatures']['SHA256']}"
    with pytest.raises(SignatureMismatch, match="not PayU's") as refused:
        verify_signature(vector["message"].encode(), header, vector["second_key"])
    assert refused.value.status_code == 401


def test_hex_is_compared_case_insensitively() -> None:
    vector = vectors()
    upper = vector["signatures"]["MD5"].upper()
    verify_signature(vector["message"].encode(), f"signature={upper};algorithm=MD5", "SignatureKey")


@pytest.mark.parametrize(
    "tamper",
    ["body", "signature", "algorithm", "key"],
)
def test_a_tampered_vector_is_rejected(tamper: str) -> None:
    vector = vectors()
    message, key = vector["message"].encode(), vector["second_key"]
    signature, algorithm = vector["signatures"]["SHA256"], "SHA256"
    if tamper == "body":
        message += b" "
    elif tamper == "signature":
        signature = ("0" if signature[0] != "0" else "1") + signature[1:]
    elif tamper == "algorithm":
        algorithm = "SHA512"  # a SHA-256 signature labelled SHA-512
    else:
        key += "x"
    with pytest.raises(SignatureMismatch):
        verify_signature(message, f"signature={signature};algorithm={algorithm}", key)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("", "key=value"),
        ("TEST", "key=value"),
        ("signature=a=b;algorithm=MD5", "key=value"),
        ("sender=checkout;algorithm=MD5", "no signature"),
        ("sender=checkout;signature=abc", "no algorithm"),
        ("signature=abc;signature=abd;algorithm=MD5", "twice"),
    ],
)
def test_garbage_headers_are_rejected(header: str, reason: str) -> None:
    with pytest.raises(SignatureMismatch, match=reason):
        verify_signature(b"{}", header, KEY)


def test_the_pairs_may_come_in_any_order_with_a_trailing_semicolon() -> None:
    body = b'{"order": {}}'
    signature = compute_signature(body, KEY, "SHA-256")
    header = f"content=DOCUMENT; algorithm=SHA-256 ;signature={signature};sender=checkout;"
    assert verify_signature(body, header, KEY) == "SHA-256"


# -- the adapter's verify -------------------------------------------------------------------------


def docs_headers() -> dict[str, str]:
    lines = fixture("notification_headers_docs_pl.txt").decode().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def test_the_docs_header_example_has_the_documented_shape_but_signs_no_sample() -> None:
    # Given the docs' example headers (their signature is illustrative: .source.txt)
    headers = docs_headers()
    pairs = parse_signature_header(headers["OpenPayu-Signature"])
    assert pairs == {
        "sender": "checkout",
        "signature": "d47d8a771d558c29285887febddd9327",
        "algorithm": "MD5",
        "content": "DOCUMENT",
    }
    assert headers["X-OpenPayU-Signature"] == headers["OpenPayu-Signature"]
    # When they arrive with the docs' sample body, Then the signature does not match it
    body = fixture("order_notification_canceled_docs_pl.json")
    with pytest.raises(SignatureMismatch, match="does not match"):
        PayUWebhooks().verify(request(body, headers), SECRETS)


@pytest.mark.parametrize(
    "name",
    ["OpenPayu-Signature", "openpayu-signature", "X-OpenPayU-Signature", "x-openpayu-signature"],
)
def test_either_header_name_in_any_case_is_read(name: str) -> None:
    body = fixture("order_notification_canceled_docs_pl.json")
    PayUWebhooks().verify(request(body, {name: signature_header(body, KEY)}), SECRETS)


def test_one_good_header_is_enough_when_both_are_sent() -> None:
    body = fixture("order_notification_canceled_docs_pl.json")
    headers = {
        "OpenPayu-Signature": "sender=checkout;signature=00;algorithm=MD5",
        "X-OpenPayU-Signature": signature_header(body, KEY, "SHA-512"),
    }
    PayUWebhooks().verify(request(body, headers), SECRETS)


def test_a_missing_header_a_wrong_key_and_a_tampered_body_are_rejected() -> None:
    body = fixture("refund_notification_finalized_docs_pl.json")
    adapter = PayUWebhooks()
    with pytest.raises(SignatureMismatch, match="missing OpenPayu-Signature"):
        adapter.verify(request(body), SECRETS)
    with pytest.raises(SignatureMismatch, match="does not match"):
        adapter.verify(signed(body, key="another-key"), SECRETS)
    tampered = request(body.replace(b"15516", b"95516"), signed(body).headers)
    with pytest.raises(SignatureMismatch, match="does not match"):
        adapter.verify(tampered, SECRETS)


def test_an_unconfigured_second_key_is_not_a_key() -> None:
    body = b'{"order": {}}'
    with pytest.raises(ProviderNotConfigured):
        PayUWebhooks().verify(signed(body, key=""), {"second_key": "", "pos_id": POS})


def test_a_notification_for_another_pos_is_refused() -> None:
    # Given a body signed with this POS's second key that names another POS
    body = order_body("COMPLETED", merchantPosId="145227")
    # Then it is refused; the same body naming this POS passes
    with pytest.raises(SignatureMismatch, match="POS 145227"):
        PayUWebhooks().verify(signed(body), SECRETS)
    PayUWebhooks().verify(signed(order_body("COMPLETED")), SECRETS)


def test_the_docs_placeholder_pos_and_an_unset_pos_are_not_checked() -> None:
    sample = fixture("order_notification_canceled_docs_pl.json")  # "{Id punktu płatności (pos_id)}"
    PayUWebhooks().verify(signed(sample), SECRETS)
    PayUWebhooks().verify(signed(order_body("PENDING", merchantPosId="1")), {"second_key": KEY})


# -- order notifications --------------------------------------------------------------------------


def test_the_docs_canceled_sample_maps_to_a_cancelled_payment() -> None:
    parsed = parse(fixture("order_notification_canceled_docs_pl.json"))
    assert (parsed.event_id, parsed.topic) == (
        "LDLW5N7MF4140324GUEST000P01:CANCELED",
        "order.CANCELED",
    )
    assert parsed.audit_headers == {"PayU-Notification": "order", "PayU-Status": "CANCELED"}
    assert isinstance(parsed.event, PaymentReported)
    payment = parsed.event.payment
    assert payment.status is PaymentStatus.CANCELLED
    assert payment.amount == Money(amount=200, currency="PLN")
    assert (payment.order_id, payment.attempt) == ("Id zamówienia w Twoim sklepie", None)
    assert (payment.provider, payment.payment_id) == ("payu", "LDLW5N7MF4140324GUEST000P01")
    assert payment.provider_event_id == parsed.event_id
    assert payment.provider_data == {
        "payu_order_id": "LDLW5N7MF4140324GUEST000P01",
        "ext_order_id": "Id zamówienia w Twoim sklepie",
    }
    assert payment.failure_reason == "PayU order CANCELED"
    assert payment.occurred_at == RECEIVED  # the sample has no localReceiptDateTime
    assert payment.method is None and payment.risk is None and not payment.needs_capture


def test_the_docs_completed_sample_maps_to_a_paid_payment_at_its_receipt_time() -> None:
    payment = payment_of(completed_sample())
    assert payment.status is PaymentStatus.SUCCEEDED
    assert payment.amount == Money(amount=200, currency="PLN")
    assert payment.method == "bank_link"  # payMethod {"type": "PBL"}
    assert payment.occurred_at == datetime(2016, 3, 2, 11, 58, 14, 828000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "expected", "needs_capture"),
    [
        ("NEW", PaymentStatus.PENDING, False),
        ("PENDING", PaymentStatus.PENDING, False),
        ("WAITING_FOR_CONFIRMATION", PaymentStatus.AUTHORIZED, True),
        ("COMPLETED", PaymentStatus.SUCCEEDED, False),
        ("CANCELED", PaymentStatus.CANCELLED, False),
        ("REJECTED", PaymentStatus.CANCELLED, False),
    ],
)
def test_every_order_status_maps(status: str, expected: PaymentStatus, needs_capture: bool) -> None:
    # Given an order orderhub opened as attempt 3 of ord_7
    parsed = parse(order_body(status))
    # Then the status, the order and attempt from extOrderId and the ids are PayU's
    assert parsed.event_id == f"ORDER7:{status}"
    assert isinstance(parsed.event, PaymentReported)
    payment = parsed.event.payment
    assert (payment.status, payment.needs_capture) == (expected, needs_capture)
    assert (payment.order_id, payment.attempt) == ("ord_7", 3)
    assert payment.amount == Money(amount=4999, currency="PLN")
    assert payment.provider_data == {"payu_order_id": "ORDER7", "ext_order_id": "ord_7/3"}


def test_a_repeated_status_has_the_same_dedupe_key_and_a_late_pending_still_maps() -> None:
    sim = simulator()
    document = PayUSimulator.order_document("ord_1/1", 100, order_id="O1", pos_id=POS)
    first = parse(sim.notification(document, "PENDING").body)
    completed = parse(sim.notification(document, "COMPLETED").body)
    again = parse(sim.notification(document, "PENDING").body)
    assert first.event_id == again.event_id == "O1:PENDING" != completed.event_id
    # the payment reducer's rank keeps a late PENDING from downgrading the paid record
    assert isinstance(again.event, PaymentReported)
    assert again.event.payment.status is PaymentStatus.PENDING


@pytest.mark.parametrize(
    ("pay_method", "method"),
    [
        ({"type": "PBL", "value": "blik"}, "blik"),
        ({"type": "BLIK_AUTHORIZATION_CODE"}, "blik"),
        ({"type": "PBL", "value": "m"}, "bank_link"),
        ({"type": "PBL"}, "bank_link"),
        ({"type": "CARD_TOKEN"}, "card"),
        ({"type": "PBL", "value": "c"}, "card"),
        ({"type": "INSTALLMENTS"}, "installments"),
        ({"type": "PBL", "value": "ai"}, "installments"),
        ({"type": "PBL", "value": "dpp"}, "pay_later"),
        ({"type": "PBL", "value": "dpt"}, "pay_later"),
        ({"type": "PBL", "value": "dpkl"}, "pay_later"),
        ({"type": "PBL", "value": "jp"}, "apple_pay"),
        ({"type": "PBL", "value": "ap"}, "google_pay"),
        ({"type": "PAYMENT_WALL"}, None),
        ({"amount": "4999"}, None),
    ],
)
def test_the_pay_method_maps_to_orderhubs_words(
    pay_method: dict[str, str], method: str | None
) -> None:
    assert payment_of(order_body("COMPLETED", payMethod=pay_method)).method == method


def test_an_unknown_status_is_kept_with_a_reason_not_dropped_silently() -> None:
    parsed = parse(order_body("SUSPENDED"))
    assert parsed.event is None and parsed.event_id == "ORDER7:SUSPENDED"
    assert parsed.ignored_reason == "PayU order status SUSPENDED is not one orderhub knows"


def test_an_order_without_ext_order_id_is_kept_with_a_reason() -> None:
    document = PayUSimulator.order_document("x", 100, order_id="O2", pos_id=POS)
    del document["extOrderId"]
    parsed = parse(simulator().notification(document, "COMPLETED").body)
    assert parsed.event is None and parsed.ignored_reason is not None
    assert "extOrderId" in parsed.ignored_reason


def test_a_stored_body_maps_again_to_the_same_event_with_only_its_audit_headers() -> None:
    # Given a delivery verified and parsed as it arrived
    delivery = signed(order_body("COMPLETED"))
    PayUWebhooks().verify(delivery, SECRETS)
    first = PayUWebhooks().parse(delivery)
    # When the stream router parses the stored bytes again with the audit headers only
    again = PayUWebhooks().parse(request(delivery.raw_body, first.audit_headers))
    # Then it is the same event
    assert again == first


def test_an_unusable_receipt_time_falls_back_to_the_delivery_time() -> None:
    for value in ("2016-03-02T12:58:14", "yesterday", "9999-12-31T23:59:59-05:00"):
        body = json.loads(completed_sample())
        body["localReceiptDateTime"] = value
        assert payment_of(json.dumps(body).encode()).occurred_at == RECEIVED


# -- refund notifications -------------------------------------------------------------------------


def test_the_docs_finalized_refund_sample_maps_to_a_completed_refund() -> None:
    parsed = parse(fixture("refund_notification_finalized_docs_pl.json"))
    assert (parsed.event_id, parsed.topic) == ("refund:912128:FINALIZED", "refund.FINALIZED")
    assert isinstance(parsed.event, RefundReported)
    refund = parsed.event.refund
    assert refund.status is RefundStatus.COMPLETED
    assert refund.amount == Money(amount=15516, currency="PLN")
    assert (refund.refund_id, refund.provider_refund_id) == (None, "912128")
    assert (refund.order_id, refund.payment_id) == (
        "Id zamówienia w Twoim sklepie",
        "2DVZMPMFPN140219GUEST000P01",
    )
    assert refund.occurred_at == datetime(2014, 8, 20, 17, 43, 31, 418000, tzinfo=UTC)
    assert refund.failure_reason is None


def test_a_canceled_refund_of_orderhubs_fails_with_its_reason() -> None:
    document = PayUSimulator.order_document("ord_9/2", 5000, order_id="O9", pos_id=POS)
    body = (
        simulator()
        .refund_notification(
            document, amount=1500, status="CANCELED", refund_id="777", ext_refund_id="rf_42"
        )
        .body
    )
    parsed = parse(body)
    assert parsed.event_id == "refund:777:CANCELED"
    refund = refund_of(body)
    assert refund.status is RefundStatus.FAILED
    assert (refund.refund_id, refund.provider_refund_id) == ("rf_42", "777")
    assert (refund.order_id, refund.payment_id) == ("ord_9", "O9")
    assert refund.amount == Money(amount=1500, currency="PLN")
    assert refund.failure_reason


def test_a_refund_made_in_the_panel_is_named_by_payus_ids() -> None:
    refund = refund_of(raw_refund())
    assert (refund.order_id, refund.payment_id, refund.refund_id) == (None, "O", None)
    assert refund.provider_refund_id == "1"


def test_a_refund_notification_without_order_id_or_with_an_unknown_status() -> None:
    body = json.loads(fixture("refund_notification_finalized_docs_pl.json"))
    body["refund"]["status"] = "WITHDRAWN"
    parsed = parse(json.dumps(body).encode())
    assert parsed.event is None and parsed.event_id == "refund:912128:WITHDRAWN"
    del body["orderId"]
    with pytest.raises(MalformedWebhook, match="orderId"):
        parse(json.dumps(body).encode())


# -- hostile and malformed bodies -----------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'"order"',
        b"{}",
        b'{"order": null}',
        b'{"order": "LDLW"}',
        b'{"order": {"orderId": "O", "status": "COMPLETED"}}',
        b"\xff\xfe{}",
        raw_order(totalAmount='"12.5"'),
        raw_order(totalAmount="-1"),
        raw_order(totalAmount="1e400"),
        raw_order(totalAmount="2.5"),
        raw_order(totalAmount="true"),
        raw_order(totalAmount='"1' + "0" * 40 + '"'),
        raw_order(totalAmount="1" + "0" * 400),
        raw_order(currencyCode='"JPY"'),
        raw_order(currencyCode='"PLNX"'),
        raw_order(status='"PAID NOW"'),
        raw_order(status="7"),
        raw_order(orderId='"O O"'),
        raw_order(orderId='"' + "O" * 300 + '"'),
        raw_order(extOrderId='" "'),
        raw_order(payMethod='"PBL"'),
        raw_refund(amount='"0"'),
        raw_refund(refundId="1"),
        raw_refund(status=""),
        b"[" * 100_000 + b"]" * 100_000,
        b'{"order": ' * 5_000 + b"{}" + b"}" * 5_000,
    ],
)
def test_malformed_bodies_are_malformed(body: bytes) -> None:
    with pytest.raises(MalformedWebhook):
        parse(body)


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=25,
)
ORDER_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "orderId": st.one_of(st.text(max_size=30), JSON),
        "extOrderId": st.one_of(st.text(max_size=30), JSON),
        "merchantPosId": JSON,
        "currencyCode": st.one_of(st.sampled_from(["PLN", "EUR", "JPY", "pln", "XX"]), JSON),
        "totalAmount": st.one_of(st.integers(-5, 10**20).map(str), st.integers(-5, 10**20), JSON),
        "status": st.one_of(st.sampled_from(["COMPLETED", "PENDING", "CANCELED", "?"]), JSON),
        "payMethod": st.one_of(st.fixed_dictionaries({"type": st.text(max_size=10)}), JSON),
    },
)
NOTIFICATIONS = st.one_of(
    JSON,
    st.fixed_dictionaries({"order": ORDER_FIELDS}, optional={"localReceiptDateTime": JSON}),
    st.fixed_dictionaries({"orderId": JSON, "refund": st.one_of(ORDER_FIELDS, JSON)}),
)


@settings(deadline=None, max_examples=300)
@given(document=NOTIFICATIONS)
def test_any_json_parses_or_is_malformed_and_event_ids_are_storable(document: Any) -> None:
    body = json.dumps(document).encode()
    try:
        parsed = parse(body)
    except MalformedWebhook:
        return
    assert parse_value(EventId, parsed.event_id, "event id") == parsed.event_id


@settings(deadline=None, max_examples=100)
@given(raw=st.binary(max_size=300))
def test_any_bytes_parse_or_are_malformed(raw: bytes) -> None:
    with contextlib.suppress(MalformedWebhook):
        parse(raw)


@settings(deadline=None, max_examples=60)
@given(
    body=st.binary(max_size=200),
    key=st.text(min_size=1, max_size=40),
    algorithm=st.sampled_from([spelling for spelling, _ in SDK_SPELLINGS]),
    tamper=st.booleans(),
)
def test_what_we_sign_we_verify_and_any_change_breaks_it(
    body: bytes, key: str, algorithm: str, tamper: bool
) -> None:
    header = signature_header(body, key, algorithm)
    delivered = body + b"x" if tamper else body
    try:
        verify_signature(delivered, header, key)
        accepted = True
    except SignatureMismatch:
        accepted = False
    assert accepted is not tamper
