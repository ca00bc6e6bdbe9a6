"""Stripe's side, as docs.stripe.com documents it: the webhook deliveries (the event envelope,
pretty-printed, Stripe-Signature t=<unix>,v1=<hex HMAC-SHA256 of "t.body">) and the part of
the REST API orderhub calls, served over HTTP on 127.0.0.1.

The API checks what Stripe checks: the secret key (`Authorization: Bearer sk_...` or basic
auth; 401 with Stripe's error object otherwise), `Stripe-Version`, form-encoded bodies in
bracket notation, unknown and missing parameters, metadata limits, currencies, minimum
amounts, the currencies each payment method takes, and Idempotency-Key (the same key and
parameters replay the first answer with `Idempotent-Replayed: true`; the same key with other
parameters or on another endpoint is a 400 idempotency_error; a key in flight is a 409).

    POST /v1/checkout/sessions            GET /v1/checkout/sessions/{id} (expand payment_intent)
    POST /v1/checkout/sessions/{id}/expire
    GET  /v1/payment_intents/{id}         POST /v1/payment_intents/{id}/capture
    GET  /v1/charges/{id}
    POST /v1/refunds   GET /v1/refunds (payment_intent=, charge=)   GET /v1/refunds/{id}
    GET  /c/pay/{session id}              the hosted page (pay or fail it in a browser)

What the buyer and the bank do are methods: `pay`, `fail`, `expire`; refunds complete by
themselves shortly after the API answers (unless `hold_refunds`; then `complete_refund` or
`fail_refund`); `open_dispute` and `close_dispute` play the card network. Each sends the events
Stripe sends, in its order, signed with the endpoint secret, to `deliver_to`'s address plus
`path` (a Dashboard-configured endpoint: the request never names it).
"""

from __future__ import annotations

import copy
import html
import json
import re
import secrets
import threading
import time
import uuid
from base64 import b64decode
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from shared.inbox.contract import Headers
from shared.providers.payments.stripe.amounts import SUPPORTED, THREE_DECIMAL
from shared.providers.payments.stripe.webhook import API_VERSION, signature_header
from shared.providers.simulation import Answer, ServedApi, SignedRequest

Json = dict[str, Any]


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


# -- what the API accepts -------------------------------------------------------------------------
# Parameter names as the API reference lists them (docs.stripe.com/api/checkout/sessions/create,
# /api/refunds/create, /api/payment_intents/capture); anything else is `parameter_unknown`.
SESSION_PARAMS = _names(
    """
    adaptive_pricing after_expiration allow_promotion_codes automatic_tax
    billing_address_collection branding_settings cancel_url client_reference_id
    consent_collection currency custom_fields custom_text customer customer_creation
    customer_email customer_update discounts excluded_payment_method_types expand expires_at
    invoice_creation line_items locale metadata mode name_collection optional_items
    origin_context payment_intent_data payment_method_collection payment_method_configuration
    payment_method_data payment_method_options payment_method_types permissions
    phone_number_collection redirect_on_completion return_url saved_payment_method_options
    setup_intent_data shipping_address_collection shipping_options submit_type subscription_data
    success_url tax_id_collection ui_mode wallet_options
    """
)
LINE_ITEM_PARAMS = _names("adjustable_quantity metadata price price_data quantity tax_rates")
PRICE_DATA_PARAMS = _names(
    "currency product product_data recurring tax_behavior unit_amount unit_amount_decimal"
)
PRODUCT_DATA_PARAMS = _names("description images metadata name tax_code unit_label")
INTENT_DATA_PARAMS = _names(
    """
    application_fee_amount capture_method description metadata on_behalf_of receipt_email
    setup_future_usage shipping statement_descriptor statement_descriptor_suffix transfer_data
    transfer_group
    """
)
REFUND_PARAMS = _names(
    """
    amount charge currency customer expand instructions_email metadata origin payment_intent
    reason refund_application_fee reverse_transfer
    """
)
CAPTURE_PARAMS = _names(
    """
    amount_to_capture application_fee_amount expand final_capture metadata
    statement_descriptor statement_descriptor_suffix transfer_data
    """
)
# API 2026-09-30.endive removed payment_method_types from session creation in favour of
# allowed_payment_method_types (docs.stripe.com/changelog/endive/2026-09-30/
# remove-payment-method-types-checkout-sessions).
ENDIVE_SESSIONS = "2026-09-30"


def session_params(version: str) -> frozenset[str]:
    if version[:10] >= ENDIVE_SESSIONS:
        return (SESSION_PARAMS - {"payment_method_types"}) | {"allowed_payment_method_types"}
    return SESSION_PARAMS


REFUND_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})
CAPTURE_METHODS = frozenset({"automatic", "automatic_async", "manual"})
LOCALES = _names(
    """
    auto bg cs da de el en en-GB es es-419 et fi fil fr fr-CA hr hu id it ja ko lt lv ms mt
    nb nl pl pt pt-BR ro ru sk sl sv th tr vi zh zh-HK zh-TW
    """
)
# The methods this simulator can play, and the currencies each takes (docs.stripe.com/payments/
# blik: pln; /payments/p24: eur, pln; /payments/klarna: each customer country's own currency).
METHOD_CURRENCIES: dict[str, frozenset[str] | None] = {
    "card": None,  # any currency Stripe supports
    "blik": frozenset({"pln"}),
    "p24": frozenset({"eur", "pln"}),
    "klarna": _names("aud cad chf czk dkk eur gbp nok nzd pln ron sek usd"),
}
# docs.stripe.com/currencies#minimum-and-maximum-charge-amounts (in Stripe's units).
MINIMUM_CHARGE: dict[str, int] = {
    "usd": 50,
    "eur": 50,
    "pln": 200,
    "gbp": 30,
    "chf": 50,
    "czk": 1500,
    "dkk": 250,
    "nok": 300,
    "sek": 300,
    "huf": 17500,
    "ron": 200,
    "jpy": 50,
    "cad": 50,
    "aud": 50,
}
MAXIMUM_CHARGE = 99_999_999  # eight digits
_RISK_SCORES = {"normal": 12, "elevated": 67, "highest": 89}
# orderhub's words for what the buyer picks on the hosted page, as Stripe's types.
_BUYER_METHODS = {
    "bank_link": "p24",
    "pay_later": "klarna",
    "apple_pay": "card",
    "google_pay": "card",
}
_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_MAX_KEY_DEPTH = 8
_HTML = "text/html; charset=utf-8"
SESSION_LIFETIME_SECONDS = 24 * 3600


class StripeApiError(Exception):
    """A refusal as Stripe's API writes it: {"error": {"type", "code", "message", "param"}}."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error: Json = {"type": type, "message": message}
        if code:
            self.error["code"] = code
            self.error["doc_url"] = f"https://docs.stripe.com/error-codes/{code.replace('_', '-')}"
        if param:
            self.error["param"] = param
        if decline_code:
            self.error["decline_code"] = decline_code


class SimulatorError(RuntimeError):
    """A buyer-side action the provider's state does not allow (pay a paid session)."""


