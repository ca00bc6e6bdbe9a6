"""Stripe's API as orderhub's PaymentGateway: Checkout Sessions, captures, refunds, lookups.

Docs: docs.stripe.com/api. Requests are form-encoded in Stripe's bracket notation
(`metadata[order_id]=...`, `line_items[0][price_data][currency]=...`, as stripe-python's
`_api_encode` writes them), authenticated with `Authorization: Bearer <secret key>`, pinned
to `Stripe-Version: API_VERSION`; every POST carries an `Idempotency-Key`
(docs.stripe.com/api/idempotent_requests: the same key and parameters replay the first
answer, other parameters are refused with an idempotency_error).

- create_session: POST /v1/checkout/sessions, mode=payment, one line for the amount asked
  (the whole total, or what is left to pay), client_reference_id and metadata[order_id] (the
  session's events), payment_intent_data[metadata] (the PaymentIntent's and, copied at
  confirmation, its charge's events), metadata[attempt] beside each. Stripe creates a
  Checkout Session's PaymentIntent only when the buyer pays (API 2022-08-01), so
  `payment_intent` is usually null here: the session id is then the payment id, and the
  notifications, which name the PaymentIntent, are matched to the session by the attempt.
- capture: POST /v1/payment_intents/{id}/capture (manual capture only); a repeat (the intent
  no longer requires capture) reads the intent instead.
- refund: POST /v1/refunds, Idempotency-Key = orderhub's refund id, echoed in metadata.
- session_status / refund_status: GET the session (its PaymentIntent expanded) or the refund,
  mapped as webhook.py maps the notifications.
Errors (docs.stripe.com/api/errors): 402 card errors and 400 invalid requests are final
(GatewayRejected with Stripe's error code); 409 (a request with the same key in flight),
429 and 5xx are retryable, and so is anything Stripe marks `Stripe-Should-Retry: true`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlencode

from pydantic import BaseModel, ConfigDict, ValidationError

from shared.inbox.contract import MalformedWebhook
from shared.payments.domain import PaymentEvent, PaymentStatus, RefundEvent, RefundStatus
from shared.payments.gateway import (
    CreatedSession,
    GatewayRejected,
    GatewayUnavailable,
    RefundAccepted,
    RefundLookup,
    RefundRequest,
    SessionLookup,
    SessionRequest,
    UnsupportedMethod,
    base_url,
    merchant_reference,
    raise_for_provider,
)
from shared.providers.payments.stripe.amounts import (
    UnrepresentableAmount,
    from_stripe_amount,
    to_stripe_amount,
)
from shared.providers.payments.stripe.webhook import (
    API_VERSION,
    REFUND_STATUSES,
    SOURCE,
    StripeCheckoutSession,
    StripeError,
    StripePaymentIntent,
    StripeRefund,
    method_word,
    refund_event,
    session_payment,
)

if TYPE_CHECKING:
    import httpx

API_BASE = "https://api.stripe.com"  # test or live mode follows the key, not the host

# orderhub's methods as Checkout's payment_method_types. Apple Pay and Google Pay are card
# wallets: Checkout offers them with `card` where the Dashboard enables them
# (docs.stripe.com/payments/wallets). Klarna takes Polish buyers in PLN
# (docs.stripe.com/payments/klarna: customer countries include Poland, in its own currency).
STRIPE_TYPES: dict[str, str] = {
    "card": "card",
    "apple_pay": "card",
    "google_pay": "card",
    "blik": "blik",
    "bank_link": "p24",
    "pay_later": "klarna",
}
# Currencies a method takes (docs.stripe.com/payments/blik: pln; /payments/p24: eur, pln).
METHOD_CURRENCIES: dict[str, frozenset[str]] = {
    "blik": frozenset({"PLN"}),
    "p24": frozenset({"EUR", "PLN"}),
}
# Checkout's `locale` values (docs.stripe.com/api/checkout/sessions/create#locale).
_LOCALES = (
    "auto bg cs da de el en en-GB es es-419 et fi fil fr fr-CA hr hu id it ja ko lt lv ms mt "
    "nb nl pl pt pt-BR ro ru sk sl sv th tr vi zh zh-HK zh-TW"
)
CHECKOUT_LOCALES = frozenset(_LOCALES.split())
# API 2026-09-30.endive replaced payment_method_types (a list to offer) with
# allowed_payment_method_types (a filter on the Dashboard's methods) on session creation
# (docs.stripe.com/changelog/endive/2026-09-30/remove-payment-method-types-checkout-sessions).
METHOD_TYPES_PARAM = (
    "allowed_payment_method_types" if API_VERSION >= "2026-09-30" else "payment_method_types"
)
_TEST_KEY_PREFIXES = ("sk_test_", "rk_test_")
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


def form_encode(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Stripe's bracket notation: nested maps as `a[b]`, lists as `a[0]`, None left out,
    booleans as true/false (what stripe-python's `_api_encode` yields)."""
    pairs: list[tuple[str, str]] = []

    def walk(key: str, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, Mapping):
            for name, item in value.items():
                walk(f"{key}[{name}]", item)
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                walk(f"{key}[{index}]", item)
        elif isinstance(value, bool):
            pairs.append((key, "true" if value else "false"))
        else:
            pairs.append((key, str(value)))

    for name, value in params.items():
        walk(str(name), value)
    return pairs


