"""Stripe webhooks: Stripe-Signature (t=..., v1=...) over f"{t}.{raw body}", event envelopes.

Docs: docs.stripe.com/webhooks#verify-manually. The signed payload is the timestamp, a dot and
the exact raw body; v1 is hex HMAC-SHA256 keyed with the whole whsec_... secret. A header may
carry several v1 values while a secret is being rolled: any match is accepted. Events older
than the tolerance (300 s, Stripe's default) are rejected as replays.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from shared.inbox.contract import (
    MalformedWebhook,
    ParsedWebhook,
    SignatureMismatch,
    WebhookRequest,
    parse_json_model,
    parse_model,
    validation_message,
)
from shared.payments.domain import PaymentEvent, PaymentStatus
from shared.payments.inbound import PaymentReported
from shared.providers.payments.stripe.amounts import UnrepresentableAmount, from_stripe_amount

SOURCE = "stripe"
SIGNATURE_HEADER = "Stripe-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


def compute_signature(raw_body: bytes, secret: str, timestamp: int) -> str:
    signed_payload = str(timestamp).encode() + b"." + raw_body
    return hmac.new(secret.encode(), signed_payload, hashlib.sha256).hexdigest()


def signature_header(raw_body: bytes, secret: str, timestamp: int) -> str:
    return f"t={timestamp},v1={compute_signature(raw_body, secret, timestamp)}"


def verify_signature(
    raw_body: bytes,
    header: str,
    secret: str,
    *,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    now: Callable[[], float] = time.time,
) -> int:
    """Check a Stripe-Signature header; return its timestamp. Mirrors stripe-python's rules."""
    timestamp: int | None = None
    candidates: list[str] = []
    # Parsed exactly as stripe-python does (`item.split("=", 2)`, no trimming), so that the
    # same header is accepted or refused by both. The first t= counts: two Stripe-Signature
    # headers arrive joined by a comma, and a later t= must not replace the first one's.
    for item in header.split(","):
        parts = item.split("=", 2)
        if len(parts) < 2:
            if parts[0] in ("t", "v1"):
                raise SignatureMismatch("Stripe-Signature has a t or v1 without a value")
            continue  # the library skips other items without a value
        key, value = parts[0], parts[1]
        if key == "t" and timestamp is None:
            try:
                timestamp = int(value)
            except ValueError as error:
                raise SignatureMismatch("Stripe-Signature timestamp is not a number") from error
        elif key == "v1":
            candidates.append(value)
    if timestamp is None:
        raise SignatureMismatch("Stripe-Signature has no timestamp")
    if not candidates:
        raise SignatureMismatch("Stripe-Signature has no v1 signature")
    expected = compute_signature(raw_body, secret, timestamp).encode()
    if not any(hmac.compare_digest(expected, candidate.encode()) for candidate in candidates):
        raise SignatureMismatch("no v1 signature matches the body")
    if tolerance and timestamp < now() - tolerance:
        raise SignatureMismatch("Stripe-Signature timestamp is outside the tolerance zone")
    return timestamp


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class StripeEventData(_Lenient):
    object: dict[str, Any]