def decode_form(pairs: Iterable[tuple[str, str]]) -> Json:
    """Stripe's bracket notation back into nested values: `a[b]=1` -> {"a": {"b": "1"}},
    `a[0]=x` or `a[]=x` -> {"a": ["x"]}."""
    root: Json = {}
    for key, value in pairs:
        parts = _key_parts(key)
        node = root
        for part in parts[:-1]:
            name = part if part else str(len(node))
            child = node.setdefault(name, {})
            if not isinstance(child, dict):
                raise StripeApiError(400, f"Invalid hash: {key} mixes a value and a hash")
            node = child
        last = parts[-1] if parts[-1] else str(len(node))
        if isinstance(node.get(last), dict):
            raise StripeApiError(400, f"Invalid hash: {key} mixes a value and a hash")
        node[last] = value
    listed = _lists(root)
    assert isinstance(listed, dict)
    return listed


def _key_parts(key: str) -> list[str]:
    match = re.fullmatch(r"([^\[\]]+)((?:\[[^\[\]]*\])*)", key)
    if match is None:
        raise StripeApiError(400, f"Invalid parameter name: {key!r}")
    parts = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
    if len(parts) > _MAX_KEY_DEPTH:
        raise StripeApiError(400, f"Parameter {key!r} is nested too deeply")
    return parts


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {key: _lists(value) for key, value in node.items()}
    if converted and all(key.isascii() and key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


@dataclass(frozen=True)
class ServedRequest:
    """One request the API served: the documented shape a test asserts on."""

    method: str
    path: str
    headers: Headers  # case-insensitive, as HTTP has them
    body: Json
    query: Json
    status: int


@dataclass(frozen=True)
class Delivery:
    """One webhook delivery attempt (status None: not delivered; see error)."""

    event_type: str
    event_id: str
    request: SignedRequest
    status: int | None
    error: str | None = None

    @property
    def event(self) -> Json:
        document: Json = json.loads(self.request.body)
        return document


@dataclass(frozen=True)
class Call:
    """The API request an action came from (events name it, as Stripe's `request` field)."""

    request_id: str
    idempotency_key: str | None
    version: str


@dataclass
class _Saved:
    method: str
    path: str
    params: Json
    status: int
    body: Json
    request_id: str


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def _mask(key: str) -> str:
    return f"{key[:8]}****{key[-4:]}" if len(key) > 12 else "****"


class StripeSimulator(ServedApi):
    path = "/webhooks/payments/stripe"
    served_name = "stripe"
    served_methods = ("GET", "POST", "DELETE")
    protocol_version = "HTTP/1.1"
    max_request_bytes = None
    # Methods whose Checkout Session completes unpaid and settles later
    # (checkout.session.async_payment_succeeded / _failed).
    delayed_methods: frozenset[str] = frozenset({"blik", "p24"})

    def __init__(self, endpoint_secret: str, api_key: str | None = None) -> None:
        self._secret = endpoint_secret
        self._api_key = api_key
        self.hold_refunds = False
        # Radar's verdict on every following payment; None: as Stripe assesses ("normal" for
        # cards, "not_assessed" for other methods).
        self.next_risk_level: str | None = None
        self.requests: list[ServedRequest] = []
        self.deliveries: list[Delivery] = []
        self._lock = threading.RLock()
        self._sessions: dict[str, Json] = {}
        self._session_intent_data: dict[str, Json] = {}
        self._intents: dict[str, Json] = {}
        self._charges: dict[str, Json] = {}
        self._refunds: dict[str, Json] = {}
        self._disputes: dict[str, Json] = {}
        self._saved: dict[tuple[str, str], _Saved] = {}
        self._in_flight: set[tuple[str, str]] = set()
        self._webhook_base: str | None = None
        self._client: httpx.Client | None = None
        self._workers: list[threading.Thread] = []

    @classmethod
    def from_secret(cls, secret: Mapping[str, Any]) -> StripeSimulator:
        """Signs with `webhook_secret`; the API takes `api_key` (any sk_test_/rk_test_ key
        when the document has none)."""
        return cls(str(secret["webhook_secret"]), api_key=secret.get("api_key") or None)

    # -- builders: Stripe objects and signed events, for tests that deliver by themselves ---------
    @staticmethod
    def payment_intent(
        order_id: str,
        amount: int,
        currency: str = "pln",
        *,
        method: str = "blik",
        status: str = "succeeded",
    ) -> Json:
        """A PaymentIntent as Stripe's API returns it (fields per the OpenAPI fixture)."""
        intent_id = f"pi_{uuid.uuid4().hex[:24]}"
        return {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_received": amount if status == "succeeded" else 0,
            "capture_method": "automatic",
            "client_secret": f"{intent_id}_secret_local",
            "confirmation_method": "automatic",
            "created": int(time.time()),
            "currency": currency,
            "customer": None,
            "description": f"orderhub {order_id}",
            "last_payment_error": None,
            "livemode": False,
            "metadata": {"order_id": order_id},
            "payment_method_types": [method],
            "status": status,
        }

    @staticmethod
    def charge(
        order_id: str | None,
        amount: int,
        currency: str = "pln",
        *,
        payment_intent: str | None = None,
        method: str = "card",
        risk_level: str | None = "normal",
        risk_score: int | None = None,
        captured: bool = True,
        wallet: str | None = None,
    ) -> Json:
        """A Charge as a PaymentIntent creates it (its metadata copied from the intent)."""
        details: Json = {"type": method, method: {}}
        if method == "card":
            details["card"] = {"brand": "visa", "last4": "4242", "wallet": None}
            if wallet:
                details["card"]["wallet"] = {"type": wallet, wallet: {}}
        outcome: Json = {
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": risk_level,
            "seller_message": "Payment complete.",
            "type": "authorized",
        }
        score = risk_score if risk_score is not None else _RISK_SCORES.get(risk_level or "")
        if score is not None:
            outcome["risk_score"] = score
        return {
            "id": _new_id("ch"),
            "object": "charge",
            "amount": amount,
            "amount_captured": amount if captured else 0,
            "amount_refunded": 0,
            "captured": captured,
            "created": int(time.time()),
            "currency": currency,
            "disputed": False,
            "livemode": False,
            "metadata": {"order_id": order_id} if order_id else {},
            "outcome": outcome,
            "paid": True,
            "payment_intent": payment_intent or _new_id("pi"),
            "payment_method_details": details,
            "refunded": False,
            "status": "succeeded",
        }

    @staticmethod
    def refund(
        amount: int,
        currency: str = "pln",
        *,
        payment_intent: str | None = None,
        charge: str | None = None,
        status: str = "succeeded",
        refund_id: str | None = None,
        order_id: str | None = None,
        failure_reason: str | None = None,
    ) -> Json:
        """A Refund (fields per the OpenAPI fixture); refund_id/order_id in metadata as the
        gateway sets them (a Dashboard refund has neither)."""
        metadata = {
            key: value
            for key, value in (("refund_id", refund_id), ("order_id", order_id))
            if value is not None
        }
        return {
            "id": _new_id("re"),
            "object": "refund",
            "amount": amount,
            "balance_transaction": None,
            "charge": charge or _new_id("ch"),
            "created": int(time.time()),
            "currency": currency,
            "failure_reason": failure_reason,
            "metadata": metadata,
            "payment_intent": payment_intent,
            "reason": None,
            "status": status,
        }

    @staticmethod
    def dispute(
        amount: int,
        currency: str = "pln",
        *,
        payment_intent: str | None = None,
        charge: str | None = None,
        reason: str = "fraudulent",
        status: str = "needs_response",
    ) -> Json:
        return {
            "id": _new_id("du"),
            "object": "dispute",
            "amount": amount,
            "balance_transactions": [],
            "charge": charge or _new_id("ch"),
            "created": int(time.time()),
            "currency": currency,
            "is_charge_refundable": False,
            "livemode": False,
            "metadata": {},
            "payment_intent": payment_intent,
            "reason": reason,
            "status": status,
        }

    @staticmethod
    def checkout_session(
        order_id: str,
        amount: int,
        currency: str = "pln",
        *,
        payment_status: str = "paid",
        status: str = "complete",
        payment_intent: str | None = None,
        method: str = "card",
        attempt: int | None = None,
    ) -> Json:
        session_id = f"cs_test_{secrets.token_hex(16)}"
        metadata = {"order_id": order_id}
        if attempt is not None:
            metadata["attempt"] = str(attempt)
        return {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": amount,
            "amount_total": amount,
            "client_reference_id": order_id,
            "created": int(time.time()),
            "currency": currency,
            "livemode": False,
            "metadata": metadata,
            "mode": "payment",
            "payment_intent": payment_intent,
            "payment_method_types": [method],
            "payment_status": payment_status,
            "status": status,
            "url": None,
        }

    def event(
        self,
        event_type: str,
        obj: Json,
        *,
        event_id: str | None = None,
        timestamp: int | None = None,
        request_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> SignedRequest:
        now = int(time.time()) if timestamp is None else timestamp
        envelope = {
            "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
            "object": "event",
            "api_version": API_VERSION,
            "created": now,
            "data": {"object": obj},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": request_id, "idempotency_key": idempotency_key},
            "type": event_type,
        }
        body = json.dumps(envelope, indent=2).encode()  # Stripe sends pretty-printed JSON
        return SignedRequest(
            self.path,
            body,
            {
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                "Stripe-Signature": signature_header(body, self._secret, now),
            },
        )

    notification = event

    # -- serving the API --------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self._server is None:
            raise SimulatorError("the simulator's API is not started")
        return super().base_url

    def stop(self) -> None:
        self.settle()
        super().stop()
        if self._client is not None:
            self._client.close()
            self._client = None

    def deliver_to(self, webhook_base_url: str) -> None:
        """The endpoint configured in the Dashboard: events go to this base URL + `path`."""
        self._webhook_base = webhook_base_url.rstrip("/")

    def settle(self, timeout: float = 10.0) -> None:
        """Wait until the notifications sent in the background (refunds) have gone out."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                workers = [w for w in self._workers if w.is_alive()]
                self._workers = workers
            if not workers:
                return
            workers[0].join(max(0.0, deadline - time.monotonic()))
            if time.monotonic() >= deadline:
                return

    # -- state, for tests and the demo ------------------------------------------------------------
    def session(self, session_id: str) -> Json:
        with self._lock:
            return copy.deepcopy(self._get(self._sessions, session_id, "checkout.session"))

    def payment_intent_of(self, session_id: str) -> Json | None:
        with self._lock:
            intent_id = self._get(self._sessions, session_id, "checkout.session")["payment_intent"]
            return copy.deepcopy(self._intents[intent_id]) if intent_id else None

    def refund_object(self, refund_id: str) -> Json:
        with self._lock:
            return copy.deepcopy(self._get(self._refunds, refund_id, "refund"))

    def deliveries_of(self, event_type: str) -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if d.event_type == event_type]

    # -- what the buyer, the bank and the card network do -----------------------------------------
    def pay(self, session_id: str, *, method: str | None = None, notify: bool = True) -> str:
        """The buyer pays on the hosted page; returns the PaymentIntent's id. A card (or
        Klarna) pays at once; a delayed method (BLIK, P24) completes the session unpaid, then
        settles; manual capture leaves the money authorized."""
        outbox: list[SignedRequest] = []
        with self._lock:
            session, stripe_method = self._open_session(session_id, method)
            intent = self._intent_for(session, stripe_method)
            intent["last_payment_error"] = None  # a retry after a declined card
            capture_manually = intent["capture_method"] == "manual"
            session["status"] = "complete"
            if stripe_method in self.delayed_methods:
                intent["status"] = "processing"
                intent["processing"] = {"type": stripe_method}
                outbox.append(self._snapshot("checkout.session.completed", session))
                outbox.append(self._snapshot("payment_intent.processing", intent))
                charge = self._charge_for(intent, stripe_method, captured=True)
                intent.update(status="succeeded", amount_received=intent["amount"], processing=None)
                session["payment_status"] = "paid"
                outbox.append(self._snapshot("payment_intent.succeeded", intent))
                outbox.append(self._snapshot("charge.succeeded", charge))
                outbox.append(self._snapshot("checkout.session.async_payment_succeeded", session))
            elif capture_manually:
                charge = self._charge_for(intent, stripe_method, captured=False)
                intent.update(status="requires_capture", amount_capturable=intent["amount"])
                outbox.append(self._snapshot("checkout.session.completed", session))
                outbox.append(self._snapshot("charge.succeeded", charge))
                outbox.append(self._snapshot("payment_intent.amount_capturable_updated", intent))
            else:
                charge = self._charge_for(intent, stripe_method, captured=True)
                intent.update(status="succeeded", amount_received=intent["amount"])
                session["payment_status"] = "paid"
                outbox.append(self._snapshot("checkout.session.completed", session))
                outbox.append(self._snapshot("payment_intent.succeeded", intent))
                outbox.append(self._snapshot("charge.succeeded", charge))
            intent_id = str(intent["id"])
        self._send(outbox, notify)
        return intent_id

    def fail(self, session_id: str, *, method: str | None = None, notify: bool = True) -> str:
        """The payment fails: a declined card leaves the session open (the buyer may try
        again); a delayed method's bank refusal completes the session and fails it."""
        outbox: list[SignedRequest] = []
        with self._lock:
            session, stripe_method = self._open_session(session_id, method)
            intent = self._intent_for(session, stripe_method)
            if stripe_method in self.delayed_methods:
                session["status"] = "complete"
                intent.update(status="processing", processing={"type": stripe_method})
                outbox.append(self._snapshot("checkout.session.completed", session))
                outbox.append(self._snapshot("payment_intent.processing", intent))
                intent.update(
                    status="requires_payment_method",
                    processing=None,
                    last_payment_error={
                        "type": "invalid_request_error",
                        "code": "payment_method_provider_decline",
                        "message": f"The {stripe_method} payment was declined by the bank.",
                    },
                )
                outbox.append(self._snapshot("payment_intent.payment_failed", intent))
                outbox.append(self._snapshot("checkout.session.async_payment_failed", session))
            else:
                charge = self._charge_for(intent, stripe_method, captured=False)
                charge.update(
                    status="failed",
                    paid=False,
                    failure_code="card_declined",
                    failure_message="Your card was declined.",
                )
                charge["outcome"].update(
                    network_status="declined_by_network", type="issuer_declined"
                )
                intent.update(
                    status="requires_payment_method",
                    last_payment_error={
                        "type": "card_error",
                        "code": "card_declined",
                        "decline_code": "generic_decline",
                        "message": "Your card was declined.",
                        "charge": charge["id"],
                    },
                )
                outbox.append(self._snapshot("charge.failed", charge))
                outbox.append(self._snapshot("payment_intent.payment_failed", intent))
            intent_id = str(intent["id"])
        self._send(outbox, notify)
        return intent_id

    def expire(self, session_id: str, *, notify: bool = True) -> None:
        """The session's 24 hours pass without a payment."""
        with self._lock:
            session = self._get(self._sessions, session_id, "checkout.session")
            if session["status"] != "open":
                raise SimulatorError(f"{session_id} is {session['status']}, not open")
            outbox = self._expire(session)
        self._send(outbox, notify)

    def complete_refund(self, provider_refund_id: str, *, notify: bool = True) -> None:
        """The pending refund reaches the buyer: refund.updated (succeeded)."""
        with self._lock:
            refund = self._get(self._refunds, provider_refund_id, "refund")
            if refund["status"] != "pending":
                raise SimulatorError(f"{provider_refund_id} is {refund['status']}, not pending")
            refund["status"] = "succeeded"
            outbox = [self._snapshot("refund.updated", refund)]
        self._send(outbox, notify)

    def fail_refund(
        self,
        provider_refund_id: str,
        *,
        failure_reason: str = "expired_or_canceled_card",
        notify: bool = True,
    ) -> None:
        """The bank returns the refund (docs.stripe.com/refunds#failed-refunds)."""
        with self._lock:
            refund = self._get(self._refunds, provider_refund_id, "refund")
            if refund["status"] != "pending":
                raise SimulatorError(f"{provider_refund_id} is {refund['status']}, not pending")
            refund.update(status="failed", failure_reason=failure_reason)
            charge = self._charges[refund["charge"]]
            charge["amount_refunded"] -= refund["amount"]
            charge["refunded"] = False
            outbox = [self._snapshot("refund.failed", refund)]
        self._send(outbox, notify)

    def open_dispute(
        self, payment_intent_id: str, *, reason: str = "fraudulent", notify: bool = True
    ) -> str:
        """The cardholder disputes the payment: charge.dispute.created; returns its id."""
        with self._lock:
            intent = self._get(self._intents, payment_intent_id, "payment_intent")
            charge = self._charges[intent["latest_charge"]]
            dispute = self.dispute(
                charge["amount_captured"],
                charge["currency"],
                payment_intent=intent["id"],
                charge=charge["id"],
                reason=reason,
            )
            dispute["payment_method_details"] = {"type": charge["payment_method_details"]["type"]}
            self._disputes[dispute["id"]] = dispute
            charge["disputed"] = True
            outbox = [self._snapshot("charge.dispute.created", dispute)]
        self._send(outbox, notify)
        return str(dispute["id"])

    def close_dispute(self, dispute_id: str, *, won: bool, notify: bool = True) -> None:
        with self._lock:
            dispute = self._get(self._disputes, dispute_id, "dispute")
            dispute["status"] = "won" if won else "lost"
            outbox = [self._snapshot("charge.dispute.closed", dispute)]
        self._send(outbox, notify)

    # -- state changes (under the lock) -----------------------------------------------------------
    def _open_session(self, session_id: str, method: str | None) -> tuple[Json, str]:
        session = self._get(self._sessions, session_id, "checkout.session")
        if session["status"] != "open":
            raise SimulatorError(f"{session_id} is {session['status']}: it cannot be paid")
        offered: list[str] = session["payment_method_types"]
        stripe_method = _BUYER_METHODS.get(method, method) if method else offered[0]
        if stripe_method not in offered:
            raise SimulatorError(f"{session_id} does not offer {stripe_method} ({offered})")
        return session, stripe_method

    def _intent_for(self, session: Json, stripe_method: str) -> Json:
        """The session's PaymentIntent, created when the buyer confirms (API 2022-08-01)."""
        existing = session["payment_intent"]
        if existing:
            known = self._intents[existing]
            known["payment_method_types"] = [stripe_method]
            return known
        data = self._session_intent_data.get(session["id"], {})
        intent_id = _new_id("pi")
        intent: Json = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": session["amount_total"],
            "amount_capturable": 0,
            "amount_received": 0,
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": data.get("capture_method", "automatic_async"),
            "client_secret": f"{intent_id}_secret_{secrets.token_hex(12)}",
            "confirmation_method": "automatic",
            "created": int(time.time()),
            "currency": session["currency"],
            "customer": None,
            "description": data.get("description"),
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": dict(data.get("metadata", {})),
            "next_action": None,
            "payment_method": f"pm_{secrets.token_hex(12)}",
            "payment_method_types": [stripe_method],
            "processing": None,
            "receipt_email": data.get("receipt_email"),
            "status": "requires_payment_method",
        }
        self._intents[intent_id] = intent
        session["payment_intent"] = intent_id
        return intent

    def _charge_for(self, intent: Json, stripe_method: str, *, captured: bool) -> Json:
        level = self.next_risk_level or ("normal" if stripe_method == "card" else "not_assessed")
        charge = self.charge(
            None,
            intent["amount"],
            intent["currency"],
            payment_intent=intent["id"],
            method=stripe_method,
            risk_level=level,
            captured=captured,
        )
        # A PaymentIntent's metadata is copied to the charge it creates (once, at confirmation).
        charge["metadata"] = dict(intent["metadata"])
        charge["payment_method"] = intent["payment_method"]
        self._charges[charge["id"]] = charge
        intent["latest_charge"] = charge["id"]
        return charge

    def _expire(self, session: Json, request: Call | None = None) -> list[Any]:
        session.update(status="expired", url=None)
        return [self._snapshot("checkout.session.expired", session, request)]

    def _snapshot(self, event_type: str, obj: Json, request: Call | None = None) -> SignedRequest:
        return self.event(
            event_type,
            copy.deepcopy(obj),
            request_id=request.request_id if request else None,
            idempotency_key=request.idempotency_key if request else None,
        )

    @staticmethod
    def _get(table: dict[str, Json], object_id: str, kind: str) -> Json:
        found = table.get(object_id)
        if found is None:
            raise StripeApiError(
                404, f"No such {kind}: '{object_id}'", code="resource_missing", param="id"
            )
        return found

    # -- delivery ---------------------------------------------------------------------------------
    def _send(self, outbox: list[SignedRequest], notify: bool) -> None:
        for signed in outbox:
            envelope = json.loads(signed.body)
            event_type, event_id = str(envelope["type"]), str(envelope["id"])
            if not notify:
                self._record(Delivery(event_type, event_id, signed, None, "dropped (notify=False)"))
                continue
            if self._webhook_base is None:
                self._record(Delivery(event_type, event_id, signed, None, "no endpoint set"))
                continue
            try:
                response = self._http().post(
                    self._webhook_base + signed.path, content=signed.body, headers=signed.headers
                )
            except httpx.HTTPError as error:
                self._record(Delivery(event_type, event_id, signed, None, repr(error)))
                continue
            self._record(Delivery(event_type, event_id, signed, response.status_code))

    def _record(self, delivery: Delivery) -> None:
        with self._lock:
            self.deliveries.append(delivery)

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(timeout=30.0)
            return self._client

    def _in_background(self, work: Callable[[], None]) -> None:
        worker = threading.Thread(target=work, name="stripe-simulator-events", daemon=True)
        with self._lock:
            self._workers.append(worker)
        worker.start()

    # -- the HTTP API -----------------------------------------------------------------------------
    def _serve(self, method: str, target: str, headers: Mapping[str, str], raw: bytes) -> Answer:
        url = urlsplit(target)
        if url.path.startswith("/c/pay/"):
            return self._hosted_page(method, url.path, raw)
        request_id = f"req_{secrets.token_hex(7)}"
        body: Json = {}
        query: Json = {}
        key = headers.get("Idempotency-Key") if method == "POST" else None
        scope: tuple[str, str] | None = None
        replay: _Saved | None = None
        try:
            api_key = self._authenticate(headers)
            version = _version(headers)
            query = decode_form(parse_qsl(url.query, keep_blank_values=True))
            body = self._form(headers, raw)
            if key is not None:
                replay = self._claim((api_key, key), method, url.path, body, key)
                scope = None if replay is not None else (api_key, key)  # ours while in flight
            if replay is not None:
                answer = _json_answer(
                    replay.status,
                    replay.body,
                    {
                        "Idempotent-Replayed": "true",
                        "Original-Request": replay.request_id,
                        "Stripe-Version": version,
                    },
                )
            else:
                status, document, after = self._route(
                    method, url.path, {**query, **body}, Call(request_id, key, version)
                )
                if scope is not None:
                    self._save(scope, _Saved(method, url.path, body, status, document, request_id))
                answer = _json_answer(status, document, {"Stripe-Version": version}, after)
        except Exception as error:  # any bug answers as Stripe's api_error does
            if not isinstance(error, StripeApiError):
                error = StripeApiError(500, f"Simulator error: {error!r}", type="api_error")
            if scope is not None and error.status == 402:  # the endpoint ran: kept for replays
                self._save(
                    scope,
                    _Saved(
                        method, url.path, body, error.status, {"error": error.error}, request_id
                    ),
                )
            elif scope is not None:
                self._release(scope)
            answer = _json_answer(error.status, {"error": error.error})
            if error.status == 401:
                answer.headers["WWW-Authenticate"] = 'Basic realm="Stripe"'
        answer.headers["Request-Id"] = request_id
        if key is not None:
            answer.headers["Idempotency-Key"] = key
        with self._lock:
            self.requests.append(
                ServedRequest(method, url.path, Headers(headers), body, query, answer.status)
            )
        return answer

    def _respond(self, method: str, target: str, headers: dict[str, str], raw: bytes, /) -> Answer:
        return self._serve(method, target, Headers(headers), raw)

    def _authenticate(self, headers: Mapping[str, str]) -> str:
        authorization = headers.get("Authorization", "")
        scheme, _, credential = authorization.partition(" ")
        key = ""
        if scheme.lower() == "bearer":
            key = credential.strip()
        elif scheme.lower() == "basic":
            try:
                key = b64decode(credential.strip()).decode().partition(":")[0]
            except ValueError:
                key = ""
        if not key:
            raise StripeApiError(
                401,
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY').",
            )
        accepted = (
            secrets.compare_digest(key.encode(), self._api_key.encode())
            if self._api_key
            else key.startswith(("sk_test_", "rk_test_"))
        )
        if not accepted:
            raise StripeApiError(401, f"Invalid API Key provided: {_mask(key)}")
        return key

    @staticmethod
    def _form(headers: Mapping[str, str], raw: bytes) -> Json:
        if not raw:
            return {}
        content_type = headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            raise StripeApiError(
                400,
                "Invalid request: the API takes form-encoded parameters "
                "(Content-Type: application/x-www-form-urlencoded)",
            )
        try:
            text = raw.decode()
        except UnicodeDecodeError as error:
            raise StripeApiError(400, "Invalid request: the body is not UTF-8") from error
        return decode_form(parse_qsl(text, keep_blank_values=True, strict_parsing=False))

    def _claim(
        self, scope: tuple[str, str], method: str, path: str, params: Json, key: str
    ) -> _Saved | None:
        if len(key) > 255:
            raise StripeApiError(400, "Idempotency-Key must be 255 characters or fewer")
        with self._lock:
            saved = self._saved.get(scope)
            if saved is None:
                if scope in self._in_flight:
                    raise StripeApiError(
                        409,
                        "There is currently another in-progress request using this "
                        f"Idempotent Key (that probably means you submitted twice): {key}",
                        code="idempotency_key_in_use",
                    )
                self._in_flight.add(scope)
                return None
        if (saved.method, saved.path) != (method, path):
            raise StripeApiError(
                400,
                "Keys for idempotent requests can only be used for the same endpoint they were "
                f"first used for ('{saved.method} {saved.path}' vs '{method} {path}'). Try using "
                f"a key other than '{key}' if you meant to execute a different request.",
                type="idempotency_error",
            )
        if saved.params != params:
            raise StripeApiError(
                400,
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. Try using a key other than '{key}' if you meant to "
                "execute a different request.",
                type="idempotency_error",
            )
        return saved

    def _save(self, scope: tuple[str, str], saved: _Saved) -> None:
        with self._lock:
            self._in_flight.discard(scope)
            if 200 <= saved.status < 300 or saved.status == 402:
                self._saved[scope] = saved

    def _release(self, scope: tuple[str, str]) -> None:
        with self._lock:
            self._in_flight.discard(scope)

    def _route(
        self, method: str, path: str, params: Json, request: Call
    ) -> tuple[int, Json, Callable[[], None] | None]:
        for verb, pattern, endpoint in _ROUTES:
            match = pattern.fullmatch(path)
            if verb == method and match is not None:
                with self._lock:
                    return endpoint(self, match.group("id") or "", params, request)
        raise StripeApiError(
            404,
            f"Unrecognized request URL ({method}: {path}). Please see https://docs.stripe.com/ "
            "or we can help at https://support.stripe.com/.",
        )

    def _retrieve(
        self, table: dict[str, Json], kind: str, object_id: str, params: Json
    ) -> tuple[int, Json, None]:
        self._check_keys(params, {"expand", "client_secret"}, "")
        return 200, copy.deepcopy(self._get(table, object_id, kind)), None

    # -- endpoints (under the lock) ---------------------------------------------------------------
    def _create_session(self, params: Json, version: str = API_VERSION) -> Json:
        self._check_keys(params, session_params(version), "")
        mode = _require(params, "mode")
        if mode != "payment":
            raise StripeApiError(
                400, f"This simulator serves mode=payment only, not {mode!r}", param="mode"
            )
        lines = params.get("line_items")
        if not isinstance(lines, list) or not lines:
            raise StripeApiError(
                400,
                "You must specify `line_items` in `payment` mode.",
                code="parameter_missing",
                param="line_items",
            )
        currency, total = self._line_total(lines)
        success_url = _url(_require(params, "success_url"), "success_url")
        cancel_url = _url(params["cancel_url"], "cancel_url") if "cancel_url" in params else None
        metadata = _metadata(params.get("metadata", {}), "metadata")
        intent_data = params.get("payment_intent_data", {})
        if not isinstance(intent_data, dict):
            raise StripeApiError(400, "Invalid hash", param="payment_intent_data")
        self._check_keys(intent_data, INTENT_DATA_PARAMS, "payment_intent_data")
        _metadata(intent_data.get("metadata", {}), "payment_intent_data[metadata]")
        capture = intent_data.get("capture_method", "automatic_async")
        if capture not in CAPTURE_METHODS:
            raise StripeApiError(
                400,
                f"Invalid payment_intent_data[capture_method]: must be one of "
                f"{', '.join(sorted(CAPTURE_METHODS))}",
                param="payment_intent_data[capture_method]",
            )
        types = self._method_types(params.get("payment_method_types"), currency)
        if "allowed_payment_method_types" in params:
            types = self._allowed_types(params["allowed_payment_method_types"], currency)
        email = params.get("customer_email")
        if email is not None and not _EMAIL.match(str(email)):
            raise StripeApiError(
                400, f"Invalid email address: {email}", code="email_invalid", param="customer_email"
            )
        locale = params.get("locale")
        if locale is not None and locale not in LOCALES:
            raise StripeApiError(400, f"Invalid locale: {locale}", param="locale")
        reference = params.get("client_reference_id")
        if reference is not None and not 0 < len(str(reference)) <= 200:
            raise StripeApiError(
                400,
                "client_reference_id must be 1 to 200 characters",
                param="client_reference_id",
            )
        session_id = f"cs_test_{secrets.token_hex(24)}"
        now = int(time.time())
        session: Json = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": total,
            "amount_total": total,
            "cancel_url": cancel_url,
            "client_reference_id": reference,
            "created": now,
            "currency": currency,
            "customer": None,
            "customer_details": None,
            "customer_email": email,
            "expires_at": now + SESSION_LIFETIME_SECONDS,
            "livemode": False,
            "locale": locale,
            "metadata": metadata,
            "mode": "payment",
            "payment_intent": None,
            "payment_method_types": types,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": success_url,
            "ui_mode": "hosted",
            "url": f"{self.base_url}/c/pay/{session_id}",
        }
        self._sessions[session_id] = session
        self._session_intent_data[session_id] = copy.deepcopy(intent_data)
        return copy.deepcopy(session)

    def _line_total(self, lines: list[Any]) -> tuple[str, int]:
        currencies: set[str] = set()
        total = 0
        for index, line in enumerate(lines):
            where = f"line_items[{index}]"
            if not isinstance(line, dict):
                raise StripeApiError(400, "Invalid hash", param=where)
            self._check_keys(line, LINE_ITEM_PARAMS, where)
            if "price" in line:
                raise StripeApiError(
                    404,
                    f"No such price: '{line['price']}'",
                    code="resource_missing",
                    param=f"{where}[price]",
                )
            data = line.get("price_data")
            if not isinstance(data, dict):
                raise StripeApiError(
                    400,
                    f"Missing required param: {where}[price_data].",
                    code="parameter_missing",
                    param=f"{where}[price_data]",
                )
            self._check_keys(data, PRICE_DATA_PARAMS, f"{where}[price_data]")
            currency = str(_require(data, "currency", f"{where}[price_data]")).lower()
            if currency.upper() not in SUPPORTED:
                raise StripeApiError(
                    400,
                    f"Invalid currency: {currency}. Stripe currently supports these currencies: "
                    + ", ".join(sorted(code.lower() for code in SUPPORTED)),
                    param=f"{where}[price_data][currency]",
                )
            product = data.get("product_data")
            if not isinstance(product, dict) or not str(product.get("name") or "").strip():
                raise StripeApiError(
                    400,
                    f"Missing required param: {where}[price_data][product_data][name].",
                    code="parameter_missing",
                    param=f"{where}[price_data][product_data][name]",
                )
            self._check_keys(product, PRODUCT_DATA_PARAMS, f"{where}[price_data][product_data]")
            unit = _integer(
                _require(data, "unit_amount", f"{where}[price_data]"),
                f"{where}[price_data][unit_amount]",
            )
            quantity = _integer(_require(line, "quantity", where), f"{where}[quantity]", minimum=1)
            if currency.upper() in THREE_DECIMAL and unit % 10:
                raise StripeApiError(
                    400,
                    f"Amounts in {currency} must end in 0 (docs.stripe.com/currencies).",
                    code="invalid_amount",
                    param=f"{where}[price_data][unit_amount]",
                )
            currencies.add(currency)
            total += unit * quantity
        if len(currencies) > 1:
            raise StripeApiError(
                400, "All line items must be in the same currency.", param="line_items"
            )
        currency = currencies.pop()
        minimum = MINIMUM_CHARGE.get(currency, 50)
        if total < minimum:
            raise StripeApiError(
                400,
                f"The Checkout Session's total amount due must add up to at least {minimum} "
                f"{currency} (in the currency's smallest unit).",
                code="amount_too_small",
                param="line_items",
            )
        if total > MAXIMUM_CHARGE:
            raise StripeApiError(
                400,
                f"The Checkout Session's total amount due must be no more than {MAXIMUM_CHARGE}.",
                code="amount_too_large",
                param="line_items",
            )
        return currency, total

    @staticmethod
    def _method_types(requested: Any, currency: str) -> list[str]:
        if requested is None:  # dynamic payment methods: what the currency allows
            return [
                name
                for name, currencies in METHOD_CURRENCIES.items()
                if currencies is None or currency in currencies
            ]
        if not isinstance(requested, list) or not requested:
            raise StripeApiError(400, "Invalid array", param="payment_method_types")
        for name in requested:
            if name not in METHOD_CURRENCIES:
                raise StripeApiError(
                    400,
                    f'The payment method type provided: "{name}" is invalid. Please ensure the '
                    "provided type is activated in your dashboard "
                    "(https://dashboard.stripe.com/account/payments/settings) and your account "
                    "is enabled for any preview features that you are trying to use.",
                    code="payment_method_invalid_parameter",
                    param="payment_method_types",
                )
            allowed = METHOD_CURRENCIES[name]
            if allowed is not None and currency not in allowed:
                raise StripeApiError(
                    400,
                    f"The currency provided ({currency}) is invalid. Payments with {name} "
                    f"support the following currencies: {', '.join(sorted(allowed))}.",
                    param="payment_method_types",
                )
        return [str(name) for name in requested]

    def _allowed_types(self, allowed: Any, currency: str) -> list[str]:
        """API 2026-09-30.endive: a filter on the dynamic list, not a list to offer."""
        if not isinstance(allowed, list) or not allowed:
            raise StripeApiError(400, "Invalid array", param="allowed_payment_method_types")
        offered = [name for name in self._method_types(None, currency) if name in allowed]
        if not offered:
            raise StripeApiError(
                400,
                "None of the allowed_payment_method_types can take this Checkout Session.",
                param="allowed_payment_method_types",
            )
        return offered

    def _retrieve_session(self, session_id: str, params: Json) -> Json:
        self._check_keys(params, {"expand"}, "")
        session = copy.deepcopy(self._get(self._sessions, session_id, "checkout.session"))
        for path in _expand(params):
            if path != "payment_intent":
                raise StripeApiError(
                    400, f"This property cannot be expanded ({path}).", param="expand"
                )
            if session["payment_intent"]:
                session["payment_intent"] = copy.deepcopy(self._intents[session["payment_intent"]])
        return session

    def _expire_api(
        self, session_id: str, params: Json, request: Call
    ) -> tuple[int, Json, Callable[[], None] | None]:
        self._check_keys(params, {"expand"}, "")
        session = self._get(self._sessions, session_id, "checkout.session")
        if session["status"] != "open":
            raise StripeApiError(
                400,
                'Only Checkout Sessions with a status in ["open"] can be expired.',
                code="checkout_session_unexpected_state",
            )
        outbox = self._expire(session, request)
        return (
            200,
            copy.deepcopy(session),
            lambda: self._in_background(lambda: self._send(outbox, True)),
        )

    def _capture(
        self, intent_id: str, params: Json, request: Call
    ) -> tuple[int, Json, Callable[[], None] | None]:
        self._check_keys(params, CAPTURE_PARAMS, "")
        intent = self._get(self._intents, intent_id, "payment_intent")
        if intent["status"] != "requires_capture":
            raise StripeApiError(
                400,
                f"This PaymentIntent could not be captured because it has a status of "
                f"{intent['status']}. Only a PaymentIntent with one of the following statuses "
                "may be captured: requires_capture.",
                code="payment_intent_unexpected_state",
            )
        amount = intent["amount_capturable"]
        if "amount_to_capture" in params:
            amount = _integer(params["amount_to_capture"], "amount_to_capture", minimum=1)
            if amount > intent["amount_capturable"]:
                raise StripeApiError(
                    400,
                    "The amount to capture is greater than the amount capturable.",
                    code="amount_too_large",
                    param="amount_to_capture",
                )
        intent.update(status="succeeded", amount_received=amount, amount_capturable=0)
        charge = self._charges[intent["latest_charge"]]
        charge.update(captured=True, amount_captured=amount)
        for session in self._sessions.values():
            if session["payment_intent"] == intent_id:
                session["payment_status"] = "paid"
        outbox = [
            self._snapshot("charge.captured", charge, request),
            self._snapshot("payment_intent.succeeded", intent, request),
        ]
        return (
            200,
            copy.deepcopy(intent),
            lambda: self._in_background(lambda: self._send(outbox, True)),
        )

    def _create_refund(
        self, params: Json, request: Call
    ) -> tuple[int, Json, Callable[[], None] | None]:
        self._check_keys(params, REFUND_PARAMS, "")
        charge = self._refundable_charge(params)
        captured = charge["amount_captured"]
        remaining = captured - charge["amount_refunded"]
        if remaining <= 0:
            raise StripeApiError(
                400,
                f"Charge {charge['id']} has already been refunded.",
                code="charge_already_refunded",
            )
        amount = remaining
        if "amount" in params:
            amount = _integer(params["amount"], "amount", minimum=1)
        if amount > remaining:
            raise StripeApiError(
                400,
                f"Refund amount ({amount}) is greater than unrefunded amount on charge "
                f"({remaining})",
                code="amount_too_large",
                param="amount",
            )
        reason = params.get("reason")
        if reason is not None and reason not in REFUND_REASONS:
            raise StripeApiError(
                400,
                "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer",
                param="reason",
            )
        metadata = _metadata(params.get("metadata", {}), "metadata")
        refund = self.refund(
            amount, charge["currency"], payment_intent=charge["payment_intent"], charge=charge["id"]
        )
        refund.update(status="pending", metadata=metadata, reason=reason)
        self._refunds[refund["id"]] = refund
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= captured
        # Stripe announces the refund (refund.created, and charge.refunded: the charge's
        # amount_refunded changed) once the API answered; refund.updated when it settles.
        outbox = [
            self._snapshot("refund.created", refund, request),
            self._snapshot("charge.refunded", charge, request),
        ]
        refund_id = str(refund["id"])

        def follow_up() -> None:
            self._send(outbox, True)
            if not self.hold_refunds:
                self.complete_refund(refund_id)

        return 200, copy.deepcopy(refund), lambda: self._in_background(follow_up)

    def _refundable_charge(self, params: Json) -> Json:
        if "payment_intent" in params:
            intent = self._get(self._intents, str(params["payment_intent"]), "payment_intent")
            charge_id = intent["latest_charge"]
            if intent["status"] != "succeeded" or charge_id is None:
                raise StripeApiError(
                    400,
                    f"This PaymentIntent ({intent['id']}) does not have a successful charge to "
                    "refund.",
                    code="charge_not_refundable",
                    param="payment_intent",
                )
            charge = self._charges[charge_id]
            if "charge" in params and params["charge"] != charge_id:
                raise StripeApiError(
                    400, "The charge does not belong to the PaymentIntent.", param="charge"
                )
            return charge
        if "charge" in params:
            return self._get(self._charges, str(params["charge"]), "charge")
        raise StripeApiError(
            400,
            "One of the following params should be provided for this request: payment_intent "
            "or charge.",
            code="parameter_missing",
        )

    def _list_refunds(self, params: Json) -> Json:
        self._check_keys(
            params, {"charge", "payment_intent", "limit", "created", "ending_before", "expand"}, ""
        )
        limit = _integer(params.get("limit", "10"), "limit", minimum=1)
        if limit > 100:
            raise StripeApiError(400, "limit must be 100 or less", param="limit")
        found = [
            copy.deepcopy(refund)
            for refund in sorted(self._refunds.values(), key=lambda r: r["created"], reverse=True)
            if params.get("payment_intent") in (None, refund["payment_intent"])
            and params.get("charge") in (None, refund["charge"])
        ]
        return {
            "object": "list",
            "data": found[:limit],
            "has_more": len(found) > limit,
            "url": "/v1/refunds",
        }

    @staticmethod
    def _check_keys(params: Json, allowed: Iterable[str], prefix: str) -> None:
        known = set(allowed)
        for name in params:
            if name not in known:
                full = f"{prefix}[{name}]" if prefix else name
                raise StripeApiError(
                    400,
                    f"Received unknown parameter: {full}",
                    code="parameter_unknown",
                    param=full,
                )

    # -- the hosted page --------------------------------------------------------------------------
    def _hosted_page(self, method: str, path: str, raw: bytes) -> Answer:
        session_id = path.removeprefix("/c/pay/").strip("/")
        with self._lock:
            session = copy.deepcopy(self._sessions.get(session_id))
        if session is None:
            return Answer(404, b"<h1>Something went wrong</h1>", content_type=_HTML)
        if method == "POST":
            form = dict(parse_qsl(raw.decode("utf-8", "replace")))
            try:
                if form.get("action") == "fail":
                    self.fail(session_id, method=form.get("method") or None)
                    target = session["cancel_url"] or session["success_url"]
                else:
                    self.pay(session_id, method=form.get("method") or None)
                    target = session["success_url"]
            except (SimulatorError, StripeApiError) as error:
                page = f"<h1>Cannot do that</h1><p>{html.escape(str(error))}</p>"
                return Answer(409, page.encode(), content_type=_HTML)
            return Answer(303, b"", {"Location": target}, _HTML)
        options = "".join(
            f'<option value="{html.escape(name)}">{html.escape(name)}</option>'
            for name in session["payment_method_types"]
        )
        amount = f"{session['amount_total']} {session['currency']} (smallest unit)"
        page = (
            "<!doctype html><title>Stripe Checkout (simulator)</title>"
            f"<h1>Pay {html.escape(amount)}</h1>"
            f"<p>Session {html.escape(session_id)}: {html.escape(session['status'])}, "
            f"{html.escape(session['payment_status'])}</p>"
            f'<form method="post"><select name="method">{options}</select>'
            '<button name="action" value="pay">Pay</button>'
            '<button name="action" value="fail">Fail</button></form>'
        )
        return Answer(200, page.encode(), content_type=_HTML)


