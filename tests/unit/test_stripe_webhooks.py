"""Stripe: Stripe-Signature checked against the official library (both directions), events
mapped to canonical payments."""

from __future__ import annotations

import copy
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import stripe
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.inbox.contract import (
    Headers,
    MalformedWebhook,
    ParsedWebhook,
    SignatureMismatch,
    WebhookRequest,
)
from shared.inbox.events import PaymentReported
from shared.kernel.money import Money
from shared.payments.domain import PaymentEvent, PaymentStatus
from shared.providers.payments.stripe.webhook import (
    StripeWebhooks,
    compute_signature,
    signature_header,
    verify_signature,
)

SECRET = "whsec_test_secret"
VECTOR_T = 1700000000


def request(body: bytes, headers: dict[str, str] | None = None) -> WebhookRequest:
    return WebhookRequest(Headers(headers or {}), raw_body=body, received_at=datetime.now(UTC))


def stripe_accepts(body: bytes, header: str, secret: str) -> bool:
    try:
        stripe.Webhook.construct_event(body, header, secret, tolerance=300)
    except stripe.SignatureVerificationError:
        return False
    return True


def ours_accepts(body: bytes, header: str, secret: str) -> bool:
    try:
        verify_signature(body, header, secret)
    except SignatureMismatch:
        return False
    return True


# -- signatures -------------------------------------------------------------------------------


def test_signature_header_reproduces_the_library_vector(stripe_vector: dict[str, Any]) -> None:
    ours = signature_header(
        stripe_vector["payload"], stripe_vector["secret"], stripe_vector["timestamp"]
    )
    assert ours == stripe_vector["stripe_signature_header"]


def test_the_vector_verifies_ten_seconds_after_it_was_signed(stripe_vector: dict[str, Any]) -> None:
    timestamp = verify_signature(
        stripe_vector["payload"],
        stripe_vector["stripe_signature_header"],
        SECRET,
        now=lambda: VECTOR_T + 10,
    )
    assert timestamp == VECTOR_T


def test_the_vector_is_a_replay_today_for_us_and_for_stripe(stripe_vector: dict[str, Any]) -> None:
    # Given a header signed in November 2023, When checked against the real clock
    payload, header = stripe_vector["payload"], stripe_vector["stripe_signature_header"]
    # Then both the library and our implementation refuse it as outside the tolerance
    with pytest.raises(SignatureMismatch, match="tolerance"):
        verify_signature(payload, header, SECRET)
    with pytest.raises(stripe.SignatureVerificationError, match="tolerance"):
        stripe.Webhook.construct_event(payload, header, SECRET, tolerance=300)


def test_the_tolerance_boundary_is_three_hundred_seconds(stripe_vector: dict[str, Any]) -> None:
    payload, header = stripe_vector["payload"], stripe_vector["stripe_signature_header"]
    verify_signature(payload, header, SECRET, now=lambda: VECTOR_T + 300)
    with pytest.raises(SignatureMismatch):
        verify_signature(payload, header, SECRET, now=lambda: VECTOR_T + 301)


def test_a_rolled_secret_header_with_several_v1_values_matches_any(
    stripe_vector: dict[str, Any],
) -> None:
    # Given a header whose first v1 comes from an old secret and whose second is valid
    valid = compute_signature(stripe_vector["payload"], SECRET, VECTOR_T)
    stale = compute_signature(stripe_vector["payload"], "whsec_old", VECTOR_T)
    header = f"t={VECTOR_T},v1={stale},v1={valid},v0=legacy"
    assert (
        verify_signature(stripe_vector["payload"], header, SECRET, now=lambda: VECTOR_T) == VECTOR_T
    )


def test_a_wrong_secret_is_rejected(stripe_vector: dict[str, Any]) -> None:
    with pytest.raises(SignatureMismatch, match="no v1 signature matches"):
        verify_signature(
            stripe_vector["payload"],
            stripe_vector["stripe_signature_header"],
            "whsec_other",
            now=lambda: VECTOR_T,
        )


