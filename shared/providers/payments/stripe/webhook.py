"""Stripe webhooks: Stripe-Signature (t=..., v1=...) over f"{t}.{raw body}", event envelopes.

Docs: docs.stripe.com/webhooks#verify-manually. The signed payload is the timestamp, a dot and
the exact raw body; v1 is hex HMAC-SHA256 keyed with the whole whsec_... secret. A header may
carry several v1 values while a secret is being rolled: any match is accepted. Events older
than the tolerance (300 s, Stripe's default) are rejected as replays.

What each event type becomes (docs.stripe.com/api/events/types; object shapes as the OpenAPI
fixtures in tests/fixtures/stripe/ show them):
- payment_intent.succeeded / .processing / .payment_failed / .canceled: a payment (paid,
  pending, failed, failed); .amount_capturable_updated: authorized money that must be captured
  (manual capture). The order is the intent's metadata.order_id (the gateway sets it through
  the session's payment_intent_data[metadata]); the attempt its metadata.attempt.
- checkout.session.completed (paid, or pending while a delayed method such as BLIK settles),
  .async_payment_succeeded / _failed, .expired (cancelled). The session's PaymentIntent is the
  payment (`payment_intent`, else the session id), so session and intent events merge.
- charge.succeeded: the same payment (payment_id = the charge's payment_intent), carrying
  Radar's verdict: outcome.risk_level normal / elevated / highest becomes `risk` (not_assessed
  and unknown are no verdict). A PaymentIntent's metadata is copied to the charge it creates
  (support.stripe.com/questions/how-metadata-works-with-related-objects), so metadata.order_id
  names the order. An uncaptured charge (manual capture) is authorized, not paid.
- refund.created / .updated / .failed: a refund (succeeded -> completed; pending and
  requires_action -> pending; failed and canceled -> failed). Since API 2024-10-28.acacia
  these fire for every refund. refund_id and order_id come from the metadata orderhub sets; a
  refund made in the Dashboard has neither, and its payment_intent names the payment.
- charge.refunded: since API 2022-11-15 a charge no longer includes its `refunds` (and event
  payloads cannot be expanded), so the event only says that a charge was refunded: ignored,
  refund.* carries each refund. A charge that does include its refunds (an endpoint on an older
  API version) reports its most recent refund.
- charge.dispute.created / .updated / .closed / .funds_withdrawn / .funds_reinstated: a
  dispute; payment_id = the dispute's payment_intent (its charge when it has none).
Anything else is ignored with the reason.
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
from shared.payments.domain import (
    DisputeEvent,
    PaymentEvent,
    PaymentStatus,
    RefundEvent,
    RefundStatus,
    Risk,
    RiskLevel,
)
from shared.payments.inbound import DisputeReported, PaymentReported, RefundReported
from shared.payments.references import parse_merchant_reference
from shared.providers.payments.stripe.amounts import UnrepresentableAmount, from_stripe_amount

SOURCE = "stripe"
SIGNATURE_HEADER = "Stripe-Signature"
DEFAULT_TOLERANCE_SECONDS = 300
# The API version orderhub pins (Stripe-Version on every request; the webhook endpoint is
# created on the same version, so events carry the object shapes the mapping below expects).
API_VERSION = "2025-10-29.clover"


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
# No Stripe amount has more than 15 digits (its own limit is 8 for most currencies).
StripeAmount = Annotated[int, Field(ge=0, le=10**15)]
CurrencyText = Annotated[str, Field(pattern=r"^[A-Za-z]{3}$")]
ShortText = Annotated[str, Field(max_length=500)]


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
    decline_code: str | None = None
    param: str | None = None


class StripePaymentIntent(_Lenient):
    id: StripeId
    object: Literal["payment_intent"]
    amount: StripeAmount
    amount_received: StripeAmount = 0
    amount_capturable: StripeAmount = 0
    currency: CurrencyText
    status: str | None = Field(default=None, max_length=100)
    capture_method: str | None = Field(default=None, max_length=100)
    livemode: bool = False
    metadata: dict[str, str] = {}
    payment_method_types: list[str] = []
    last_payment_error: StripeError | None = None
    cancellation_reason: str | None = None


class StripeCheckoutSession(_Lenient):
    id: StripeId
    object: Literal["checkout.session"]
    client_reference_id: str | None = None
    amount_total: StripeAmount | None = None
    currency: CurrencyText | None = None
    payment_status: Literal["paid", "unpaid", "no_payment_required"]
    status: Literal["open", "complete", "expired"] | None = None
    payment_intent: StripeId | None = None
    livemode: bool = False
    url: str | None = None
    metadata: dict[str, str] = {}
    payment_method_types: list[str] = []


class StripeRefund(_Lenient):
    id: StripeId
    object: Literal["refund"]
    amount: StripeAmount
    currency: CurrencyText
    status: str | None = Field(default=None, max_length=100)
    payment_intent: StripeId | None = None
    charge: StripeId | None = None
    metadata: dict[str, str] = {}
    failure_reason: ShortText | None = None
    created: int = Field(default=0, ge=0, le=LATEST_UNIX_TIME)


class StripeRefundList(_Lenient):
    object: Literal["list"] = "list"
    data: list[StripeRefund] = []
    has_more: bool = False


class StripeOutcome(_Lenient):
    risk_level: str | None = Field(default=None, max_length=100)
    risk_score: int | None = Field(default=None, ge=0, le=100)
    type: str | None = None


class StripeWallet(_Lenient):
    type: str | None = Field(default=None, max_length=100)


class StripeCardDetails(_Lenient):
    wallet: StripeWallet | None = None


class StripeMethodDetails(_Lenient):
    type: str = Field(max_length=100)
    card: StripeCardDetails | None = None


class StripeCharge(_Lenient):
    id: StripeId
    object: Literal["charge"]
    amount: StripeAmount
    amount_captured: StripeAmount = 0
    amount_refunded: StripeAmount = 0
    currency: CurrencyText
    captured: bool = True
    payment_intent: StripeId | None = None
    metadata: dict[str, str] = {}
    outcome: StripeOutcome | None = None
    payment_method_details: StripeMethodDetails | None = None
    refunds: StripeRefundList | None = None


class StripeDispute(_Lenient):
    id: StripeId
    object: Literal["dispute"]
    amount: StripeAmount
    currency: CurrencyText
    charge: StripeId | None = None
    payment_intent: StripeId | None = None
    reason: ShortText | None = None
    status: str = Field(max_length=100)
    metadata: dict[str, str] = {}


_INTENT_STATUSES: dict[str, PaymentStatus] = {
    "payment_intent.succeeded": PaymentStatus.SUCCEEDED,
    "payment_intent.processing": PaymentStatus.PENDING,
    "payment_intent.payment_failed": PaymentStatus.FAILED,
    "payment_intent.canceled": PaymentStatus.FAILED,
    "payment_intent.amount_capturable_updated": PaymentStatus.AUTHORIZED,
}
_SESSION_TYPES = {
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
}
_REFUND_TYPES = {"refund.created", "refund.updated", "refund.failed"}
_DISPUTE_TYPES = {
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
}
# Refund.status (docs.stripe.com/api/refunds/object#refund_object-status).
REFUND_STATUSES: dict[str, RefundStatus] = {
    "succeeded": RefundStatus.COMPLETED,
    "pending": RefundStatus.PENDING,
    "requires_action": RefundStatus.PENDING,
    "failed": RefundStatus.FAILED,
    "canceled": RefundStatus.FAILED,
}
# Stripe's payment method types in orderhub's words (shared.payments.gateway.METHODS); a type
# orderhub has no word for is kept as Stripe names it.
METHOD_WORDS: dict[str, str] = {
    "card": "card",
    "blik": "blik",
    "p24": "bank_link",
    "klarna": "pay_later",
    "paypal": "paypal",
}
_WALLETS = {"apple_pay", "google_pay"}
_RISK_LEVELS = {level.value for level in RiskLevel}

InboundFromStripe = PaymentReported | RefundReported | DisputeReported


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
        mapped = _to_inbound(event)
        if isinstance(mapped, str):
            return ParsedWebhook(
                event_id=event.id,
                topic=event.type,
                event=None,
                ignored_reason=mapped,
                audit_headers=audit,
            )
        return ParsedWebhook(event_id=event.id, topic=event.type, event=mapped, audit_headers=audit)


# -- mapping, shared with the gateway's lookups (client.py) ---------------------------------------


def method_word(stripe_type: str | None) -> str | None:
    if not stripe_type:
        return None
    return METHOD_WORDS.get(stripe_type, stripe_type)


def _single_method(types: list[str]) -> str | None:
    return method_word(types[0]) if len(types) == 1 else None


def _attempt(metadata: Mapping[str, str]) -> int | None:
    text = metadata.get("attempt", "")
    if text.isascii() and text.isdigit() and len(text) <= 6 and int(text) >= 1:
        return int(text)
    return None


def order_reference(
    reference: str | None, metadata: Mapping[str, str]
) -> tuple[str, int | None] | None:
    """(order id, attempt) from a merchant reference (client_reference_id or metadata.order_id)
    and metadata.attempt, which the gateway sets beside it; None when it names no order."""
    text = reference or metadata.get("order_id")
    if not text:
        return None
    order_id, attempt = parse_merchant_reference(text)
    return order_id, attempt if attempt is not None else _attempt(metadata)


def intent_payment(
    intent: StripePaymentIntent,
    status: PaymentStatus,
    *,
    provider_event_id: str,
    occurred_at: datetime,
    test: bool,
    failure_reason: str | None = None,
) -> PaymentEvent | str:
    reference = order_reference(None, intent.metadata)
    if reference is None:
        return "payment intent has no metadata.order_id"
    if status is PaymentStatus.SUCCEEDED:
        amount = intent.amount_received
    elif status is PaymentStatus.AUTHORIZED:
        amount = intent.amount_capturable or intent.amount
    else:
        amount = intent.amount
    return PaymentEvent(
        provider=SOURCE,
        provider_event_id=provider_event_id,
        payment_id=intent.id,
        order_id=reference[0],
        attempt=reference[1],
        status=status,
        amount=from_stripe_amount(amount, intent.currency),
        method=_single_method(intent.payment_method_types),
        occurred_at=occurred_at,
        failure_reason=failure_reason,
        needs_capture=status is PaymentStatus.AUTHORIZED,
        test=test,
    )


def session_payment(
    session: StripeCheckoutSession,
    status: PaymentStatus,
    *,
    provider_event_id: str,
    occurred_at: datetime,
    test: bool,
    failure_reason: str | None = None,
) -> PaymentEvent | str:
    reference = order_reference(session.client_reference_id, session.metadata)
    if reference is None:
        return "checkout session has no client_reference_id"
    if session.currency is None or session.amount_total is None:
        raise MalformedWebhook("checkout session has no amount_total or currency")
    return PaymentEvent(
        provider=SOURCE,
        provider_event_id=provider_event_id,
        # The session's PaymentIntent is the payment: payment_intent.* and charge.* events
        # about it and this session merge into one payment record.
        payment_id=session.payment_intent or session.id,
        order_id=reference[0],
        attempt=reference[1],
        status=status,
        amount=from_stripe_amount(session.amount_total, session.currency),
        method=_single_method(session.payment_method_types),
        occurred_at=occurred_at,
        failure_reason=failure_reason,
        needs_capture=status is PaymentStatus.AUTHORIZED,
        provider_data={"checkout_session": session.id},
        test=test,
    )


def refund_event(
    refund: StripeRefund, *, provider_event_id: str, occurred_at: datetime, test: bool
) -> RefundEvent | str:
    status = REFUND_STATUSES.get(refund.status or "")
    if status is None:
        return f"refund status {refund.status!r} is not one orderhub knows"
    reference = order_reference(None, refund.metadata)
    payment_id = refund.payment_intent or refund.charge
    if reference is None and payment_id is None:
        return "refund names no payment intent, charge or order"
    failure = None
    if status is RefundStatus.FAILED:
        failure = refund.failure_reason or f"refund {refund.status}"
    return RefundEvent(
        provider=SOURCE,
        provider_event_id=provider_event_id,
        order_id=reference[0] if reference else None,
        payment_id=payment_id,
        refund_id=refund.metadata.get("refund_id") or None,
        provider_refund_id=refund.id,
        status=status,
        amount=from_stripe_amount(refund.amount, refund.currency),
        occurred_at=occurred_at,
        failure_reason=failure,
        test=test,
    )


def _charge_method(charge: StripeCharge) -> str | None:
    details = charge.payment_method_details
    if details is None:
        return None
    wallet = details.card.wallet if details.card else None
    if details.type == "card" and wallet is not None and wallet.type in _WALLETS:
        return wallet.type
    return method_word(details.type)


def _risk(outcome: StripeOutcome | None) -> Risk | None:
    """Radar's verdict; not_assessed (non-card payments) and unknown (an evaluation error)
    say nothing about the payment."""
    if outcome is None or outcome.risk_level not in _RISK_LEVELS:
        return None
    detail = f"risk_score {outcome.risk_score}" if outcome.risk_score is not None else None
    return Risk(level=RiskLevel(outcome.risk_level), detail=detail)


def charge_payment(
    charge: StripeCharge, *, provider_event_id: str, occurred_at: datetime, test: bool
) -> PaymentEvent | str:
    if charge.payment_intent is None:
        return "charge has no payment_intent (not a payment orderhub opened)"
    reference = order_reference(None, charge.metadata)
    if reference is None:
        return "charge has no metadata.order_id"
    if charge.captured:
        status, amount = PaymentStatus.SUCCEEDED, charge.amount_captured or charge.amount
    else:  # manual capture: authorized until the PaymentIntent is captured
        status, amount = PaymentStatus.AUTHORIZED, charge.amount
    return PaymentEvent(
        provider=SOURCE,
        provider_event_id=provider_event_id,
        payment_id=charge.payment_intent,
        order_id=reference[0],
        attempt=reference[1],
        status=status,
        amount=from_stripe_amount(amount, charge.currency),
        method=_charge_method(charge),
        occurred_at=occurred_at,
        needs_capture=status is PaymentStatus.AUTHORIZED,
        provider_data={"charge": charge.id},
        risk=_risk(charge.outcome),
        test=test,
    )


def _failure_reason(intent: StripePaymentIntent, event_type: str) -> str:
    if event_type == "payment_intent.canceled":
        return f"canceled: {intent.cancellation_reason or 'no reason given'}"
    error = intent.last_payment_error
    if error is not None and (error.message or error.code or error.type):
        return str(error.message or error.code or error.type)
    return "payment failed"


def _session_status(session: StripeCheckoutSession, event_type: str) -> PaymentStatus:
    if event_type == "checkout.session.async_payment_failed":
        return PaymentStatus.FAILED
    if event_type == "checkout.session.async_payment_succeeded":
        return PaymentStatus.SUCCEEDED
    if event_type == "checkout.session.expired":
        return PaymentStatus.CANCELLED
    # Delayed methods (BLIK, P24, transfers) and manual capture complete the session unpaid.
    return PaymentStatus.PENDING if session.payment_status == "unpaid" else PaymentStatus.SUCCEEDED


_SESSION_FAILURES = {
    PaymentStatus.FAILED: "async payment failed",
    PaymentStatus.CANCELLED: "checkout session expired",
}


def _to_inbound(event: StripeEvent) -> InboundFromStripe | str:
    """The canonical event, or the reason the event is ignored."""
    try:
        return _map(event)
    except ValidationError as error:
        raise MalformedWebhook(validation_message(error)) from error
    except UnrepresentableAmount as error:
        raise MalformedWebhook(str(error)) from error


def _map(event: StripeEvent) -> InboundFromStripe | str:
    occurred_at = datetime.fromtimestamp(event.created, tz=UTC)
    common: dict[str, Any] = {
        "provider_event_id": event.id,
        "occurred_at": occurred_at,
        "test": not event.livemode,
    }
    kind = event.type
    mapped: PaymentEvent | RefundEvent | str
    if kind in _INTENT_STATUSES:
        intent = parse_model(StripePaymentIntent, event.data.object)
        status = _INTENT_STATUSES[kind]
        failure = _failure_reason(intent, kind) if status is PaymentStatus.FAILED else None
        mapped = intent_payment(intent, status, failure_reason=failure, **common)
    elif kind in _SESSION_TYPES:
        session = parse_model(StripeCheckoutSession, event.data.object)
        status = _session_status(session, kind)
        failure = _SESSION_FAILURES.get(status)
        mapped = session_payment(session, status, failure_reason=failure, **common)
    elif kind == "charge.succeeded":
        mapped = charge_payment(parse_model(StripeCharge, event.data.object), **common)
    elif kind in _REFUND_TYPES:
        mapped = refund_event(parse_model(StripeRefund, event.data.object), **common)
    elif kind == "charge.refunded":
        charge = parse_model(StripeCharge, event.data.object)
        if charge.refunds is None or not charge.refunds.data:
            return (
                "charge.refunded does not carry its refunds (API 2022-11-15 and later): "
                "refund.created and refund.updated carry each refund"
            )
        latest = max(charge.refunds.data, key=lambda refund: refund.created)
        if latest.payment_intent is None and charge.payment_intent is not None:
            latest = latest.model_copy(update={"payment_intent": charge.payment_intent})
        mapped = refund_event(latest, **common)
    elif kind in _DISPUTE_TYPES:
        return _dispute(parse_model(StripeDispute, event.data.object), **common)
    else:
        return f"event type {kind} is not handled"
    if isinstance(mapped, str):
        return mapped
    if isinstance(mapped, RefundEvent):
        return RefundReported(refund=mapped)
    return PaymentReported(payment=mapped)


def _dispute(
    dispute: StripeDispute, *, provider_event_id: str, occurred_at: datetime, test: bool
) -> DisputeReported | str:
    payment_id = dispute.payment_intent or dispute.charge
    if payment_id is None:
        return "dispute names no payment intent or charge"
    reference = order_reference(None, dispute.metadata)
    return DisputeReported(
        dispute=DisputeEvent(
            provider=SOURCE,
            provider_event_id=provider_event_id,
            dispute_id=dispute.id,
            order_id=reference[0] if reference else None,
            payment_id=payment_id,
            amount=from_stripe_amount(dispute.amount, dispute.currency),
            reason=dispute.reason,
            status=dispute.status,
            occurred_at=occurred_at,
            test=test,
        )
    )