# -- helpers --------------------------------------------------------------------------------------
def _json_answer(
    status: int,
    document: Json,
    headers: dict[str, str] | None = None,
    then: Callable[[], None] | None = None,
) -> Answer:
    return Answer(status, json.dumps(document, indent=2).encode(), dict(headers or {}), then=then)


def _version(headers: Mapping[str, str]) -> str:
    version = headers.get("Stripe-Version") or API_VERSION
    if not _VERSION.match(version):
        raise StripeApiError(400, f"Invalid Stripe API version: {version}")
    return version


def _require(params: Json, name: str, prefix: str = "") -> Any:
    value = params.get(name)
    if value is None or value == "":
        full = f"{prefix}[{name}]" if prefix else name
        raise StripeApiError(
            400, f"Missing required param: {full}.", code="parameter_missing", param=full
        )
    return value


def _integer(value: Any, name: str, *, minimum: int = 0) -> int:
    text = str(value)
    if not (text.isascii() and text.lstrip("-").isdigit()) or len(text) > 16:
        raise StripeApiError(
            400, f"Invalid integer: {text}", code="parameter_invalid_integer", param=name
        )
    number = int(text)
    if number < minimum:
        raise StripeApiError(
            400,
            f"This value must be greater than or equal to {minimum}.",
            code="parameter_invalid_integer",
            param=name,
        )
    return number