def test_a_tampered_body_is_rejected(stripe_vector: dict[str, Any]) -> None:
    tampered = stripe_vector["payload"].replace(b"rdr_123", b"rdr_124")
    with pytest.raises(SignatureMismatch, match="no v1 signature matches"):
        verify_signature(
            tampered, stripe_vector["stripe_signature_header"], SECRET, now=lambda: VECTOR_T
        )


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("garbage", "no timestamp"),
        ("t=soon,v1=abc", "not a number"),
        (f"t={VECTOR_T}", "no v1"),
        (f"t={VECTOR_T},v0=abc", "no v1"),
        ("v1=abc", "no timestamp"),
    ],
)
def test_garbage_headers_are_rejected(
    stripe_vector: dict[str, Any], header: str, reason: str
) -> None:
    with pytest.raises(SignatureMismatch, match=reason):
        verify_signature(stripe_vector["payload"], header, SECRET, now=lambda: VECTOR_T)


def test_the_adapter_verifies_the_header_and_refuses_a_missing_one(
    stripe_vector: dict[str, Any],
) -> None:
    adapter = StripeWebhooks(now=lambda: VECTOR_T + 10)
    signed = request(
        stripe_vector["payload"], {"stripe-signature": stripe_vector["stripe_signature_header"]}
    )
    adapter.verify(signed, {"webhook_secret": SECRET})  # does not raise
    with pytest.raises(SignatureMismatch, match="missing Stripe-Signature"):
        adapter.verify(request(stripe_vector["payload"]), {"webhook_secret": SECRET})


# -- the official library as an oracle, both directions ----------------------------------------

BODIES = st.binary(max_size=200).map(
    lambda raw: json.dumps({"object": "event", "id": raw.hex()}).encode()
)
SECRETS = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=30
).map(lambda s: "whsec_" + s)


@settings(deadline=None, max_examples=60)
@given(body=BODIES, secret=SECRETS, age=st.integers(0, 250))
def test_what_stripe_signs_we_accept(body: bytes, secret: str, age: int) -> None:
    header = stripe.WebhookSignature.generate_signature_header(
        body.decode(), secret, timestamp=int(time.time()) - age
    )
    assert ours_accepts(body, header, secret)


@settings(deadline=None, max_examples=60)
@given(body=BODIES, secret=SECRETS, age=st.integers(0, 250))
def test_what_we_sign_stripe_accepts(body: bytes, secret: str, age: int) -> None:
    header = signature_header(body, secret, int(time.time()) - age)
    assert stripe_accepts(body, header, secret)


@settings(deadline=None, max_examples=80)
@given(
    body=BODIES,
    secret=SECRETS,
    age=st.one_of(st.integers(-1000, 250), st.integers(400, 10**6)),
    sign_with_other_secret=st.booleans(),
    tamper=st.booleans(),
)
def test_we_and_stripe_agree_on_accept_or_reject(
    body: bytes, secret: str, age: int, sign_with_other_secret: bool, tamper: bool
) -> None:
    # Given a header signed now-ish or long ago, with the right or wrong secret, over the
    # delivered or a tampered body, When both verify, Then they reach the same verdict.
    signing_secret = secret + "x" if sign_with_other_secret else secret
    header = signature_header(body, signing_secret, int(time.time()) - age)
    delivered = body + b" " if tamper else body
    verdict = ours_accepts(delivered, header, secret)
    assert verdict == stripe_accepts(delivered, header, secret)
    assert verdict == (not sign_with_other_secret and not tamper and age <= 250)


# -- parsing ----------------------------------------------------------------------------------


def event(event_type: str, obj: dict[str, Any], event_id: str = "evt_1") -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": event_type,
            "created": VECTOR_T,
            "data": {"object": obj},
        }
    ).encode()


def parse_payment(body: bytes) -> PaymentEvent:
    parsed = StripeWebhooks().parse(request(body))
    assert isinstance(parsed.event, PaymentReported)
    return parsed.event.payment


