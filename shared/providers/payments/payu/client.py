"""PayU's REST API v2.1 as orderhub's PaymentGateway (developers.payu.com/europe/docs and the
official SDK PayU-EMEA/openpayu_php: Oauth, v2/Order, v2/Refund).

- OAuth: POST /pl/standard/user/oauth/authorize, form-encoded grant_type=client_credentials,
  client_id, client_secret -> {access_token, token_type, expires_in}; the token is kept until
  a minute before it expires (PayU issues 12 h tokens) and sent as `Authorization: Bearer`.
  A 401 on an API call drops the token and retries once with a new one.
- Sessions: POST /api/v2_1/orders. PayU answers 302 (Location = redirectUri, also in the JSON
  body; redirects are not followed) or 200/201. extOrderId = "<order id>/<attempt>", unique
  per POS: PayU refuses a repeat with 400 ERROR_ORDER_NOT_UNIQUE, and its body names the
  existing orderId (openpayu_php issue #28 shows it). PayU documents no lookup by extOrderId,
  so the repeat is answered from this gateway's memory of the sessions it opened, else by
  retrieving that orderId (GET /api/v2_1/orders/{orderId}) and checking it is the same order
  and amount. The retrieve API does not return the payment page (redirectUri); a session
  recovered that way sends the buyer to the return page (continueUrl) instead.
- Capture: PUT /api/v2_1/orders/{orderId}/status {"orderId", "orderStatus": "COMPLETED"}; the
  COMPLETED notification follows, so it returns None. A repeat PayU refuses is looked up: an
  order already COMPLETED is fine, one CANCELED is returned as such.
- Refunds: POST /api/v2_1/orders/{orderId}/refunds {"refund": {description, amount,
  extRefundId, currencyCode}} -> refund.status PENDING (the refund notification completes it).
  extRefundId is orderhub's refund id: PayU replays a request with the same extRefundId; if it
  answers REFUND_OUTER_ID_NOT_UNIQUE instead, the refund is found in GET .../refunds.
- Lookups: GET /api/v2_1/orders/{orderId} -> {"orders": [order]} mapped as the notification
  (NEW: nothing happened yet); GET /api/v2_1/orders/{orderId}/refunds/{refundId}.
Errors: PayU's status.statusCode (and codeLiteral: "ERROR_VALUE_INVALID/AMOUNT_TO_BIG",
"BUSINESS_ERROR/ERROR_VALUE_INVALID" when its antifraud refused the order) is the
GatewayRejected code; 5xx, 408, 429 and transport errors are GatewayUnavailable
(shared.payments.gateway.raise_for_provider).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qs, quote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.inbox.contract import MalformedWebhook
from shared.kernel.money import Money
from shared.payments.domain import PaymentEvent, PaymentStatus, RefundEvent, RefundStatus
from shared.payments.gateway import (
    CreatedSession,
    GatewayError,
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
    send,
)
from shared.platform.clock import Clock, utc_now
from shared.providers.payments.payu.amounts import (
    UnrepresentableAmount,
    minor_units,
    to_payu_amount,
)
from shared.providers.payments.payu.webhook import (
    REFUND_STATUSES,
    SOURCE,
    PayUId,
    PayUOrder,
    PayURefund,
    payment_from_order,
    refund_failure,
    refund_from_payu,
)

if TYPE_CHECKING:
    import httpx

SANDBOX_URL = "https://secure.snd.payu.com"
PRODUCTION_URL = "https://secure.payu.com"
OAUTH_PATH = "/pl/standard/user/oauth/authorize"
ORDERS_PATH = "/api/v2_1/orders"
TOKEN_MARGIN_SECONDS = 60
REMEMBERED_SESSIONS = 1000
# The statusCodes of an accepted order: SUCCESS, or a WARNING_CONTINUE_* that still sends the
# buyer to redirectUri (docs "Status Codes"; the SDK turns WARNING_CONTINUE_REDIRECT into SUCCESS).
ACCEPTED_ORDER_CODES = frozenset(
    {"SUCCESS", "WARNING_CONTINUE_REDIRECT", "WARNING_CONTINUE_3DS", "WARNING_CONTINUE_CVV"}
)
# payMethods.payMethod for a requested method ("PBL" with the method's value; docs
# "Implementation Details": blik, c = card, ai = PayU Installments, jp = Apple Pay, ap = Google
# Pay). bank_link has no single value: the buyer picks the bank on PayU's page.
METHOD_VALUES = {
    "blik": "blik",
    "card": "c",
    "installments": "ai",
    "apple_pay": "jp",
    "google_pay": "ap",
}
# Methods PayU offers in one currency only (BLIK and PayU Installments are Polish).
METHOD_CURRENCIES = {"blik": frozenset({"PLN"}), "installments": frozenset({"PLN"})}
# Pay later per currency (docs "PayU Pay Later": Klarna dpkl in Poland, Twisto dpcz in the Czech
# Republic; Klarna's RON, EUR and HUF codes as PayU's own Magento plugin sends them).
PAY_LATER_BY_CURRENCY = {
    "PLN": "dpkl",
    "CZK": "dpcz",
    "RON": "dpklron",
    "EUR": "dpkleur",
    "HUF": "dpklhuf",
}

M = TypeVar("M", bound=BaseModel)


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class PayUStatus(_Lenient):
    statusCode: str | None = None
    codeLiteral: str | None = None
    statusDesc: str | None = None


class _Answer(_Lenient):
    status: PayUStatus | None = None


class _Token(_Lenient):
    access_token: str = Field(min_length=1, max_length=4096)
    expires_in: int = Field(ge=1, le=10**7)


class _Created(_Answer):
    redirectUri: str | None = Field(default=None, max_length=4096)
    orderId: PayUId | None = None
    extOrderId: str | None = None


class _Retrieved(_Answer):
    orders: list[PayUOrder] = Field(default_factory=list)


class _RefundCreated(_Answer):
    refund: PayURefund | None = None


class _RefundWrapper(_Lenient):
    refund: PayURefund | None = None


class _Refunds(_Answer):
    refunds: list[PayURefund] = Field(default_factory=list)


def _status_of(response: httpx.Response) -> PayUStatus | None:
    """PayU's status section of any answer (errors carry it too), if there is one."""
    try:
        return _Answer.model_validate_json(response.content).status
    except ValidationError:
        return None