# Stripe's ids are short ASCII ("evt_1Q..."); DynamoDB keys stop at 2,048 bytes.
StripeId = Annotated[
    str, StringConstraints(min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$")
]
# The range a datetime can hold (year 1970 to 9999): `created` is a Unix time in seconds.
LATEST_UNIX_TIME = 253402300799


class StripeEvent(_Lenient):
    id: StripeId
    object: Literal["event"] = "event"
    type: str = Field(min_length=1, max_length=255)
    created: int = Field(ge=0, le=LATEST_UNIX_TIME)
    livemode: bool = False
    data: StripeEventData


class StripeError(_Lenient):
    message: str | None = None
    code: str | None = None
    type: str | None = None


class StripePaymentIntent(_Lenient):
    id: StripeId
    object: Literal["payment_intent"]
    amount: int = Field(ge=0, le=10**15)
    amount_received: int = Field(default=0, ge=0, le=10**15)
    currency: str = Field(pattern=r"^[A-Za-z]{3}$")
    metadata: dict[str, str] = {}
    payment_method_types: list[str] = []
    last_payment_error: StripeError | None = None
    cancellation_reason: str | None = None


class StripeCheckoutSession(_Lenient):
    id: StripeId
    object: Literal["checkout.session"]
    client_reference_id: str | None = None
    amount_total: int | None = Field(default=None, ge=0, le=10**15)
    currency: str | None = Field(default=None, pattern=r"^[A-Za-z]{3}$")
    payment_status: Literal["paid", "unpaid", "no_payment_required"]
    payment_intent: StripeId | None = None
    metadata: dict[str, str] = {}
    payment_method_types: list[str] = []


_INTENT_STATUSES: dict[str, PaymentStatus] = {
    "payment_intent.succeeded": PaymentStatus.SUCCEEDED,
    "payment_intent.processing": PaymentStatus.PENDING,
    "payment_intent.payment_failed": PaymentStatus.FAILED,
    "payment_intent.canceled": PaymentStatus.FAILED,
}
_SESSION_TYPES = {
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
}


class StripeWebhooks:
    """Adapter for POST /webhooks/payments/stripe."""

    source = SOURCE

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now

    def verify(self, request: WebhookRequest, secrets: Mapping[str, Any]) -> None:
        header = request.headers.get(SIGNATURE_HEADER, "").strip()
        if not header:
            raise SignatureMismatch(f"missing {SIGNATURE_HEADER}")
        verify_signature(request.raw_body, header, str(secrets["webhook_secret"]), now=self._now)

    def parse(self, request: WebhookRequest) -> ParsedWebhook:
        event = parse_json_model(StripeEvent, request.raw_body)
        audit = {"Stripe-Event-Type": event.type, "Stripe-Livemode": str(event.livemode).lower()}
        payment = _to_payment(event)
        if isinstance(payment, str):
            return ParsedWebhook(
                event_id=event.id,
                topic=event.type,
                event=None,
                ignored_reason=payment,
                audit_headers=audit,
            )
        return ParsedWebhook(
            event_id=event.id,
            topic=event.type,
            event=PaymentReported(payment=payment),
            audit_headers=audit,
        )


def _single_method(types: list[str]) -> str | None:
    return types[0] if len(types) == 1 else None


def _to_payment(event: StripeEvent) -> PaymentEvent | str:
    """The canonical payment, or the reason the event is ignored."""
    try:
        return _map_payment(event)
    except ValidationError as error:
        raise MalformedWebhook(validation_message(error)) from error
    except UnrepresentableAmount as error:
        raise MalformedWebhook(str(error)) from error


def _failure_reason(intent: StripePaymentIntent, event_type: str) -> str:
    if event_type == "payment_intent.canceled":
        return f"canceled: {intent.cancellation_reason or 'no reason given'}"
    error = intent.last_payment_error
    if error is not None and (error.message or error.code or error.type):
        return str(error.message or error.code or error.type)
    return "payment failed"


def _map_payment(event: StripeEvent) -> PaymentEvent | str:
    occurred_at = datetime.fromtimestamp(event.created, tz=UTC)
    if event.type in _INTENT_STATUSES:
        intent = parse_model(StripePaymentIntent, event.data.object)
        order_id = intent.metadata.get("order_id")
        if not order_id:
            return "payment intent has no metadata.order_id"
        status = _INTENT_STATUSES[event.type]
        failure = _failure_reason(intent, event.type) if status is PaymentStatus.FAILED else None
        amount = intent.amount_received if status is PaymentStatus.SUCCEEDED else intent.amount
        return PaymentEvent(
            provider=SOURCE,
            provider_event_id=event.id,
            payment_id=intent.id,
            order_id=order_id,
            status=status,
            amount=from_stripe_amount(amount, intent.currency),
            method=_single_method(intent.payment_method_types),
            occurred_at=occurred_at,
            failure_reason=failure,
            test=not event.livemode,
        )
    if event.type in _SESSION_TYPES:
        session = parse_model(StripeCheckoutSession, event.data.object)
        order_id = session.client_reference_id or session.metadata.get("order_id")
        if not order_id:
            return "checkout session has no client_reference_id"
        if session.currency is None or session.amount_total is None:
            raise MalformedWebhook("checkout session has no amount_total or currency")
        if event.type == "checkout.session.async_payment_failed":
            status = PaymentStatus.FAILED
        elif event.type == "checkout.session.async_payment_succeeded":
            status = PaymentStatus.SUCCEEDED
        else:
            # Delayed methods (BLIK, P24, transfers) complete the session still unpaid.
            status = (
                PaymentStatus.PENDING
                if session.payment_status == "unpaid"
                else PaymentStatus.SUCCEEDED
            )
        return PaymentEvent(
            provider=SOURCE,
            provider_event_id=event.id,
            # The session's PaymentIntent is the payment: payment_intent.* events about it and
            # this session merge into one payment record.
            payment_id=session.payment_intent or session.id,
            order_id=order_id,
            status=status,
            amount=from_stripe_amount(session.amount_total, session.currency),
            method=_single_method(session.payment_method_types),
            occurred_at=occurred_at,
            failure_reason="async payment failed" if status is PaymentStatus.FAILED else None,
            test=not event.livemode,
        )
    return f"event type {event.type} is not handled"