def test_payment_intent_succeeded_reports_the_amount_received(
    payment_intent: dict[str, Any],
) -> None:
    intent = {**payment_intent, "metadata": {"order_id": "ord_1"}, "amount_received": 1099}
    parsed = StripeWebhooks().parse(request(event("payment_intent.succeeded", intent)))
    assert (parsed.event_id, parsed.topic) == ("evt_1", "payment_intent.succeeded")
    assert parsed.audit_headers == {
        "Stripe-Event-Type": "payment_intent.succeeded",
        "Stripe-Livemode": "false",
    }
    assert isinstance(parsed.event, PaymentReported)
    payment = parsed.event.payment
    assert payment.status is PaymentStatus.SUCCEEDED
    assert payment.amount == Money(amount=1099, currency="USD")
    assert (payment.order_id, payment.payment_id) == ("ord_1", "pi_1PgafyB7WZ01zgkWSjxsAJo3")
    assert (payment.provider, payment.provider_event_id) == ("stripe", "evt_1")
    assert payment.method == "card"
    assert payment.occurred_at == datetime.fromtimestamp(VECTOR_T, tz=UTC)
    assert payment.failure_reason is None


def test_succeeded_uses_amount_received_not_the_requested_amount(
    payment_intent: dict[str, Any],
) -> None:
    intent = {**payment_intent, "metadata": {"order_id": "ord_1"}, "amount_received": 500}
    assert parse_payment(event("payment_intent.succeeded", intent)).amount.amount == 500


def test_payment_failed_reports_the_error_message(payment_intent: dict[str, Any]) -> None:
    intent = {
        **payment_intent,
        "metadata": {"order_id": "ord_1"},
        "last_payment_error": {
            "type": "card_error",
            "code": "card_declined",
            "message": "Your card was declined.",
        },
    }
    payment = parse_payment(event("payment_intent.payment_failed", intent))
    assert payment.status is PaymentStatus.FAILED
    assert payment.failure_reason == "Your card was declined."
    assert payment.amount == Money(amount=1099, currency="USD")


def test_payment_failed_without_a_message_is_not_called_a_cancellation(
    payment_intent: dict[str, Any],
) -> None:
    intent = {**payment_intent, "metadata": {"order_id": "ord_1"}}
    payment = parse_payment(event("payment_intent.payment_failed", intent))
    assert payment.status is PaymentStatus.FAILED
    assert payment.failure_reason is not None
    assert "canceled" not in payment.failure_reason


def test_payment_intent_canceled_names_the_cancellation_reason(
    payment_intent: dict[str, Any],
) -> None:
    intent = {
        **payment_intent,
        "metadata": {"order_id": "ord_1"},
        "last_payment_error": None,
        "cancellation_reason": "abandoned",
    }
    payment = parse_payment(event("payment_intent.canceled", intent))
    assert (payment.status, payment.failure_reason) == (PaymentStatus.FAILED, "canceled: abandoned")


def test_payment_intent_processing_is_pending(payment_intent: dict[str, Any]) -> None:
    intent = {**payment_intent, "metadata": {"order_id": "ord_1"}}
    assert parse_payment(event("payment_intent.processing", intent)).status is PaymentStatus.PENDING


def test_payment_intent_without_order_id_is_ignored(payment_intent: dict[str, Any]) -> None:
    # Given the fixture as published: metadata {}
    parsed = StripeWebhooks().parse(request(event("payment_intent.succeeded", payment_intent)))
    assert parsed.event is None
    assert parsed.ignored_reason == "payment intent has no metadata.order_id"


def session_of(checkout_session: dict[str, Any], **changes: Any) -> dict[str, Any]:
    session = copy.deepcopy(checkout_session)
    session.update({"client_reference_id": "ord_7", "amount_total": 40994, "currency": "pln"})
    session.update(changes)
    return session


def test_checkout_session_completed_and_paid_succeeds(checkout_session: dict[str, Any]) -> None:
    session = session_of(checkout_session, payment_status="paid")
    payment = parse_payment(event("checkout.session.completed", session))
    assert payment.status is PaymentStatus.SUCCEEDED
    assert payment.order_id == "ord_7"
    assert payment.amount == Money(amount=40994, currency="PLN")
    # The session's PaymentIntent is the payment, so intent events merge with it.
    assert payment.payment_id == "pi_1PgafyB7WZ01zgkWSjxsAJo3"