class _Reply(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _CreatedSession(_Reply):
    id: str
    url: str | None = None
    payment_intent: str | None = None


class _ErrorReply(_Reply):
    error: StripeError


class _RefundList(_Reply):
    data: list[StripeRefund] = []


def stripe_reason(reason: str) -> str | None:
    """Refund.reason (duplicate, fraudulent, requested_by_customer) where orderhub's words fit
    one; otherwise none is sent (Stripe's reason feeds Radar and the customer's statement)."""
    text = reason.lower()
    if "fraud" in text:
        return "fraudulent"
    if "duplicate" in text or "already paid" in text or "already_paid" in text:
        return "duplicate"
    if any(word in text for word in ("customer", "buyer", "return", "cancel")):
        return "requested_by_customer"
    return None


class StripeGateway:
    """Stripe's side of orderhub's payments (one instance per secret version)."""

    provider = SOURCE
    methods = frozenset(STRIPE_TYPES)

    def __init__(
        self,
        api_key: str,
        http: httpx.Client,
        *,
        base: str = API_BASE,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not api_key:
            raise ValueError("the Stripe secret has no api_key")
        self._key = api_key
        self._http = http
        self._base = base.rstrip("/")
        self._now = now
        self._test = api_key.startswith(_TEST_KEY_PREFIXES)

    @classmethod
    def from_secret(cls, document: Mapping[str, Any], http: httpx.Client) -> StripeGateway:
        return cls(
            str(document.get("api_key") or ""),
            http,
            base=base_url(document, sandbox=API_BASE, production=API_BASE),
        )

    # -- PaymentGateway --------------------------------------------------------------------------
    def create_session(self, request: SessionRequest) -> CreatedSession:
        stripe_type = self._stripe_type(request)
        reference = merchant_reference(request.order_id, request.attempt, per_attempt=False)
        metadata = {"order_id": request.order_id, "attempt": str(request.attempt)}
        name = request.description.strip() or f"Order {request.order_id}"
        params: dict[str, Any] = {
            "mode": "payment",
            "client_reference_id": reference,
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata, "description": name[:1000]},
            "line_items": [
                {
                    "price_data": {
                        "currency": request.amount.currency.lower(),
                        "unit_amount": self._amount(request.amount),
                        "product_data": {"name": name[:250]},
                    },
                    "quantity": 1,
                }
            ],
            "success_url": request.return_url,
            "cancel_url": request.return_url,
            "customer_email": request.buyer_email or None,
            METHOD_TYPES_PARAM: [stripe_type] if stripe_type else None,
            "locale": request.language if request.language in CHECKOUT_LOCALES else None,
        }
        body = self._call(
            "POST",
            "/v1/checkout/sessions",
            "create checkout session",
            form=params,
            idempotency_key=request.idempotency_key,
        )
        session = self._reply(_CreatedSession, body, "checkout session")
        if not session.url:
            raise GatewayRejected("Stripe answered a checkout session without a url")
        return CreatedSession(
            session_id=session.id,
            redirect_url=session.url,
            reference=reference,
            payment_id=session.payment_intent or session.id,
        )

    def capture(self, payment: PaymentEvent) -> PaymentEvent | None:
        intent_id = payment.payment_id
        if not intent_id.startswith("pi_"):
            raise GatewayRejected(
                f"{intent_id} is not a PaymentIntent: nothing to capture", code="no_intent"
            )
        path = f"/v1/payment_intents/{quote(intent_id, safe='')}"
        try:
            body = self._call(
                "POST",
                f"{path}/capture",
                "capture payment intent",
                form={},
                idempotency_key=f"orderhub-capture-{intent_id}",
            )
        except GatewayRejected as error:
            if error.code != "payment_intent_unexpected_state":
                raise
            # Captured (or canceled) already: what the intent is now is the answer.
            body = self._call("GET", path, "retrieve payment intent")
        intent = self._reply(StripePaymentIntent, body, "payment intent")
        return self._captured(intent, payment)

    def refund(self, request: RefundRequest) -> RefundAccepted:
        target = "charge" if request.payment_id.startswith(("ch_", "py_")) else "payment_intent"
        metadata = {"refund_id": request.refund_id, "order_id": request.order_id}
        if request.reason.strip():
            metadata["reason"] = request.reason.strip()[:500]
        body = self._call(
            "POST",
            "/v1/refunds",
            "create refund",
            form={
                target: request.payment_id,
                "amount": self._amount(request.amount),
                "metadata": metadata,
                "reason": stripe_reason(request.reason),
            },
            idempotency_key=request.refund_id,
        )
        refund = self._reply(StripeRefund, body, "refund")
        status = REFUND_STATUSES.get(refund.status or "", RefundStatus.PENDING)
        failure = None
        if status is RefundStatus.FAILED:
            failure = refund.failure_reason or f"refund {refund.status}"
        return RefundAccepted(status=status, provider_refund_id=refund.id, failure_reason=failure)

    def session_status(self, session: SessionLookup) -> PaymentEvent | None:
        body = self._call(
            "GET",
            f"/v1/checkout/sessions/{quote(session.session_id, safe='')}",
            "retrieve checkout session",
            query={"expand": ["payment_intent"]},
        )
        intent: StripePaymentIntent | None = None
        if isinstance(body.get("payment_intent"), dict):
            intent = self._reply(StripePaymentIntent, body["payment_intent"], "payment intent")
            body = {**body, "payment_intent": intent.id}
        found = self._reply(StripeCheckoutSession, body, "checkout session")
        if not found.client_reference_id and not found.metadata.get("order_id"):
            found = found.model_copy(update={"client_reference_id": session.reference})
        if found.status == "open" or found.status is None:
            return None
        event_id = f"{found.id}:{found.payment_status}:{found.status}"
        failure: str | None = None
        if found.status == "expired":
            status, failure = PaymentStatus.CANCELLED, "checkout session expired"
        elif found.payment_status != "unpaid":
            status = PaymentStatus.SUCCEEDED
        else:
            # Completed but unpaid: a delayed method settling, a failed one, or money held
            # for capture; the PaymentIntent says which.
            status = _unpaid_status(intent)
            if intent is not None and intent.status:
                event_id = f"{event_id}:{intent.status}"
            if status is PaymentStatus.FAILED:
                error = intent.last_payment_error if intent else None
                failure = (error.message or error.code) if error else None
                failure = failure or "async payment failed"
        mapped = self._mapped(
            lambda: session_payment(
                found,
                status,
                provider_event_id=event_id,
                occurred_at=self._now(),
                test=self._test,
                failure_reason=failure,
            )
        )
        if isinstance(mapped, str):
            raise GatewayUnavailable(f"checkout session {found.id}: {mapped}")
        return mapped

    def refund_status(self, refund: RefundLookup) -> RefundEvent | None:
        found: StripeRefund | None
        if refund.provider_refund_id:
            try:
                body = self._call(
                    "GET",
                    f"/v1/refunds/{quote(refund.provider_refund_id, safe='')}",
                    "retrieve refund",
                )
            except GatewayRejected as error:
                if error.code == "resource_missing":
                    return None
                raise
            found = self._reply(StripeRefund, body, "refund")
        else:
            # The request's answer was lost: find the refund by the id orderhub gave it.
            target = "charge" if refund.payment_id.startswith(("ch_", "py_")) else "payment_intent"
            body = self._call(
                "GET",
                "/v1/refunds",
                "list refunds",
                query={target: refund.payment_id, "limit": 100},
            )
            listed = self._reply(_RefundList, body, "refund list").data
            found = next(
                (r for r in listed if r.metadata.get("refund_id") == refund.refund_id), None
            )
            if found is None:
                return None
        current = found
        mapped = self._mapped(
            lambda: refund_event(
                current,
                provider_event_id=f"{current.id}:{current.status}",
                occurred_at=self._now(),
                test=self._test,
            )
        )
        return None if isinstance(mapped, str) else mapped

    # -- helpers -----------------------------------------------------------------------------------
    def _stripe_type(self, request: SessionRequest) -> str | None:
        if request.method is None:
            return None  # Checkout's own choice among the methods enabled in the Dashboard
        stripe_type = STRIPE_TYPES.get(request.method)
        if stripe_type is None:
            raise UnsupportedMethod(
                f"Stripe does not offer {request.method!r} here", code="unsupported_method"
            )
        allowed = METHOD_CURRENCIES.get(stripe_type)
        if allowed is not None and request.amount.currency not in allowed:
            raise UnsupportedMethod(
                f"Stripe's {stripe_type} takes {', '.join(sorted(allowed))}, "
                f"not {request.amount.currency}",
                code="unsupported_currency",
            )
        return stripe_type

    @staticmethod
    def _amount(money: Any) -> int:
        try:
            return to_stripe_amount(money)
        except UnrepresentableAmount as error:
            raise GatewayRejected(str(error), code="amount_unrepresentable") from error

    def _captured(self, intent: StripePaymentIntent, payment: PaymentEvent) -> PaymentEvent | None:
        if intent.status == "succeeded":
            status, amount, failure = PaymentStatus.SUCCEEDED, intent.amount_received, None
        elif intent.status == "canceled":
            reason = intent.cancellation_reason or "no reason given"
            status, amount, failure = PaymentStatus.FAILED, intent.amount, f"canceled: {reason}"
        else:
            return None  # still processing: its notification will say
        methods = intent.payment_method_types
        return self._mapped(
            lambda: PaymentEvent(
                provider=SOURCE,
                provider_event_id=f"{intent.id}:capture:{intent.status}",
                payment_id=intent.id,
                order_id=payment.order_id,
                channel_order=payment.channel_order,
                attempt=payment.attempt,
                status=status,
                amount=from_stripe_amount(amount, intent.currency),
                method=payment.method or (method_word(methods[0]) if len(methods) == 1 else None),
                occurred_at=self._now(),
                failure_reason=failure,
                provider_data=dict(payment.provider_data),
                risk=payment.risk,
                test=self._test,
            )
        )

    @staticmethod
    def _mapped(build: Callable[[], T]) -> T:
        """A provider answer mapped; one it cannot be mapped from is not a final refusal."""
        try:
            return build()
        except (ValidationError, MalformedWebhook, UnrepresentableAmount) as error:
            raise GatewayUnavailable(f"Stripe answered something unexpected: {error}") from error

    @staticmethod
    def _reply(model: type[M], body: Any, what: str) -> M:
        try:
            return model.model_validate(body)
        except ValidationError as error:
            raise GatewayUnavailable(f"Stripe's {what} is not what its API documents") from error

    def _call(
        self,
        method: str,
        path: str,
        what: str,
        *,
        form: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """One Stripe call under the shared error policy (shared.payments.gateway.send, plus
        Stripe's error object and Stripe-Should-Retry)."""
        import httpx

        headers = {
            "Authorization": f"Bearer {self._key}",
            "Stripe-Version": API_VERSION,
            "Accept": "application/json",
            "User-Agent": "orderhub (+stripe gateway)",
        }
        content: bytes | None = None
        if form is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            content = urlencode(form_encode(form)).encode()
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        url = self._base + path
        if query:
            url = f"{url}?{urlencode(form_encode(query))}"
        try:
            response = self._http.request(method, url, content=content, headers=headers)
        except httpx.HTTPError as error:
            raise GatewayUnavailable(f"{what}: {type(error).__name__}: {error}") from error
        _raise_for_stripe(response, what)
        raise_for_provider(response, what)
        try:
            body = response.json()
        except ValueError as error:
            raise GatewayUnavailable(f"{what}: Stripe answered something not JSON") from error
        if not isinstance(body, dict):
            raise GatewayUnavailable(f"{what}: Stripe answered something not a JSON object")
        return body


def _unpaid_status(intent: StripePaymentIntent | None) -> PaymentStatus:
    state = intent.status if intent is not None else None
    if state == "requires_capture":
        return PaymentStatus.AUTHORIZED
    if state == "succeeded":
        return PaymentStatus.SUCCEEDED
    if state in ("requires_payment_method", "canceled"):
        return PaymentStatus.FAILED
    return PaymentStatus.PENDING


def _raise_for_stripe(response: httpx.Response, what: str) -> None:
    """Stripe's error object names the refusal (docs.stripe.com/api/errors); a header
    `Stripe-Should-Retry: true` overrides the status (docs.stripe.com/error-low-level)."""
    status = response.status_code
    if 200 <= status < 300:
        return
    if response.headers.get("Stripe-Should-Retry", "").lower() == "true":
        raise GatewayUnavailable(f"{what}: HTTP {status}, Stripe asks to retry")
    if status >= 500 or status in (408, 409, 425, 429):
        return  # raise_for_provider: retryable
    try:
        error = _ErrorReply.model_validate_json(response.content).error
    except ValidationError:
        return  # not Stripe's error object: raise_for_provider decides
    code = error.code or error.type or str(status)
    detail = f" ({error.decline_code})" if error.decline_code else ""
    raise GatewayRejected(
        f"{what}: HTTP {status} {error.type or 'error'} {code}{detail}: {error.message or ''}",
        code=code,
    )
