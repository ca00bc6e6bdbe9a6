"""What orderhub asks of a payment provider's API, whatever the provider: open a payment session,
capture authorized money, refund, and look a payment or a refund up (reconciliation).

Each provider's package implements `PaymentGateway` in `client.py` (named by its registry
entry's `gateway`), built by `from_secret(document, http)` from its Secrets Manager document
and an httpx client. The base URL comes from the document: `api_url` when set, else the
provider's sandbox or production host by `environment` ("sandbox" unless it says
"production"); the embedded stack sets `api_url` to the provider's simulator.

Errors: `GatewayRejected` when the provider refused the request for good (a 4xx naming the
problem: the caller reports it and does not retry); anything else (timeouts, 5xx, 429) raises
`GatewayUnavailable`, and the caller's retry policy applies (the API answers 502, the stream
router retries, then dead-letters).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from shared.kernel.money import Money
from shared.payments.domain import PaymentEvent, RefundEvent, RefundStatus
from shared.payments.references import merchant_reference, parse_merchant_reference

if TYPE_CHECKING:
    import httpx

__all__ = ["merchant_reference", "parse_merchant_reference"]  # re-exported for the clients

# The methods a session may ask for (the provider maps each to its own parameter; one it does
# not offer is refused before any call). BLIK is a method of Stripe, PayU and Przelewy24.
METHODS = frozenset(
    {
        "card",
        "blik",
        "bank_link",  # pay-by-link / online bank transfer (PayU PBL, Przelewy24, Stripe p24)
        "paypal",
        "pay_later",  # deferred: PayPal Pay Later, PayU "PayPo"/"Twisto" pay-later methods
        "installments",  # PayU installments
        "apple_pay",
        "google_pay",
    }
)


class GatewayError(Exception):
    """A provider API call did not do what was asked."""


class GatewayRejected(GatewayError):
    """The provider refused the request for good (its error code and message are in str())."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class GatewayUnavailable(GatewayError):
    """Timeout, connection error, 5xx or rate limit: worth retrying later."""


class UnsupportedMethod(GatewayRejected):
    """The provider does not offer the requested method (the API answers 400)."""


@dataclass(frozen=True)
class SessionLine:
    name: str
    quantity: int
    unit_price: Money


@dataclass(frozen=True)
class SessionRequest:
    """Open a payment for `amount` of an order (the whole total, or what is left to pay)."""

    order_id: str
    attempt: int  # 1, 2, ... per order: a new attempt after a failed or cancelled one
    amount: Money
    return_url: str  # where the provider sends the buyer back
    notify_url: str  # our webhook route for this provider (PayU notifyUrl, P24 urlStatus)
    description: str
    method: str | None = None  # one of METHODS; None: the provider's own choice screen
    buyer_email: str | None = None
    buyer_name: str | None = None
    buyer_phone: str | None = None
    language: str = "pl"
    customer_ip: str = "127.0.0.1"
    lines: tuple[SessionLine, ...] = ()

    @property
    def idempotency_key(self) -> str:
        """One key per order and attempt (Stripe Idempotency-Key, PayPal-Request-Id)."""
        return f"orderhub-session-{self.order_id}-{self.attempt}"


@dataclass(frozen=True)
class CreatedSession:
    session_id: str  # the provider's id: Checkout Session, PayU orderId, P24 token, PayPal order
    redirect_url: str  # where the buyer pays
    reference: str  # the merchant reference sent (see merchant_reference)
    payment_id: str | None = None  # the id the provider's notifications will name, if known
    provider_data: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SessionLookup:
    """A session orderhub opened, to ask the provider what became of it."""

    order_id: str
    attempt: int
    session_id: str
    reference: str
    amount: Money
    payment_id: str | None = None
    provider_data: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundRequest:
    refund_id: str  # orderhub's id: the provider's idempotency key and echoed reference
    order_id: str
    payment_id: str  # the provider's id of the payment being refunded
    amount: Money
    reason: str
    notify_url: str  # Przelewy24 urlStatus for the refund notification
    provider_data: Mapping[str, str] = field(default_factory=dict)  # from the payment record


@dataclass(frozen=True)
class RefundAccepted:
    """The provider's answer to a refund request."""

    status: RefundStatus  # pending (a notification follows), completed or failed
    provider_refund_id: str | None = None
    failure_reason: str | None = None


@dataclass(frozen=True)
class RefundLookup:
    refund_id: str
    order_id: str
    payment_id: str
    amount: Money
    provider_refund_id: str | None = None
    provider_data: Mapping[str, str] = field(default_factory=dict)


class PaymentGateway(Protocol):
    provider: str
    # The methods this provider offers (a subset of METHODS).
    methods: frozenset[str]

    def create_session(self, request: SessionRequest) -> CreatedSession:
        """Open the payment at the provider, idempotently per order and attempt."""
        ...

    def capture(self, payment: PaymentEvent) -> PaymentEvent | None:
        """Confirm authorized money (payment.needs_capture): Przelewy24 transaction/verify,
        PayPal order capture, PayU order status COMPLETED. Returns the payment as the
        provider's answer leaves it (paid, or failed), or None when only a later notification
        will say. Safe to repeat."""
        ...

    def refund(self, request: RefundRequest) -> RefundAccepted:
        """Ask the provider to return `amount` of the payment, idempotently per refund_id."""
        ...

    def session_status(self, session: SessionLookup) -> PaymentEvent | None:
        """What the provider says of the session's payment now (None: nothing happened yet),
        mapped exactly as its notification would be, with a provider_event_id that names the
        status seen (a repeat dedupes)."""
        ...

    def refund_status(self, refund: RefundLookup) -> RefundEvent | None:
        """What the provider says of a refund now (None: it does not know it yet)."""
        ...


class GatewayFactory(Protocol):
    def from_secret(self, document: Mapping[str, Any], http: httpx.Client) -> PaymentGateway: ...


def base_url(document: Mapping[str, Any], *, sandbox: str, production: str) -> str:
    """The API host: `api_url` when set (a simulator, a proxy), else by `environment`."""
    explicit = str(document.get("api_url") or "").strip()
    if explicit:
        return explicit.rstrip("/")
    environment = str(document.get("environment") or "sandbox").strip().lower()
    return production if environment == "production" else sandbox


def send(http: httpx.Client, method: str, url: str, what: str, **kwargs: Any) -> httpx.Response:
    """One provider call under the shared error policy (transport errors are retryable)."""
    import httpx

    try:
        response = http.request(method, url, **kwargs)
    except httpx.HTTPError as error:
        raise GatewayUnavailable(f"{what}: {type(error).__name__}: {error}") from error
    raise_for_provider(response, what)
    return response


def raise_for_provider(response: httpx.Response, what: str) -> None:
    """The shared error policy: 2xx passes; 408, 409 (in flight), 425, 429 and 5xx are worth
    retrying; any other 4xx is the provider's final word."""
    status = response.status_code
    if 200 <= status < 300:
        return
    text = response.text[:500]
    if status >= 500 or status in (408, 409, 425, 429):
        raise GatewayUnavailable(f"{what}: HTTP {status} {text}")
    raise GatewayRejected(f"{what}: HTTP {status} {text}", code=str(status))
