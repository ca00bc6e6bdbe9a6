"""PayPal's REST API as orderhub's PaymentGateway: Orders v2 (checkout) and Payments v2 (refunds).

Docs: developer.paypal.com/docs/api/orders/v2/ and /docs/api/payments/v2/, shapes from
paypal/paypal-rest-api-specifications (checkout_orders_v2.json, payments_payment_v2.json);
idempotency: developer.paypal.com/api/rest/reference/idempotency/ (the `PayPal-Request-Id`
header: a repeat with the same id answers the first call's result; orders keep the keys for
6 hours, refunds for 45 days).

- create_session: POST /v2/checkout/orders, intent CAPTURE, one purchase unit (custom_id = the
  orderhub order id, reference_id = `<order id>/<attempt>`), payment_source.paypal with an
  experience_context (return and cancel URLs, PAY_NOW, no shipping: the shop ships); the buyer
  approves at the "payer-action" link. PayPal-Request-Id = the session's idempotency key.
- "pay_later": the Orders API has no Pay Later payment source (payment_source offers paypal,
  card, venmo and the local methods); PayPal shows Pay Later on its own approval page to the
  buyers it is offered to. So a pay_later session is the same PayPal order; the buyer picks
  Pay Later there.
- capture: POST /v2/checkout/orders/{id}/capture (PayPal-Request-Id `capture-<order id>`);
  ORDER_ALREADY_CAPTURED (422) looks the order up and reports its capture.
- refund: POST /v2/payments/captures/{capture_id}/refund (PayPal-Request-Id = orderhub's refund
  id; custom_id = refund id, invoice_id = `<order id>/<refund id>`: PayPal echoes both in
  PAYMENT.CAPTURE.REFUNDED, and refuses an invoice_id used by an earlier refund, so it cannot
  be the order id alone).
- session_status: GET /v2/checkout/orders/{id}; refund_status: GET /v2/payments/refunds/{id}.

Errors (PayPal's `{name, message, debug_id, details[{issue, description}]}`): the first
detail's `issue` becomes GatewayRejected.code.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pydantic import ValidationError

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
    raise_for_provider,
)
from shared.providers.payments.paypal import resources
from shared.providers.payments.paypal.amounts import UnrepresentableAmount, to_paypal
from shared.providers.payments.paypal.oauth import PRODUCTION_API, SANDBOX_API, AccessTokens
from shared.providers.payments.paypal.resources import SOURCE

if TYPE_CHECKING:
    import httpx

METHODS = frozenset({"paypal", "pay_later"})
# PayPal's approval page language: a five-character BCP 47 locale (experience_context.locale).
LOCALES = {
    "pl": "pl-PL",
    "en": "en-GB",
    "de": "de-DE",
    "fr": "fr-FR",
    "es": "es-ES",
    "it": "it-IT",
    "nl": "nl-NL",
    "cs": "cs-CZ",
}
# Capture refusals that end this attempt (the buyer's funding failed), reported as a failed
# payment rather than raised: the order can only be paid by approving again.
DECLINED_ISSUES = frozenset(
    {
        "INSTRUMENT_DECLINED",
        "PAYER_CANNOT_PAY",
        "PAYER_ACCOUNT_LOCKED_OR_CLOSED",
        "PAYER_ACCOUNT_RESTRICTED",
        "TRANSACTION_REFUSED",
        "TRANSACTION_LIMIT_EXCEEDED",
        "MAX_NUMBER_OF_PAYMENT_ATTEMPTS_EXCEEDED",
        "REDIRECT_PAYER_FOR_ALTERNATE_FUNDING",
        "COMPLIANCE_VIOLATION",
    }
)
# Refusals that mean "not now": the order is being completed by another call.
RETRY_ISSUES = frozenset({"ORDER_COMPLETION_IN_PROGRESS"})


def _issue(response: httpx.Response) -> str | None:
    """PayPal's error: the first detail's `issue`, else its `name`."""
    try:
        document = response.json()
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    details = document.get("details")
    if isinstance(details, list) and details and isinstance(details[0], dict):
        issue = details[0].get("issue")
        if isinstance(issue, str) and issue:
            return issue
    name = document.get("name") or document.get("error")
    return name if isinstance(name, str) and name else None


def _locale(language: str) -> str | None:
    """ "pl" -> "pl-PL"; an explicit "en-US" passes as it is."""
    text = language.strip()
    if len(text) == 5 and text[2] == "-" and text[:2].isalpha() and text[3:].isalpha():
        return f"{text[:2].lower()}-{text[3:].upper()}"
    return LOCALES.get(text.lower())


def _segment(identifier: str) -> str:
    """An id as one URL path segment (PayPal's are alphanumeric; nothing else gets through)."""
    return quote(identifier, safe="")


def _now() -> datetime:
    return datetime.now(UTC)


class PayPalGateway:
    provider = SOURCE
    methods = METHODS

    def __init__(
        self, *, api_url: str, client_id: str, client_secret: str, http: httpx.Client
    ) -> None:
        self._base = api_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self._http = http
        self._tokens = AccessTokens()

    @classmethod
    def from_secret(cls, document: Mapping[str, Any], http: httpx.Client) -> PayPalGateway:
        return cls(
            api_url=base_url(document, sandbox=SANDBOX_API, production=PRODUCTION_API),
            client_id=str(document["client_id"]),
            client_secret=str(document["client_secret"]),
            http=http,
        )

    # -- HTTP ---------------------------------------------------------------------------------
    def _call(
        self,
        method: str,
        path: str,
        what: str,
        *,
        body: Any = None,
        request_id: str | None = None,
    ) -> httpx.Response:
        """One API call with a bearer token (renewed once on 401) under the shared error
        policy; a refusal carries PayPal's issue as its code."""
        import httpx

        headers = {"Accept": "application/json", "Prefer": "return=representation"}
        if request_id is not None:
            headers["PayPal-Request-Id"] = request_id
        for attempt in (1, 2):
            token = self._tokens.token(self._http, self._base, self._client_id, self._client_secret)
            try:
                response = self._http.request(
                    method,
                    f"{self._base}{path}",
                    json=body,
                    headers={**headers, "Authorization": f"Bearer {token}"},
                )
            except httpx.HTTPError as error:
                raise GatewayUnavailable(f"{what}: {type(error).__name__}: {error}") from error
            if response.status_code == 401 and attempt == 1:
                self._tokens.forget(self._base, self._client_id, self._client_secret)
                continue
            break
        try:
            raise_for_provider(response, what)
        except GatewayRejected as rejected:
            issue = _issue(response)
            if issue in RETRY_ISSUES:
                raise GatewayUnavailable(str(rejected)) from None
            raise GatewayRejected(str(rejected), code=issue or rejected.code) from None
        return response

    @staticmethod
    def _document(response: httpx.Response, what: str) -> dict[str, Any]:
        try:
            document = response.json()
        except ValueError as error:
            raise GatewayUnavailable(f"{what}: the answer is not JSON") from error
        if not isinstance(document, dict):
            raise GatewayUnavailable(f"{what}: the answer is not a JSON object")
        return document

    def _order(self, response: httpx.Response, what: str) -> resources.Order:
        try:
            return resources.Order.model_validate(self._document(response, what))
        except ValidationError as error:
            raise GatewayUnavailable(f"{what}: unexpected order: {error}") from error

    def _get_order(self, order_id: str) -> resources.Order | None:
        what = "PayPal get order"
        try:
            response = self._call("GET", f"/v2/checkout/orders/{_segment(order_id)}", what)
        except GatewayRejected as rejected:
            if rejected.code in ("404", "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID"):
                return None
            raise
        return self._order(response, what)

    # -- sessions -----------------------------------------------------------------------------
    def create_session(self, request: SessionRequest) -> CreatedSession:
        if request.method is not None and request.method not in METHODS:
            raise UnsupportedMethod(
                f"PayPal does not offer {request.method!r} "
                f"(it offers {', '.join(sorted(METHODS))})",
                code="unsupported_method",
            )
        try:
            value = to_paypal(request.amount)
        except UnrepresentableAmount as error:
            raise GatewayRejected(str(error), code="unsupported_amount") from error
        unit: dict[str, Any] = {
            "reference_id": f"{request.order_id}/{request.attempt}",
            "custom_id": request.order_id,
            "amount": {"currency_code": request.amount.currency, "value": value},
        }
        if request.description.strip():
            unit["description"] = request.description.strip()[:127]
        context: dict[str, Any] = {
            "return_url": request.return_url,
            "cancel_url": request.return_url,
            "user_action": "PAY_NOW",
            "shipping_preference": "NO_SHIPPING",
            "landing_page": "NO_PREFERENCE",
        }
        locale = _locale(request.language)
        if locale:
            context["locale"] = locale
        wallet: dict[str, Any] = {"experience_context": context}
        if request.buyer_email:
            wallet["email_address"] = request.buyer_email
        body = {
            "intent": "CAPTURE",
            "purchase_units": [unit],
            "payment_source": {"paypal": wallet},
        }
        what = "PayPal create order"
        response = self._call(
            "POST", "/v2/checkout/orders", what, body=body, request_id=request.idempotency_key
        )
        order = self._order(response, what)
        approve = next(
            (
                link.href
                for rel in ("payer-action", "approve")
                for link in order.links
                if link.rel == rel
            ),
            None,
        )
        if approve is None:
            raise GatewayUnavailable(f"{what}: order {order.id} has no payer-action link")
        return CreatedSession(
            session_id=order.id,
            redirect_url=approve,
            reference=request.order_id,
            payment_id=order.id,
            provider_data={"paypal_order_id": order.id},
        )

    def session_status(self, session: SessionLookup) -> PaymentEvent | None:
        order = self._get_order(session.session_id)
        if order is None:
            return None
        return self._as_payment(order, (session.order_id, session.attempt))

    def _as_payment(
        self, order: resources.Order, reference: tuple[str, int | None]
    ) -> PaymentEvent | None:
        try:
            mapped = resources.order_payment(
                order, event_id=None, occurred_at=_now(), reference=reference
            )
        except (ValidationError, UnrepresentableAmount) as error:
            raise GatewayUnavailable(f"PayPal order {order.id}: {error}") from error
        if isinstance(mapped, str):
            raise GatewayUnavailable(f"PayPal order {order.id}: {mapped}")
        return mapped

    # -- capture ------------------------------------------------------------------------------
    def capture(self, payment: PaymentEvent) -> PaymentEvent | None:
        order_id = payment.provider_data.get("paypal_order_id") or payment.payment_id
        what = "PayPal capture order"
        try:
            response = self._call(
                "POST",
                f"/v2/checkout/orders/{_segment(order_id)}/capture",
                what,
                body={},
                request_id=f"capture-{order_id}",
            )
        except GatewayRejected as rejected:
            if rejected.code == "ORDER_ALREADY_CAPTURED":
                order = self._get_order(order_id)
                if order is None:
                    raise
                return self._captured(order, payment)
            if rejected.code in DECLINED_ISSUES:
                return payment.model_copy(
                    update={
                        "provider_event_id": f"{order_id}:capture:{rejected.code}",
                        "status": PaymentStatus.FAILED,
                        "failure_reason": f"capture refused: {rejected.code}",
                        "needs_capture": False,
                        "occurred_at": _now(),
                    }
                )
            raise
        return self._captured(self._order(response, what), payment)

    def confirm(self, payment: PaymentEvent) -> PaymentEvent | None:
        """A paid notification, as PayPal's API has it: PayPal signs only a CRC32 of the body,
        which a captured delivery can be rewritten to keep, so money counts only as the order
        itself says (its capture's status and amount, its own purchase unit's reference).
        None: PayPal does not know the order, or it names another orderhub order."""
        order_id = payment.provider_data.get("paypal_order_id") or payment.payment_id
        order = self._get_order(order_id)
        if order is None or not order.purchase_units:
            return None
        reference = resources.unit_reference(order.purchase_units[0])
        if reference is None or reference[0] != payment.order_id:
            return None
        confirmed = self._captured(order, payment)
        if confirmed is None:
            return None
        return confirmed.model_copy(update={"attempt": reference[1] or payment.attempt})

    def _captured(self, order: resources.Order, payment: PaymentEvent) -> PaymentEvent | None:
        """The payment as the order's capture leaves it (named as the payment was)."""
        capture = resources.latest_capture(order)
        if capture is None:
            return None
        reference = (payment.order_id, payment.attempt) if payment.order_id else None
        if reference is None and order.purchase_units:
            reference = resources.unit_reference(order.purchase_units[0])
        if reference is None:
            raise GatewayUnavailable(f"PayPal order {order.id} names no orderhub order")
        try:
            reported = resources.order_capture_payment(
                order,
                capture,
                event_id=None,
                reference=reference,
                test=resources.is_sandbox(order.links),
                fallback=_now(),
            )
        except (ValidationError, UnrepresentableAmount) as error:
            raise GatewayUnavailable(f"PayPal order {order.id}: {error}") from error
        if isinstance(reported, str):
            raise GatewayUnavailable(f"PayPal order {order.id}: {reported}")
        return reported.model_copy(
            update={
                "order_id": payment.order_id,
                "channel_order": payment.channel_order,
                "attempt": payment.attempt,
                "test": reported.test or payment.test,
            }
        )

    # -- refunds ------------------------------------------------------------------------------
    def _capture_id(self, request: RefundRequest) -> str:
        known = request.provider_data.get("capture_id")
        if known:
            return known
        order = self._get_order(request.provider_data.get("paypal_order_id") or request.payment_id)
        if order is None:
            return request.payment_id  # a capture id already (a legacy or panel-made payment)
        capture = resources.latest_capture(order)
        if capture is None:
            raise GatewayRejected(
                f"PayPal order {order.id} has no capture to refund", code="not_captured"
            )
        return capture.id

    def refund(self, request: RefundRequest) -> RefundAccepted:
        try:
            value = to_paypal(request.amount)
        except UnrepresentableAmount as error:
            raise GatewayRejected(str(error), code="unsupported_amount") from error
        body: dict[str, Any] = {
            "amount": {"value": value, "currency_code": request.amount.currency},
            "custom_id": request.refund_id,
        }
        invoice_id = resources.refund_invoice_id(request.order_id, request.refund_id)
        if invoice_id is not None:
            body["invoice_id"] = invoice_id
        if request.reason.strip():
            body["note_to_payer"] = request.reason.strip()[:255]
        what = "PayPal refund capture"
        capture_id = self._capture_id(request)
        response = self._call(
            "POST",
            f"/v2/payments/captures/{_segment(capture_id)}/refund",
            what,
            body=body,
            request_id=request.refund_id,
        )
        document = self._document(response, what)
        status = resources.REFUND_STATUSES.get(str(document.get("status")))
        refund_id = document.get("id")
        if status is None or not isinstance(refund_id, str) or not refund_id:
            raise GatewayUnavailable(f"{what}: unexpected answer {str(document)[:200]}")
        return RefundAccepted(
            status=status,
            provider_refund_id=refund_id,
            failure_reason=f"refund {document.get('status')}".lower()
            if status is RefundStatus.FAILED
            else None,
        )

    def refund_status(self, refund: RefundLookup) -> RefundEvent | None:
        if not refund.provider_refund_id:
            return None  # PayPal looks refunds up by its own id only
        what = "PayPal get refund"
        try:
            response = self._call(
                "GET", f"/v2/payments/refunds/{_segment(refund.provider_refund_id)}", what
            )
        except GatewayRejected as rejected:
            if rejected.code in ("404", "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID"):
                return None
            raise
        try:
            found = resources.Refund.model_validate(self._document(response, what))
            mapped = resources.refund_event(
                found,
                event_id=f"{found.id}:refund:{found.status}",
                occurred_at=found.update_time or found.create_time or _now(),
                test=resources.is_sandbox(found.links),
                order_id=refund.order_id,
                payment_id=refund.payment_id,
                refund_id=refund.refund_id,
            )
        except (ValidationError, UnrepresentableAmount) as error:
            raise GatewayUnavailable(f"{what}: unexpected refund: {error}") from error
        if isinstance(mapped, str):
            raise GatewayUnavailable(f"{what}: {mapped}")
        return mapped