def _url(value: Any, name: str) -> str:
    text = str(value)
    parsed = urlsplit(text)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise StripeApiError(400, "Not a valid URL", code="url_invalid", param=name)
    return text


def _metadata(value: Any, name: str) -> dict[str, str]:
    """docs.stripe.com/metadata: at most 50 keys, keys up to 40 characters without square
    brackets, values up to 500 characters."""
    if value == "":
        return {}
    if not isinstance(value, dict):
        raise StripeApiError(400, "Invalid hash", param=name)
    if len(value) > 50:
        raise StripeApiError(400, "Metadata can have at most 50 keys.", param=name)
    for key, item in value.items():
        if len(key) > 40 or "[" in key or "]" in key:
            raise StripeApiError(
                400,
                f"Metadata keys can be at most 40 characters without square brackets: {key!r}",
                param=f"{name}[{key}]",
            )
        if not isinstance(item, str) or len(item) > 500:
            raise StripeApiError(
                400, "Metadata values can be at most 500 characters.", param=f"{name}[{key}]"
            )
    return dict(value)


def _expand(params: Json) -> list[str]:
    expand = params.get("expand", [])
    if isinstance(expand, str):
        expand = [expand]
    if not isinstance(expand, list):
        raise StripeApiError(400, "Invalid array", param="expand")
    return [str(path) for path in expand]