def _code_of(response: httpx.Response) -> str | None:
    """PayU's statusCode, with its codeLiteral when that says more ("ERROR_VALUE_INVALID/
    AMOUNT_TO_BIG", "BUSINESS_ERROR/ERROR_VALUE_INVALID" for an antifraud refusal)."""
    status = _status_of(response)
    if status is None or not status.statusCode:
        return None
    if status.codeLiteral and status.codeLiteral != status.statusCode:
        return f"{status.statusCode}/{status.codeLiteral}"
    return status.statusCode


def _model(model: type[M], response: httpx.Response, what: str) -> M:
    try:
        return model.model_validate_json(response.content)
    except ValidationError as error:
        raise GatewayUnavailable(
            f"{what}: PayU answered HTTP {response.status_code} with an unexpected body: "
            f"{error.errors()[0]['msg']}"
        ) from error


def _path_id(value: str) -> str:
    return quote(value, safe="")


class PayUGateway:
    provider = SOURCE
    methods = frozenset(
        {"card", "blik", "bank_link", "pay_later", "installments", "apple_pay", "google_pay"}
    )

    def __init__(
        self,
        *,
        base: str,
        pos_id: str,
        client_id: str,
        client_secret: str,
        http: httpx.Client,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Clock = utc_now,
    ) -> None:
        self._base = base.rstrip("/")
        self._pos_id = pos_id
        self._client_id = client_id
        self._client_secret = client_secret
        self._http = http
        self._monotonic = monotonic
        self._clock = clock
        self._lock = threading.Lock()
        self._token_lock = threading.Lock()
        self._token: str | None = None
        self._token_valid_until = 0.0
        # the sessions this gateway opened, by extOrderId (PayU will not give the page again)
        self._sessions: OrderedDict[str, tuple[Money, CreatedSession]] = OrderedDict()

    @classmethod
    def from_secret(cls, document: Mapping[str, Any], http: httpx.Client) -> PayUGateway:
        fields = {
            name: str(document.get(name) or "").strip()
            for name in ("pos_id", "client_id", "client_secret")
        }
        missing = [name for name, value in fields.items() if not value]
        if missing:
            raise GatewayRejected(
                f"payu is not configured: its secret has no {', '.join(missing)}",
                code="not_configured",
            )
        return cls(
            base=base_url(document, sandbox=SANDBOX_URL, production=PRODUCTION_URL),
            pos_id=fields["pos_id"],
            client_id=fields["client_id"],
            client_secret=fields["client_secret"],
            http=http,
        )

    # -- sessions --------------------------------------------------------------------------
    def create_session(self, request: SessionRequest) -> CreatedSession:
        reference = merchant_reference(request.order_id, request.attempt, per_attempt=True)
        with self._lock:
            known = self._sessions.get(reference)
        if known is not None:
            if known[0] != request.amount:
                raise GatewayRejected(
                    f"PayU order {reference} was opened for {known[0]}, not {request.amount}",
                    code="ERROR_ORDER_NOT_UNIQUE",
                )
            return known[1]
        body = self._order_body(request, reference)
        what = f"PayU order {reference}"
        response = self._call("POST", ORDERS_PATH, what, json=body)
        if response.status_code in (200, 201, 302):
            created = self._created(response, what)
            code = created.status.statusCode if created.status else None
            if code not in ACCEPTED_ORDER_CODES:
                raise GatewayRejected(f"{what}: PayU answered {code}", code=code)
            redirect = created.redirectUri or response.headers.get("Location")
            if not created.orderId or not redirect:
                raise GatewayUnavailable(f"{what}: PayU's answer names no orderId or redirectUri")
            session = self._session(created.orderId, redirect, reference)
            return self._remember(reference, request.amount, session)
        status = _status_of(response)
        if response.status_code == 400 and status and status.statusCode == "ERROR_ORDER_NOT_UNIQUE":
            return self._existing_session(request, reference, response)
        raise self._error(response, what)

    @staticmethod
    def _created(response: httpx.Response, what: str) -> _Created:
        """The order PayU created: its JSON answer, or for a 302 without one, what its
        Location (https://.../pay/?orderId=...&token=...) says."""
        try:
            return _Created.model_validate_json(response.content)
        except ValidationError as error:
            location = response.headers.get("Location", "")
            order_id = parse_qs(urlsplit(location).query).get("orderId", [""])[0]
            if response.status_code == 302 and order_id:
                try:
                    return _Created(
                        status=PayUStatus(statusCode="SUCCESS"),
                        redirectUri=location,
                        orderId=order_id,
                    )
                except ValidationError:
                    pass
            raise GatewayUnavailable(
                f"{what}: PayU answered HTTP {response.status_code} with an unexpected body: "
                f"{error.errors()[0]['msg']}"
            ) from error

    def _session(self, order_id: str, redirect: str, reference: str) -> CreatedSession:
        return CreatedSession(
            session_id=order_id,
            redirect_url=redirect,
            reference=reference,
            payment_id=order_id,
            provider_data={"payu_order_id": order_id, "ext_order_id": reference},
        )

    def _remember(self, reference: str, amount: Money, session: CreatedSession) -> CreatedSession:
        with self._lock:
            self._sessions[reference] = (amount, session)
            while len(self._sessions) > REMEMBERED_SESSIONS:
                self._sessions.popitem(last=False)
        return session

    def _existing_session(
        self, request: SessionRequest, reference: str, response: httpx.Response
    ) -> CreatedSession:
        what = f"PayU order {reference}"
        try:
            existing_id = _Created.model_validate_json(response.content).orderId
        except ValidationError:
            existing_id = None
        if not existing_id:
            raise GatewayRejected(
                f"{what}: PayU has an order with this extOrderId, names no orderId, and "
                "documents no lookup by extOrderId",
                code="ERROR_ORDER_NOT_UNIQUE",
            )
        order = self._retrieve(existing_id, what)
        if order is None or order.extOrderId != reference:
            raise GatewayRejected(
                f"{what}: PayU calls it a repeat of order {existing_id}, which is not this one",
                code="ERROR_ORDER_NOT_UNIQUE",
            )
        try:
            registered = (minor_units(order.totalAmount), order.currencyCode.upper())
        except UnrepresentableAmount as error:
            raise GatewayUnavailable(f"{what}: {error}") from error
        if registered != (request.amount.amount, request.amount.currency):
            raise GatewayRejected(
                f"{what}: already registered at PayU as {existing_id} for {registered[0]} "
                f"{registered[1]}, not {request.amount}",
                code="ERROR_ORDER_NOT_UNIQUE",
            )
        # PayU does not return the payment page of an existing order: the buyer goes back to
        # the shop's return page, which shows the payment as the notifications report it.
        session = self._session(existing_id, request.return_url, reference)
        return self._remember(reference, request.amount, session)

    def _order_body(self, request: SessionRequest, reference: str) -> dict[str, Any]:
        if request.method is not None and request.method not in self.methods:
            offered = ", ".join(sorted(self.methods))
            raise UnsupportedMethod(f"PayU does not offer {request.method!r} (it offers {offered})")
        try:
            total = to_payu_amount(request.amount)
        except UnrepresentableAmount as error:
            raise GatewayRejected(str(error), code="unsupported_currency") from error
        if request.amount.amount <= 0:
            raise GatewayRejected(
                f"PayU takes no order of {request.amount}", code="ERROR_VALUE_INVALID"
            )
        description = (request.description or f"Order {request.order_id}")[:4000]
        body: dict[str, Any] = {
            "notifyUrl": request.notify_url,
            "continueUrl": request.return_url,
            "customerIp": request.customer_ip,
            "merchantPosId": self._pos_id,
            "description": description,
            "currencyCode": request.amount.currency,
            "totalAmount": total,
            "extOrderId": reference,
            "products": self._products(request, description),
        }
        buyer = self._buyer(request)
        if buyer:
            body["buyer"] = buyer
        pay_method = self._pay_method(request.method, request.amount.currency)
        if pay_method:
            body["payMethods"] = {"payMethod": pay_method}
        return body

    @staticmethod
    def _products(request: SessionRequest, description: str) -> list[dict[str, str]]:
        """The order's lines when they add up to the amount asked, else one line for it (a
        partial payment, discounts or shipping the lines do not show)."""
        lines = request.lines
        currency = request.amount.currency
        if lines and all(
            line.quantity >= 1
            and line.unit_price.amount >= 0
            and line.unit_price.currency == currency
            for line in lines
        ):
            total = sum(line.unit_price.amount * line.quantity for line in lines)
            if total == request.amount.amount:
                return [
                    {
                        "name": (line.name or "Item")[:255],
                        "unitPrice": str(line.unit_price.amount),
                        "quantity": str(line.quantity),
                    }
                    for line in lines
                ]
        return [
            {"name": description[:255], "unitPrice": str(request.amount.amount), "quantity": "1"}
        ]

    @staticmethod
    def _buyer(request: SessionRequest) -> dict[str, str]:
        """PayU's buyer section needs an email; without one PayU asks the buyer itself."""
        if not request.buyer_email:
            return {}
        buyer = {"email": request.buyer_email, "language": request.language}
        if request.buyer_phone:
            buyer["phone"] = request.buyer_phone
        if request.buyer_name:
            first, _, last = request.buyer_name.strip().partition(" ")
            if first:
                buyer["firstName"] = first
            if last.strip():
                buyer["lastName"] = last.strip()
        return buyer

    @staticmethod
    def _pay_method(method: str | None, currency: str) -> dict[str, str] | None:
        if method is None or method == "bank_link":
            return None
        if method == "pay_later":
            value = PAY_LATER_BY_CURRENCY.get(currency)
            if value is None:
                raise UnsupportedMethod(f"PayU offers no pay-later method in {currency}")
            return {"type": "PBL", "value": value}
        allowed = METHOD_CURRENCIES.get(method)
        if allowed is not None and currency not in allowed:
            raise UnsupportedMethod(f"PayU offers {method} in {', '.join(sorted(allowed))} only")
        return {"type": "PBL", "value": METHOD_VALUES[method]}

    # -- capture -----------------------------------------------------------------------------
    def capture(self, payment: PaymentEvent) -> PaymentEvent | None:
        order_id = payment.provider_data.get("payu_order_id") or payment.payment_id
        what = f"PayU capture of {order_id}"
        response = self._call(
            "PUT",
            f"{ORDERS_PATH}/{_path_id(order_id)}/status",
            what,
            json={"orderId": order_id, "orderStatus": "COMPLETED"},
        )
        if 200 <= response.status_code < 300:
            answer = _model(_Answer, response, what)
            code = answer.status.statusCode if answer.status else None
            if code != "SUCCESS":
                raise GatewayRejected(f"{what}: PayU answered {code}", code=code)
            return None  # PayU's COMPLETED notification follows
        if self._final(response):
            order = self._retrieve(order_id, what)
            if order is not None and order.status.upper() == "COMPLETED":
                return None  # captured before: its notification was sent then
            if order is not None and order.status.upper() in ("CANCELED", "REJECTED"):
                mapped = self._payment(order, payment.provider_data.get("ext_order_id"), what)
                if mapped is not None:
                    return mapped
        raise self._error(response, what)

    # -- refunds -----------------------------------------------------------------------------
    def refund(self, request: RefundRequest) -> RefundAccepted:
        order_id = request.provider_data.get("payu_order_id") or request.payment_id
        what = f"PayU refund {request.refund_id} of {order_id}"
        try:
            amount = to_payu_amount(request.amount)
        except UnrepresentableAmount as error:
            raise GatewayRejected(str(error), code="unsupported_currency") from error
        body = {
            "refund": {
                "description": (request.reason or "Refund")[:255],
                "amount": amount,
                "extRefundId": request.refund_id,
                "currencyCode": request.amount.currency,
            }
        }
        response = self._call(
            "POST", f"{ORDERS_PATH}/{_path_id(order_id)}/refunds", what, json=body
        )
        if 200 <= response.status_code < 300:
            answer = _model(_RefundCreated, response, what)
            code = answer.status.statusCode if answer.status else None
            if code != "SUCCESS" or answer.refund is None:
                raise GatewayRejected(f"{what}: PayU answered {code}", code=code)
            return self._accepted(answer.refund, request, what)
        status = _status_of(response)
        if self._final(response) and status and status.codeLiteral == "REFUND_OUTER_ID_NOT_UNIQUE":
            found = self._find_refund(order_id, request.refund_id, what)
            if found is not None:
                return self._accepted(found, request, what)
        raise self._error(response, what)

    @staticmethod
    def _accepted(refund: PayURefund, request: RefundRequest, what: str) -> RefundAccepted:
        try:
            amount = minor_units(refund.amount)
        except UnrepresentableAmount as error:
            raise GatewayUnavailable(f"{what}: {error}") from error
        if (amount, refund.currencyCode.upper()) != (
            request.amount.amount,
            request.amount.currency,
        ):
            raise GatewayRejected(
                f"{what}: PayU holds refund {refund.refundId} for {amount} {refund.currencyCode} "
                f"under this extRefundId, not {request.amount}",
                code="REFUND_IDEMPOTENCY_MISMATCH",
            )
        status = REFUND_STATUSES.get(refund.status.upper(), RefundStatus.PENDING)
        failure = refund_failure(refund) if status is RefundStatus.FAILED else None
        return RefundAccepted(
            status=status, provider_refund_id=refund.refundId, failure_reason=failure
        )

    def _find_refund(self, order_id: str, refund_id: str, what: str) -> PayURefund | None:
        response = self._call("GET", f"{ORDERS_PATH}/{_path_id(order_id)}/refunds", what)
        if response.status_code == 404:
            return None
        if not 200 <= response.status_code < 300:
            raise self._error(response, what)
        refunds = _model(_Refunds, response, what).refunds
        return next((r for r in refunds if r.extRefundId == refund_id), None)

    # -- lookups -----------------------------------------------------------------------------
    def session_status(self, session: SessionLookup) -> PaymentEvent | None:
        order_id = (
            session.provider_data.get("payu_order_id") or session.payment_id or session.session_id
        )
        what = f"PayU order {order_id}"
        order = self._retrieve(order_id, what)
        if order is None or order.status.upper() == "NEW":
            return None  # PayU does not know it, or the buyer has not started paying
        mapped = self._payment(order, session.reference, what)
        if mapped is None:
            raise GatewayRejected(
                f"{what}: status {order.status} is not one orderhub knows", code="unknown_status"
            )
        return mapped

    def refund_status(self, refund: RefundLookup) -> RefundEvent | None:
        order_id = refund.provider_data.get("payu_order_id") or refund.payment_id
        what = f"PayU refund {refund.refund_id} of {order_id}"
        found: PayURefund | None
        if refund.provider_refund_id:
            response = self._call(
                "GET",
                f"{ORDERS_PATH}/{_path_id(order_id)}/refunds/{_path_id(refund.provider_refund_id)}",
                what,
            )
            if response.status_code == 404:
                return None
            if not 200 <= response.status_code < 300:
                raise self._error(response, what)
            found = self._refund_document(response, what)
        else:
            found = self._find_refund(order_id, refund.refund_id, what)
        if found is None:
            return None
        try:
            mapped = refund_from_payu(
                found,
                payu_order_id=order_id,
                ext_order_id=refund.provider_data.get("ext_order_id"),
                order_id=refund.order_id,
                occurred_at=self._clock(),
                refund_id=refund.refund_id,
            )
        except MalformedWebhook as error:
            raise GatewayUnavailable(f"{what}: PayU's answer is not a refund: {error}") from error
        if isinstance(mapped, str):
            raise GatewayRejected(f"{what}: {mapped}", code="unknown_status")
        return mapped

    @staticmethod
    def _refund_document(response: httpx.Response, what: str) -> PayURefund:
        """A retrieved refund: the refund object itself (or wrapped in "refund")."""
        wrapped = _model(_RefundWrapper, response, what)
        if wrapped.refund is not None:
            return wrapped.refund
        return _model(PayURefund, response, what)

    def _retrieve(self, order_id: str, what: str) -> PayUOrder | None:
        response = self._call("GET", f"{ORDERS_PATH}/{_path_id(order_id)}", what)
        if response.status_code == 404:
            return None
        if not 200 <= response.status_code < 300:
            raise self._error(response, what)
        orders = _model(_Retrieved, response, what).orders
        return next((o for o in orders if o.orderId == order_id), orders[0] if orders else None)

    def _payment(self, order: PayUOrder, reference: str | None, what: str) -> PaymentEvent | None:
        try:
            mapped = payment_from_order(order, occurred_at=self._clock(), reference=reference)
        except MalformedWebhook as error:
            raise GatewayUnavailable(f"{what}: PayU's answer is not a payment: {error}") from error
        if isinstance(mapped, str):
            return None
        if mapped.status is PaymentStatus.PENDING and order.status.upper() == "NEW":
            return None
        return mapped

    # -- HTTP ------------------------------------------------------------------------------------
    def _access_token(self) -> str:
        with self._token_lock:
            if self._token is not None and self._monotonic() < self._token_valid_until:
                return self._token
            response = send(
                self._http,
                "POST",
                f"{self._base}{OAUTH_PATH}",
                "PayU OAuth",
                data={
                    "grant_type": "client_credentials",
                    "client_id": self._client_id,
                    "client_secret": self._client_secret,
                },
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                follow_redirects=False,
            )
            token = _model(_Token, response, "PayU OAuth")
            margin = min(TOKEN_MARGIN_SECONDS, token.expires_in // 2)
            self._token = token.access_token
            self._token_valid_until = self._monotonic() + token.expires_in - margin
            return self._token

    def _forget_token(self, token: str) -> None:
        with self._token_lock:
            if self._token == token:
                self._token = None

    def _call(self, method: str, path: str, what: str, *, json: Any = None) -> httpx.Response:
        """One API call with a bearer token; a 401 (token revoked or expired early) is retried
        once with a new token."""
        import httpx

        response: httpx.Response | None = None
        for _ in range(2):
            token = self._access_token()
            try:
                response = self._http.request(
                    method,
                    f"{self._base}{path}",
                    headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                    json=json,
                    follow_redirects=False,
                )
            except httpx.HTTPError as error:
                raise GatewayUnavailable(f"{what}: {type(error).__name__}: {error}") from error
            if response.status_code != 401:
                return response
            self._forget_token(token)
        assert response is not None
        return response

    @staticmethod
    def _final(response: httpx.Response) -> bool:
        """PayU refused for good (the shared policy's GatewayRejected statuses)."""
        status = response.status_code
        return 300 <= status < 500 and status not in (408, 409, 425, 429)

    @staticmethod
    def _error(response: httpx.Response, what: str) -> GatewayError:
        """The shared error policy's verdict on an answer, with PayU's status as a
        rejection's code."""
        try:
            raise_for_provider(response, what)
        except GatewayRejected as error:
            return GatewayRejected(str(error), code=_code_of(response) or error.code)
        except GatewayUnavailable as error:
            return error
        return GatewayUnavailable(f"{what}: unexpected HTTP {response.status_code}")