def test_a_session_without_payment_intent_is_its_own_payment(
    checkout_session: dict[str, Any],
) -> None:
    session = session_of(checkout_session, payment_status="paid", payment_intent=None)
    assert (
        parse_payment(event("checkout.session.completed", session)).payment_id
        == checkout_session["id"]
    )


def test_a_completed_but_unpaid_session_is_pending(checkout_session: dict[str, Any]) -> None:
    # Given the fixture's payment_status "unpaid" (delayed methods: BLIK, P24, transfer)
    session = session_of(checkout_session)
    assert session["payment_status"] == "unpaid"
    assert (
        parse_payment(event("checkout.session.completed", session)).status is PaymentStatus.PENDING
    )


@pytest.mark.parametrize(
    ("event_type", "status"),
    [
        ("checkout.session.async_payment_succeeded", PaymentStatus.SUCCEEDED),
        ("checkout.session.async_payment_failed", PaymentStatus.FAILED),
    ],
)
def test_async_session_outcomes(
    checkout_session: dict[str, Any], event_type: str, status: PaymentStatus
) -> None:
    payment = parse_payment(event(event_type, session_of(checkout_session)))
    assert payment.status is status
    assert (payment.failure_reason is not None) == (status is PaymentStatus.FAILED)


def test_a_session_names_its_order_by_metadata_when_no_client_reference(
    checkout_session: dict[str, Any],
) -> None:
    session = session_of(checkout_session, client_reference_id=None, metadata={"order_id": "ord_9"})
    assert parse_payment(event("checkout.session.completed", session)).order_id == "ord_9"


def test_a_session_without_an_order_reference_is_ignored(checkout_session: dict[str, Any]) -> None:
    session = session_of(checkout_session, client_reference_id=None)
    parsed = StripeWebhooks().parse(request(event("checkout.session.completed", session)))
    assert parsed.event is None
    assert parsed.ignored_reason == "checkout session has no client_reference_id"


def test_a_session_without_amount_is_malformed(checkout_session: dict[str, Any]) -> None:
    # Given the fixture as published: amount_total and currency null
    session = {**checkout_session, "client_reference_id": "ord_7"}
    with pytest.raises(MalformedWebhook, match="amount_total"):
        StripeWebhooks().parse(request(event("checkout.session.completed", session)))


def test_a_session_with_an_invalid_currency_is_malformed(checkout_session: dict[str, Any]) -> None:
    session = session_of(checkout_session, payment_status="paid", currency="eu")
    with pytest.raises(MalformedWebhook):
        StripeWebhooks().parse(request(event("checkout.session.completed", session)))


def test_an_unhandled_event_type_is_ignored(stripe_event: dict[str, Any]) -> None:
    parsed = StripeWebhooks().parse(request(json.dumps(stripe_event).encode()))
    assert parsed == ParsedWebhook(
        event_id="evt_1Pgc76B7WZ01zgkWwyRHS12y",
        topic="plan.created",
        event=None,
        ignored_reason="event type plan.created is not handled",
        audit_headers={"Stripe-Event-Type": "plan.created", "Stripe-Livemode": "false"},
    )


def test_the_signed_library_payload_verifies_but_is_not_a_complete_event(
    stripe_vector: dict[str, Any],
) -> None:
    # The official test payload has no type and no created: authentic, yet malformed for us.
    with pytest.raises(MalformedWebhook, match="type"):
        StripeWebhooks().parse(request(stripe_vector["payload"]))


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        json.dumps(
            {
                "object": "event",
                "type": "payment_intent.succeeded",
                "created": 1,
                "data": {"object": {}},
            }
        ).encode(),
        json.dumps(
            {"id": "evt_1", "object": "event", "created": 1, "data": {"object": {}}}
        ).encode(),
        json.dumps({"id": "evt_1", "object": "event", "type": "x", "created": 1}).encode(),
        json.dumps(
            {"id": "", "object": "event", "type": "x", "created": 1, "data": {"object": {}}}
        ).encode(),
    ],
    ids=["not-json", "array", "no-id", "no-type", "no-data", "empty-id"],
)
def test_a_broken_envelope_is_malformed(body: bytes) -> None:
    with pytest.raises(MalformedWebhook):
        StripeWebhooks().parse(request(body))