Endpoint = Callable[
    [StripeSimulator, str, Json, Call],
    tuple[int, Json, Callable[[], None] | None],
]
_ID = r"(?P<id>[^/]+)"
_ROUTES: tuple[tuple[str, re.Pattern[str], Endpoint], ...] = (
    (
        "POST",
        re.compile(r"/v1/checkout/sessions(?P<id>)"),
        lambda sim, _, params, call: (200, sim._create_session(params, call.version), None),
    ),
    (
        "GET",
        re.compile(rf"/v1/checkout/sessions/{_ID}"),
        lambda sim, sid, params, __: (200, sim._retrieve_session(sid, params), None),
    ),
    (
        "POST",
        re.compile(rf"/v1/checkout/sessions/{_ID}/expire"),
        lambda sim, sid, params, request: sim._expire_api(sid, params, request),
    ),
    (
        "GET",
        re.compile(rf"/v1/payment_intents/{_ID}"),
        lambda sim, pid, params, __: sim._retrieve(sim._intents, "payment_intent", pid, params),
    ),
    (
        "POST",
        re.compile(rf"/v1/payment_intents/{_ID}/capture"),
        lambda sim, pid, params, request: sim._capture(pid, params, request),
    ),
    (
        "GET",
        re.compile(rf"/v1/charges/{_ID}"),
        lambda sim, cid, params, __: sim._retrieve(sim._charges, "charge", cid, params),
    ),
    (
        "POST",
        re.compile(r"/v1/refunds(?P<id>)"),
        lambda sim, _, params, request: sim._create_refund(params, request),
    ),
    (
        "GET",
        re.compile(r"/v1/refunds(?P<id>)"),
        lambda sim, _, params, __: (200, sim._list_refunds(params), None),
    ),
    (
        "GET",
        re.compile(rf"/v1/refunds/{_ID}"),
        lambda sim, rid, params, __: sim._retrieve(sim._refunds, "refund", rid, params),
    ),
)
