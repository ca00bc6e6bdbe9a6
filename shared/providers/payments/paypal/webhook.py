"""PayPal webhooks (POST /webhooks/payments/paypal): the transmission verified (by PayPal's API
or offline with its certificate, see verification.py), then the event mapped.

Docs: developer.paypal.com/api/rest/webhooks/rest/ (delivery: any 2xx acknowledges; otherwise
up to 25 retries over 3 days, so duplicates are normal: the event `id`, "WH-...", is the dedupe
key) and /api/rest/webhooks/event-names/ (Payments v2 and Orders events):
- CHECKOUT.ORDER.APPROVED (resource: the order): authorized, needs_capture (orderhub captures).
- CHECKOUT.ORDER.COMPLETED (the order, with its capture): as the capture says.
- PAYMENT.CAPTURE.COMPLETED / PENDING / DECLINED / DENIED (resource: the capture): paid,
  pending, failed, failed.
- PAYMENT.CAPTURE.REFUNDED (resource: the refund): the refund's status.
- PAYMENT.SALE.COMPLETED (legacy Payments v1): paid, when `custom` names an order.
Anything else is stored and ignored with its reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from shared.inbox.contract import (
    EventId,
    MalformedWebhook,
    ParsedWebhook,
    ProviderNotConfigured,
    WebhookRequest,
    parse_json_model,
    parse_model,
    validation_message,
)
from shared.kernel.time import UtcDatetime
from shared.payments.domain import PaymentEvent, PaymentStatus, RefundEvent
from shared.payments.gateway import base_url
from shared.payments.inbound import PaymentReported, RefundReported
from shared.providers.payments.paypal import resources
from shared.providers.payments.paypal.amounts import UnrepresentableAmount
from shared.providers.payments.paypal.oauth import PRODUCTION_API, SANDBOX_API, AccessTokens
from shared.providers.payments.paypal.resources import SOURCE, Link
from shared.providers.payments.paypal.verification import (
    TOKENS,
    TRANSMISSION_ID,
    CertificateFetcher,
    OfflineVerifier,
    Transmission,
    default_http,
    verify_with_api,
)

if TYPE_CHECKING:
    import httpx
    from cryptography import x509

    from shared.inbox.events import InboundEvent

PATH = "/webhooks/payments/paypal"
CAPTURE_EVENTS: dict[str, PaymentStatus] = {
    "PAYMENT.CAPTURE.COMPLETED": PaymentStatus.SUCCEEDED,
    "PAYMENT.CAPTURE.PENDING": PaymentStatus.PENDING,
    "PAYMENT.CAPTURE.DECLINED": PaymentStatus.FAILED,
    "PAYMENT.CAPTURE.DENIED": PaymentStatus.FAILED,
}
ORDER_EVENTS = frozenset({"CHECKOUT.ORDER.APPROVED", "CHECKOUT.ORDER.COMPLETED"})
REFUND_EVENT = "PAYMENT.CAPTURE.REFUNDED"
SALE_EVENT = "PAYMENT.SALE.COMPLETED"
VERIFICATION_MODES = ("api", "offline")


class PayPalEvent(BaseModel):
    """The webhook event envelope (Webhooks API `event`)."""

    model_config = ConfigDict(extra="ignore")

    id: EventId
    event_type: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    create_time: UtcDatetime
    resource_type: Annotated[str, StringConstraints(max_length=255)] | None = None
    resource_version: Annotated[str, StringConstraints(max_length=50)] | None = None
    resource: dict[str, Any]
    links: list[Link] = []


class PayPalWebhooks:
    """Adapter for POST /webhooks/payments/paypal.

    Everything is injectable for tests; the registry builds it with none of it (the module's
    HTTP client, token cache, certificate fetcher and certifi's roots)."""

    source = SOURCE

    def __init__(
        self,
        *,
        http: httpx.Client | None = None,
        tokens: AccessTokens | None = None,
        fetch_certificate: CertificateFetcher | None = None,
        trusted_roots: Sequence[x509.Certificate] | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self._http = http
        self._tokens = tokens or TOKENS
        offline: dict[str, Any] = {"fetch": fetch_certificate, "trusted_roots": trusted_roots}
        if now is not None:
            offline["now"] = now
        self._offline = OfflineVerifier(**offline)

    def verify(self, request: WebhookRequest, secrets: Mapping[str, Any]) -> None:
        mode = str(secrets.get("verification") or "api").strip().lower()
        if mode not in VERIFICATION_MODES:
            raise ProviderNotConfigured(
                f"paypal verification must be one of {', '.join(VERIFICATION_MODES)}, not {mode!r}"
            )
        transmission = Transmission.from_headers(request.headers)
        webhook_id = str(secrets["webhook_id"]).strip()
        if mode == "offline":
            self._offline.verify(transmission, request.raw_body, webhook_id)
            return
        verify_with_api(
            transmission,
            request.raw_body,
            base_url=base_url(secrets, sandbox=SANDBOX_API, production=PRODUCTION_API),
            client_id=str(secrets["client_id"]),
            client_secret=str(secrets["client_secret"]),
            webhook_id=webhook_id,
            http=self._http or default_http(),
            tokens=self._tokens,
        )

    def parse(self, request: WebhookRequest) -> ParsedWebhook:
        event = parse_json_model(PayPalEvent, request.raw_body)
        audit = {"PayPal-Event-Type": event.event_type}
        transmission_id = request.headers.get(TRANSMISSION_ID, "").strip()
        if transmission_id:
            audit["PayPal-Transmission-Id"] = transmission_id[:50]
        try:
            mapped = _map(event)
        except ValidationError as error:
            raise MalformedWebhook(validation_message(error)) from error
        except UnrepresentableAmount as error:
            raise MalformedWebhook(str(error)) from error
        if isinstance(mapped, str):
            return ParsedWebhook(
                event_id=event.id,
                topic=event.event_type,
                event=None,
                ignored_reason=mapped,
                audit_headers=audit,
            )
        return ParsedWebhook(
            event_id=event.id, topic=event.event_type, event=mapped, audit_headers=audit
        )


def _inbound(
    outcome: PaymentEvent | RefundEvent | str | None, event: PayPalEvent
) -> InboundEvent | str:
    if outcome is None:
        return f"{event.event_type} reports no payment yet"
    if isinstance(outcome, str):
        return outcome
    if isinstance(outcome, RefundEvent):
        return RefundReported(refund=outcome)
    return PaymentReported(payment=outcome)


def _map(event: PayPalEvent) -> InboundEvent | str:
    """The canonical event, or the reason the event is ignored."""
    test = resources.is_sandbox(event.links)
    kind = event.event_type
    if kind in CAPTURE_EVENTS:
        capture = parse_model(resources.Capture, event.resource)
        return _inbound(
            resources.capture_payment(
                capture,
                status=CAPTURE_EVENTS[kind],
                event_id=event.id,
                occurred_at=event.create_time,
                test=test or resources.is_sandbox(capture.links),
            ),
            event,
        )
    if kind in ORDER_EVENTS:
        order = parse_model(resources.Order, event.resource)
        return _inbound(
            resources.order_payment(
                order,
                event_id=event.id,
                occurred_at=event.create_time,
                test=test or resources.is_sandbox(order.links),
            ),
            event,
        )
    if kind == REFUND_EVENT:
        refund = parse_model(resources.Refund, event.resource)
        return _inbound(
            resources.refund_event(
                refund,
                event_id=event.id,
                occurred_at=event.create_time,
                test=test or resources.is_sandbox(refund.links),
            ),
            event,
        )
    if kind == SALE_EVENT:
        sale = parse_model(resources.Sale, event.resource)
        return _inbound(
            resources.sale_payment(
                sale, event_id=event.id, occurred_at=event.create_time, test=test
            ),
            event,
        )
    return f"event type {kind} is not handled"