def test_a_payment_intent_event_whose_object_is_not_an_intent_is_malformed(
    checkout_session: dict[str, Any],
) -> None:
    with pytest.raises(MalformedWebhook, match="object"):
        StripeWebhooks().parse(request(event("payment_intent.succeeded", checkout_session)))


# -- hardening ----------------------------------------------------------------------------------


def envelope(**fields: Any) -> bytes:
    document = {
        "id": "evt_1",
        "object": "event",
        "type": "payment_intent.succeeded",
        "created": VECTOR_T,
        "data": {"object": {}},
    }
    return json.dumps({**document, **fields}).encode()


@pytest.mark.parametrize("created", [253402300800, -62135596801, 10**30, -1])
def test_a_created_time_no_datetime_can_hold_is_malformed(created: int) -> None:
    with pytest.raises(MalformedWebhook, match="created"):
        StripeWebhooks().parse(request(envelope(created=created)))


def test_an_event_id_too_long_for_a_key_is_malformed() -> None:
    with pytest.raises(MalformedWebhook, match="id"):
        StripeWebhooks().parse(request(envelope(id="evt_" + "x" * 3000)))


def test_two_signature_headers_keep_the_first_timestamp_like_the_library() -> None:
    body = b'{"id": "evt_1"}'
    now = int(time.time())
    first = signature_header(body, SECRET, now)
    # A second header (joined with a comma, as HTTP does) signed at another time.
    joined = f"{first},{signature_header(body, SECRET, now - 1000)}"
    assert ours_accepts(body, joined, SECRET) == stripe_accepts(body, joined, SECRET) is True
    stale_first = f"{signature_header(body, SECRET, now - 1000)},{first}"
    assert ours_accepts(body, stale_first, SECRET) == stripe_accepts(body, stale_first, SECRET)


def test_a_signed_body_with_invalid_utf8_is_malformed_not_unsigned() -> None:
    body = envelope().replace(b'"evt_1"', b'"evt_\xff\xfe"')
    header = signature_header(body, SECRET, int(time.time()))
    adapter = StripeWebhooks()
    adapter.verify(request(body, {"Stripe-Signature": header}), {"webhook_secret": SECRET})
    with pytest.raises(MalformedWebhook, match="JSON"):
        adapter.parse(request(body))


def test_livemode_false_marks_a_test_payment(payment_intent: dict[str, Any]) -> None:
    intent = {**payment_intent, "metadata": {"order_id": "ord_1"}}
    body = json.loads(event("payment_intent.succeeded", intent))
    assert parse_payment(json.dumps({**body, "livemode": False}).encode()).test is True
    assert parse_payment(json.dumps({**body, "livemode": True}).encode()).test is False


@pytest.mark.parametrize(
    ("currency", "stripe_amount", "minor_units"),
    [("isk", 1000, 10), ("mga", 5000, 500000), ("jpy", 500, 500), ("kwd", 5120, 5120)],
)
def test_stripe_amounts_become_iso_minor_units(
    payment_intent: dict[str, Any], currency: str, stripe_amount: int, minor_units: int
) -> None:
    intent = {
        **payment_intent,
        "metadata": {"order_id": "ord_1"},
        "currency": currency,
        "amount": stripe_amount,
        "amount_received": stripe_amount,
    }
    payment = parse_payment(event("payment_intent.succeeded", intent))
    assert payment.amount == Money(amount=minor_units, currency=currency.upper())


@pytest.mark.parametrize(
    "shape",
    [
        "t={t}, v1={sig}",  # a space after the comma: the library does not trim
        "t={t},\tv1={sig}",
        "t={t},v1={sig}=junk",  # split("=", 2): the library reads up to the second "="
        "t={t},v1={sig},garbage",
        "t={t},v1",
        "t,v1={sig}",
        " t={t},v1={sig}",
    ],
)
def test_odd_header_shapes_are_judged_as_the_library_judges_them(shape: str) -> None:
    body = b'{"id": "evt_odd"}'
    now = int(time.time())
    header = shape.format(t=now, sig=compute_signature(body, SECRET, now))
    assert ours_accepts(body, header, SECRET) == stripe_accepts(body, header, SECRET)
