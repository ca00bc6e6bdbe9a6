"""PayU's side, for tests and the embedded stack: its REST API v2.1 over real HTTP on
127.0.0.1, the buyer's actions on its payment page, and its notifications, signed with the
POS's second key exactly as PayU signs them (webhook.py's signature_header).

The API checks what PayU's does (developers.payu.com/europe/docs, "Status Codes"):
- OAuth client_credentials with the POS's client_id and client_secret, form-encoded (401
  otherwise); every API call needs a live bearer token (401 UNAUTHORIZED).
- POST /api/v2_1/orders: required fields (ERROR_VALUE_MISSING), merchantPosId is this POS
  (403 INVALID_AUTH_FOR_THIS_ORDER), amounts are strings of minor units and the products add
  up to totalAmount (ERROR_VALUE_INVALID), extOrderId unique per POS (400
  ERROR_ORDER_NOT_UNIQUE naming the existing orderId); answers 302 with Location = redirectUri.
- GET/DELETE /api/v2_1/orders/{orderId}, PUT .../status (capture of WAITING_FOR_CONFIRMATION),
  POST/GET .../refunds (order COMPLETED, amount within what is left: AMOUNT_TO_BIG; extRefundId
  replayed when repeated with the same amount, REFUND_IDEMPOTENCY_MISMATCH otherwise), GET
  .../refunds/{refundId}.
Notifications go to the order's notifyUrl (or `deliver_to`'s address when the order has none).
`auto_receive = False` is a POS with auto-receive off: a paid order waits in
WAITING_FOR_CONFIRMATION until captured. Refunds are FINALIZED (and notified) just after the
API answers unless `hold_refunds` is set; then `complete_refund` does it.

Assumption beyond the docs: a notification's payMethod carries the method's `value` ("blik")
as well as its `type`; the docs' sample shows the type only, and the webhook maps both.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from shared.providers.payments.payu.client import (
    ORDERS_PATH,
    PAY_LATER_BY_CURRENCY,
)
from shared.providers.payments.payu.webhook import PAY_LATER_VALUES, signature_header
from shared.providers.simulation import Answer, ServedApi, SignedRequest

CURRENCIES = frozenset(
    {"BGN", "CHF", "CZK", "DKK", "EUR", "GBP", "HUF", "NOK", "PLN", "RON", "SEK", "USD"}
)
PAY_METHOD_TYPES = frozenset(
    {"PBL", "CARD_TOKEN", "PAYMENT_WALL", "BLIK_AUTHORIZATION_CODE", "BLIK_TOKEN", "INSTALLMENTS"}
)
# payMethod values of type PBL (docs "Implementation Details": cards and wallets, BLIK,
# installments, pay later, and the Polish banks' pay-by-links).
PBL_VALUES = frozenset(
    {"c", "jp", "ap", "vc", "blik", "ai", "b", "m", "o", "h", "i", "p", "g", "gbx", "l", "ab"}
    | {"bn", "wm", "wc", "bo", "bnx", "bs", "nstb", "plsb", "wys", "pt", "pkex"}
    | PAY_LATER_VALUES
)
PLN_ONLY_VALUES = frozenset({"blik", "ai"})
# How the buyer's method shows in the notification's payMethod.
NOTIFIED_PAY_METHODS: dict[str, dict[str, str]] = {
    "blik": {"type": "PBL", "value": "blik"},
    "card": {"type": "CARD_TOKEN"},
    "installments": {"type": "INSTALLMENTS"},
    "bank_link": {"type": "PBL", "value": "m"},
    "apple_pay": {"type": "PBL", "value": "jp"},
    "google_pay": {"type": "PBL", "value": "ap"},
}
# A requested payMethod value, as the method the buyer then pays with by default.
_REQUESTED_METHODS = {
    "blik": "blik",
    "c": "card",
    "ai": "installments",
    "jp": "apple_pay",
    "ap": "google_pay",
}
_ORDER_ROUTE = re.compile(
    rf"^{ORDERS_PATH}/(?P<order>[^/]+)(?:/(?P<part>status|refunds)(?:/(?P<refund>[^/]+))?)?$"
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _status(code: str, desc: str, literal: str | None = None) -> dict[str, Any]:
    status = {"statusCode": code, "statusDesc": desc}
    if literal:
        status["codeLiteral"] = literal
    return {"status": status}


class _Refusal(Exception):
    """An API error answer: HTTP status and PayU's body."""

    def __init__(self, http_status: int, body: dict[str, Any]) -> None:
        super().__init__(str(body))
        self.http_status = http_status
        self.body = body


def _refuse(http_status: int, code: str, desc: str, literal: str | None = None) -> _Refusal:
    return _Refusal(http_status, _status(code, desc, literal))


@dataclass(frozen=True)
class ServedRequest:
    """One request the API served: `body` parsed (JSON, or the form for OAuth)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    query: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SentNotification:
    url: str
    request: SignedRequest
    status_code: int | None  # None: the address could not be reached


@dataclass
class _Order:
    document: dict[str, Any]  # the order as the retrieve API and notifications show it
    continue_url: str | None
    requested_method: str | None
    token: str
    payment_id: str | None = None
    received_at: str | None = None


@dataclass
class _Refund:
    order_id: str
    document: dict[str, Any]


class PayUSimulator(ServedApi):
    served_name = "payu"
    json_type = "application/json;charset=UTF-8"
    text_type = "text/html; charset=utf-8"  # the payment pages
    path = "/webhooks/payments/payu"

    def __init__(
        self,
        *,
        pos_id: str,
        second_key: str,
        client_id: str,
        client_secret: str,
        algorithm: str = "MD5",
        token_lifetime: int = 43199,
    ) -> None:
        self.pos_id = pos_id
        self._second_key = second_key
        self._client_id = client_id
        self._client_secret = client_secret
        self.algorithm = algorithm  # how notifications are signed; the docs' example: MD5
        self.token_lifetime = token_lifetime
        self.hold_refunds = False
        self.auto_receive = True
        self.requests: list[ServedRequest] = []
        self.sent: list[SentNotification] = []
        self._orders: dict[str, _Order] = {}
        self._by_ext_order_id: dict[str, str] = {}
        self._refunds: dict[str, _Refund] = {}
        self._tokens: dict[str, float] = {}
        self._next_refund = 900_000 + secrets.randbelow(90_000)
        self._lock = threading.RLock()
        self._webhook_base: str | None = None
        self._idle = threading.Condition(self._lock)
        self._follow_ups = 0

    @classmethod
    def from_secret(cls, document: Mapping[str, Any]) -> PayUSimulator:
        return cls(
            pos_id=str(document["pos_id"]),
            second_key=str(document["second_key"]),
            client_id=str(document["client_id"]),
            client_secret=str(document["client_secret"]),
        )

    def deliver_to(self, webhook_base_url: str) -> None:
        """Where notifications go for an order that named no notifyUrl."""
        self._webhook_base = webhook_base_url.rstrip("/")

    # -- state, for tests ----------------------------------------------------------------------
    def order(self, order_id: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._orders[order_id].document)

    def refund(self, refund_id: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._refunds[refund_id].document)

    def revoke_tokens(self) -> None:
        """Every token issued so far stops working (PayU answers 401 UNAUTHORIZED)."""
        with self._lock:
            self._tokens.clear()

    # -- the buyer on PayU's page ----------------------------------------------------------------
    def pay(self, session_id: str, *, method: str | None = None, notify: bool = True) -> None:
        """The buyer pays: PENDING, then COMPLETED (or WAITING_FOR_CONFIRMATION when
        auto-receive is off), each notified in turn."""
        with self._lock:
            order = self._orders[session_id]
            status = order.document["status"]
            if status not in ("NEW", "PENDING"):
                raise ValueError(f"order {session_id} is {status}: it cannot be paid")
            chosen = method or order.requested_method or "blik"
            order.document["payMethod"] = {
                **self._notified_method(chosen, order.document["currencyCode"]),
                "amount": order.document["totalAmount"],
            }
            order.document["status"] = "PENDING"
            notifications = [self._notification_of(order)]
            if self.auto_receive:
                self._complete(order)
            else:
                order.document["status"] = "WAITING_FOR_CONFIRMATION"
            notifications.append(self._notification_of(order))
        if notify:
            for notification in notifications:
                self._deliver(order.document.get("notifyUrl"), notification)

    def fail(self, session_id: str, notify: bool = True) -> None:
        """The payment fails or the buyer gives up: CANCELED."""
        with self._lock:
            order = self._orders[session_id]
            status = order.document["status"]
            if status == "COMPLETED":
                raise ValueError(f"order {session_id} is COMPLETED: it cannot fail")
            order.document["status"] = "CANCELED"
            notification = self._notification_of(order)
        if notify:
            self._deliver(order.document.get("notifyUrl"), notification)

    def complete_refund(
        self, provider_refund_id: str, notify: bool = True, *, status: str = "FINALIZED"
    ) -> None:
        """PayU finishes a refund (FINALIZED, or CANCELED) and notifies it."""
        with self._lock:
            refund = self._refunds[provider_refund_id]
            if refund.document["status"] != "PENDING":
                return
            refund.document["status"] = status
            refund.document["statusDateTime"] = _now()
            order = self._orders[refund.order_id]
            notification = self._sign(self._refund_body(order.document, refund.document))
        if notify:
            self._deliver(order.document.get("notifyUrl"), notification)

    # -- builders for tests that deliver by themselves -----------------------------------------
    @staticmethod
    def order_document(
        ext_order_id: str,
        amount: int,
        currency: str = "PLN",
        *,
        order_id: str | None = None,
        pos_id: str = "145227",
        status: str = "NEW",
        pay_method: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """An order as PayU's notifications carry it (the docs' sample's fields)."""
        document: dict[str, Any] = {
            "orderId": order_id or _order_id(),
            "extOrderId": ext_order_id,
            "orderCreateDate": _now(),
            "notifyUrl": "http://127.0.0.1/webhooks/payments/payu",
            "customerIp": "127.0.0.1",
            "merchantPosId": pos_id,
            "description": f"Order {ext_order_id}",
            "currencyCode": currency,
            "totalAmount": str(amount),
            "products": [{"name": "Order", "unitPrice": str(amount), "quantity": "1"}],
            "status": status,
        }
        if pay_method is not None:
            document["payMethod"] = dict(pay_method)
        return document

    def notification(
        self,
        order: str | Mapping[str, Any],
        status: str,
        *,
        algorithm: str | None = None,
        method: str | None = None,
    ) -> SignedRequest:
        """An order notification in `status` for a simulator order (by orderId) or a document
        (order_document); `method` sets its payMethod."""
        with self._lock:
            if isinstance(order, str):
                known = self._orders[order]
                document = dict(known.document)
                payment_id, received_at = known.payment_id, known.received_at
            else:
                document, payment_id, received_at = dict(order), None, None
        document["status"] = status
        if method is not None:
            document["payMethod"] = self._notified_method(method, document["currencyCode"])
        body: dict[str, Any] = {"order": document}
        if status == "COMPLETED":
            body["localReceiptDateTime"] = received_at or _now()
            body["properties"] = [{"name": "PAYMENT_ID", "value": payment_id or _payment_id()}]
        return self._sign(body, algorithm)

    def refund_notification(
        self,
        order: str | Mapping[str, Any],
        *,
        amount: int | None = None,
        status: str = "FINALIZED",
        refund_id: str | None = None,
        ext_refund_id: str | None = None,
        algorithm: str | None = None,
    ) -> SignedRequest:
        """A refund notification for a simulator order (by orderId) or an order document."""
        with self._lock:
            document = dict(self._orders[order].document) if isinstance(order, str) else dict(order)
            known = self._refunds.get(refund_id or "")
            refund = dict(known.document) if known is not None else {}
        refund.update(
            {
                "refundId": refund.get("refundId") or refund_id or self._new_refund_id(),
                "amount": str(amount)
                if amount is not None
                else refund.get("amount") or document["totalAmount"],
                "currencyCode": document["currencyCode"],
                "status": status,
                "statusDateTime": _now(),
            }
        )
        if ext_refund_id is not None:
            refund["extRefundId"] = ext_refund_id
        return self._sign(self._refund_body(document, refund), algorithm)

    # -- notifications ---------------------------------------------------------------------------
    def _sign(self, body: Mapping[str, Any], algorithm: str | None = None) -> SignedRequest:
        raw = json.dumps(body, ensure_ascii=False, indent=3).encode()
        header = signature_header(raw, self._second_key, algorithm or self.algorithm)
        return SignedRequest(
            self.path,
            raw,
            {
                "Content-Type": "application/json;charset=UTF-8",
                "User-Agent": "Jakarta Commons-HttpClient/3.1",
                "PayU-Processing-Time": "1000",
                "OpenPayu-Signature": header,
                "X-OpenPayU-Signature": header,
            },
        )

    def _notification_of(self, order: _Order) -> SignedRequest:
        return self.notification(order.document["orderId"], order.document["status"])

    @staticmethod
    def _refund_body(order: Mapping[str, Any], refund: Mapping[str, Any]) -> dict[str, Any]:
        notified = {
            key: refund[key]
            for key in ("refundId", "extRefundId", "amount", "currencyCode", "status")
            if key in refund
        }
        notified |= {
            "statusDateTime": refund.get("statusDateTime") or _now(),
            "reason": "refund",
            "reasonDescription": refund.get("description") or "refund",
            "refundDate": refund.get("creationDateTime") or _now(),
        }
        return {
            "orderId": order["orderId"],
            "extOrderId": order.get("extOrderId"),
            "refund": notified,
        }

    def _deliver(self, notify_url: str | None, request: SignedRequest) -> None:
        url = notify_url or (f"{self._webhook_base}{self.path}" if self._webhook_base else None)
        if url is None:
            return
        try:
            status: int | None = httpx.post(
                url, content=request.body, headers=request.headers, timeout=10.0
            ).status_code
        except Exception:  # unreachable, refused, or sockets disabled: PayU would retry
            status = None
        with self._lock:
            self.sent.append(SentNotification(url, request, status))

    def _after_answer(self, work: Callable[[], None]) -> Callable[[], None]:
        """`work` to run in its own thread once the answer is sent (counted from now, so
        wait_for_follow_ups sees it even before it starts)."""
        with self._idle:
            self._follow_ups += 1

        def run() -> None:
            try:
                work()
            finally:
                with self._idle:
                    self._follow_ups -= 1
                    self._idle.notify_all()

        def start() -> None:
            threading.Thread(target=run, name="payu-simulator-follow-up", daemon=True).start()

        return start

    @staticmethod
    def _notified_method(method: str, currency: str) -> dict[str, str]:
        if method == "pay_later":
            return {"type": "PBL", "value": PAY_LATER_BY_CURRENCY.get(currency, "dpkl")}
        if method not in NOTIFIED_PAY_METHODS:
            raise ValueError(f"PayU has no method {method!r}")
        return dict(NOTIFIED_PAY_METHODS[method])

    def _complete(self, order: _Order) -> None:
        order.document["status"] = "COMPLETED"
        order.payment_id = order.payment_id or _payment_id()
        order.received_at = _now()

    def _new_refund_id(self) -> str:
        with self._lock:
            self._next_refund += 1
            return str(self._next_refund)

    # -- the HTTP API ------------------------------------------------------------------------------
    def stop(self) -> None:
        super().stop()
        self.wait_for_follow_ups()

    def wait_for_follow_ups(self, timeout: float = 5.0) -> bool:
        """Wait until what runs after an answer (a refund's completion, a capture's
        notification) has run; False if it is still running after `timeout` seconds."""
        with self._idle:
            return self._idle.wait_for(lambda: self._follow_ups == 0, timeout)

    def answer(self, method: str, path: str, headers: Mapping[str, str], raw: bytes) -> Answer:
        """One API request (the HTTP handler's work, callable directly)."""
        lowered = {k.lower(): v for k, v in headers.items()}
        url = urlsplit(path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        try:
            body = self._body(url.path, lowered, raw)
        except _Refusal as refusal:
            self._record(method, url.path, headers, None, query)
            return Answer(refusal.http_status, refusal.body)
        self._record(method, url.path, headers, body, query)
        try:
            if method == "GET" and url.path.rstrip("/") == "/pay":
                return self._payment_page(query)
            if method == "POST" and url.path == "/pl/standard/user/oauth/authorize":
                return self._authorize(lowered, body)
            self._authenticate(lowered)
            if method == "POST" and url.path == ORDERS_PATH:
                return self._create(body)
            route = _ORDER_ROUTE.match(url.path)
            if route is None:
                raise _refuse(404, "DATA_NOT_FOUND", f"no resource {url.path}")
            return self._on_order(method, route, body)
        except _Refusal as refusal:
            return Answer(refusal.http_status, refusal.body)

    def _respond(self, method: str, target: str, headers: dict[str, str], raw: bytes, /) -> Answer:
        return self.answer(method, target, headers, raw)  # looked up per request: tests patch it

    def too_large(self) -> Answer:
        return Answer(413, _status("ERROR_SYNTAX", "request too large"))

    def _served_headers(self) -> dict[str, str]:
        return {"Correlation-Id": str(uuid.uuid4())}

    def _record(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: Any,
        query: dict[str, str],
    ) -> None:
        with self._lock:
            self.requests.append(ServedRequest(method, path, dict(headers), body, query))

    @staticmethod
    def _body(path: str, headers: Mapping[str, str], raw: bytes) -> Any:
        if not raw:
            return None
        kind = headers.get("content-type", "")
        if path == "/pl/standard/user/oauth/authorize":
            if not kind.startswith("application/x-www-form-urlencoded"):
                # docs: without this Content-Type the authorization request returns 401
                raise _Refusal(401, {"error": "invalid_request", "error_description": kind})
            return {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
        if not kind.startswith("application/json"):
            raise _refuse(
                400, "ERROR_SYNTAX", "Incorrect request syntax. Supported format is JSON."
            )
        try:
            return json.loads(raw)
        except (ValueError, RecursionError) as error:
            raise _refuse(400, "ERROR_SYNTAX", f"Incorrect request syntax: {error}") from error

    # -- OAuth -------------------------------------------------------------------------------------
    def _authorize(self, headers: Mapping[str, str], form: Any) -> Answer:
        form = form if isinstance(form, dict) else {}
        if form.get("grant_type") != "client_credentials":
            return Answer(400, {"error": "unsupported_grant_type", "error_description": "grant"})
        if (form.get("client_id"), form.get("client_secret")) != (
            self._client_id,
            self._client_secret,
        ):
            return Answer(
                401, {"error": "invalid_client", "error_description": "Bad client credentials"}
            )
        token = str(uuid.uuid4())
        with self._lock:
            self._tokens[token] = time.monotonic() + self.token_lifetime
        return Answer(
            200,
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": self.token_lifetime,
                "grant_type": "client_credentials",
            },
        )

    def _authenticate(self, headers: Mapping[str, str]) -> None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        with self._lock:
            expiry = self._tokens.get(token) if scheme.lower() == "bearer" else None
        if expiry is None or expiry < time.monotonic():
            raise _refuse(401, "UNAUTHORIZED", "Incorrect authentication")

    # -- orders ------------------------------------------------------------------------------------
    def _create(self, body: Any) -> Answer:
        if not isinstance(body, dict):
            raise _refuse(400, "ERROR_SYNTAX", "an order is a JSON object")
        for name in ("customerIp", "merchantPosId", "description", "currencyCode", "totalAmount"):
            if not isinstance(body.get(name), str) or not body[name]:
                raise _refuse(400, "ERROR_VALUE_MISSING", f"Missing required field: {name}")
        if body["merchantPosId"] != self.pos_id:
            raise _refuse(
                403,
                "ERROR_VALUE_INVALID",
                "POS ID parameter in OAuth request does not match posId in OrderCreateRequest",
                "INVALID_AUTH_FOR_THIS_ORDER",
            )
        if body["currencyCode"] not in CURRENCIES:
            raise _refuse(400, "ERROR_VALUE_INVALID", f"currencyCode {body['currencyCode']}")
        total = _amount(body["totalAmount"], "totalAmount")
        if total <= 0:
            raise _refuse(400, "ERROR_VALUE_INVALID", "totalAmount must be positive")
        self._check_products(body.get("products"), total)
        self._check_pay_methods(body.get("payMethods"), body["currencyCode"])
        buyer = body.get("buyer")
        if buyer is not None and (not isinstance(buyer, dict) or not buyer.get("email")):
            raise _refuse(400, "ERROR_VALUE_MISSING", "Missing required field: buyer.email")
        ext_order_id = body.get("extOrderId")
        if ext_order_id is not None and not isinstance(ext_order_id, str):
            raise _refuse(400, "ERROR_VALUE_INVALID", "extOrderId is a string")
        with self._lock:
            if ext_order_id and ext_order_id in self._by_ext_order_id:
                return Answer(
                    400,
                    {
                        "orderId": self._by_ext_order_id[ext_order_id],
                        "extOrderId": ext_order_id,
                        "status": {
                            "statusCode": "ERROR_ORDER_NOT_UNIQUE",
                            "code": "110",
                            "codeLiteral": "ORDER_NOT_UNIQUE",
                            "statusDesc": "Order with given extOrderId already exists",
                        },
                    },
                )
            order = self._register(body, ext_order_id)
        redirect = f"{self.base_url}/pay/?orderId={order.document['orderId']}&token={order.token}"
        answer = {
            "status": {"statusCode": "SUCCESS"},
            "redirectUri": redirect,
            "orderId": order.document["orderId"],
        }
        if ext_order_id:
            answer["extOrderId"] = ext_order_id
        return Answer(302, answer, {"Location": redirect})

    def _register(self, body: dict[str, Any], ext_order_id: str | None) -> _Order:
        document: dict[str, Any] = {
            "orderId": _order_id(),
            "orderCreateDate": _now(),
            "customerIp": body["customerIp"],
            "merchantPosId": self.pos_id,
            "description": body["description"],
            "currencyCode": body["currencyCode"],
            "totalAmount": body["totalAmount"],
            "products": body["products"],
            "status": "NEW",
        }
        if ext_order_id:
            document["extOrderId"] = ext_order_id
        if isinstance(body.get("notifyUrl"), str):
            document["notifyUrl"] = body["notifyUrl"]
        if isinstance(body.get("buyer"), dict):
            document["buyer"] = body["buyer"]
        requested = ((body.get("payMethods") or {}).get("payMethod") or {}).get("value")
        order = _Order(
            document=document,
            continue_url=body.get("continueUrl"),
            requested_method=(
                "pay_later"
                if requested in PAY_LATER_VALUES
                else _REQUESTED_METHODS.get(requested or "")
            ),
            token=secrets.token_urlsafe(24),
        )
        self._orders[document["orderId"]] = order
        if ext_order_id:
            self._by_ext_order_id[ext_order_id] = document["orderId"]
        return order

    @staticmethod
    def _check_products(products: Any, total: int) -> None:
        if not isinstance(products, list) or not products:
            raise _refuse(400, "ERROR_VALUE_MISSING", "Missing required field: products")
        summed = 0
        for product in products:
            if not isinstance(product, dict) or not isinstance(product.get("name"), str):
                raise _refuse(400, "ERROR_VALUE_MISSING", "Missing required field: products.name")
            price = _amount(product.get("unitPrice"), "products.unitPrice")
            quantity = _amount(product.get("quantity"), "products.quantity")
            summed += price * quantity
        if summed != total:
            raise _refuse(
                400, "ERROR_VALUE_INVALID", f"products add up to {summed}, not totalAmount {total}"
            )

    @staticmethod
    def _check_pay_methods(pay_methods: Any, currency: str) -> None:
        if pay_methods is None:
            return
        method = pay_methods.get("payMethod") if isinstance(pay_methods, dict) else None
        if not isinstance(method, dict) or method.get("type") not in PAY_METHOD_TYPES:
            raise _refuse(400, "ERROR_VALUE_INVALID", "payMethods.payMethod.type")
        value = method.get("value")
        blocked = "OPENPAYU_PAYMENT_CREATE_BLOCKED_CHECKOUT_PAY_METHOD"
        if method["type"] == "PBL" and (
            value not in PBL_VALUES or (value in PLN_ONLY_VALUES and currency != "PLN")
        ):
            raise _refuse(400, "ERROR_VALUE_INVALID", blocked)

    def _on_order(self, method: str, route: re.Match[str], body: Any) -> Answer:
        order_id, part, refund_id = route["order"], route["part"], route["refund"]
        with self._lock:
            order = self._orders.get(order_id)
            if order is None:
                raise _refuse(404, "DATA_NOT_FOUND", f"no order {order_id}")
            if part is None and method == "GET":
                return self._retrieved(order)
            if part is None and method == "DELETE":
                return self._cancel(order)
            if part == "status" and method == "PUT":
                return self._capture(order, body)
            if part == "refunds" and method == "POST" and refund_id is None:
                return self._refund(order, body)
            if part == "refunds" and method == "GET" and refund_id is None:
                refunds = [r.document for r in self._refunds.values() if r.order_id == order_id]
                return Answer(200, {"refunds": refunds})
            if part == "refunds" and method == "GET":
                found = self._refunds.get(refund_id)
                if found is None or found.order_id != order_id:
                    raise _refuse(404, "DATA_NOT_FOUND", f"no refund {refund_id}")
                return Answer(200, dict(found.document))
        raise _refuse(405, "ERROR_SYNTAX", f"{method} is not served here")

    def _retrieved(self, order: _Order) -> Answer:
        answer: dict[str, Any] = {
            "orders": [dict(order.document)],
            **_status("SUCCESS", "Request processing successful"),
        }
        if order.payment_id:
            answer["properties"] = [{"name": "PAYMENT_ID", "value": order.payment_id}]
        return Answer(200, answer)

    def _cancel(self, order: _Order) -> Answer:
        if order.document["status"] in ("COMPLETED", "CANCELED"):
            raise _refuse(400, "ERROR_VALUE_INVALID", f"order is {order.document['status']}")
        order.document["status"] = "CANCELED"
        notification = self._notification_of(order)
        url = order.document.get("notifyUrl")
        return Answer(
            200,
            {
                "orderId": order.document["orderId"],
                "extOrderId": order.document.get("extOrderId"),
                **_status("SUCCESS", "Request processing successful"),
            },
            then=self._after_answer(lambda: self._deliver(url, notification)),
        )

    def _capture(self, order: _Order, body: Any) -> Answer:
        if not isinstance(body, dict) or body.get("orderStatus") != "COMPLETED":
            raise _refuse(400, "ERROR_VALUE_INVALID", "orderStatus must be COMPLETED")
        if body.get("orderId") != order.document["orderId"]:
            raise _refuse(400, "ERROR_VALUE_INVALID", "orderId does not match the path")
        if order.document["status"] != "WAITING_FOR_CONFIRMATION":
            raise _refuse(
                400,
                "ERROR_VALUE_INVALID",
                f"Order status is {order.document['status']}, not WAITING_FOR_CONFIRMATION",
            )
        self._complete(order)
        notification = self._notification_of(order)
        url = order.document.get("notifyUrl")
        return Answer(
            200,
            _status("SUCCESS", "Status was updated"),
            then=self._after_answer(lambda: self._deliver(url, notification)),
        )

    def _refund(self, order: _Order, body: Any) -> Answer:
        request = body.get("refund") if isinstance(body, dict) else None
        if not isinstance(request, dict):
            raise _refuse(
                400, "ERROR_VALUE_MISSING", "Missing refund section", "MISSING_REFUND_SECTION"
            )
        if not isinstance(request.get("description"), str) or not request["description"]:
            raise _refuse(400, "ERROR_VALUE_MISSING", "Missing required field: refund.description")
        if order.document["status"] != "COMPLETED":
            raise _refuse(400, "ERROR_VALUE_INVALID", "Transaction not ended", "TRANS_NOT_ENDED")
        currency = request.get("currencyCode", order.document["currencyCode"])
        if currency != order.document["currencyCode"]:
            raise _refuse(400, "ERROR_VALUE_INVALID", f"currencyCode {currency} is not the order's")
        order_id = order.document["orderId"]
        ours = [r.document for r in self._refunds.values() if r.order_id == order_id]
        refunded = sum(int(r["amount"]) for r in ours if r["status"] != "CANCELED")
        total = int(order.document["totalAmount"])
        amount = (
            _amount(request["amount"], "refund.amount") if "amount" in request else total - refunded
        )
        ext_refund_id = request.get("extRefundId")
        earlier = next(
            (r for r in ours if ext_refund_id and r.get("extRefundId") == ext_refund_id), None
        )
        if earlier is not None:
            if int(earlier["amount"]) != amount:
                raise _refuse(
                    400,
                    "ERROR_VALUE_INVALID",
                    "extRefundId used with other parameters",
                    "REFUND_IDEMPOTENCY_MISMATCH",
                )
            return Answer(200, self._refund_answer(order_id, earlier))
        if amount <= 0:
            raise _refuse(400, "ERROR_VALUE_INVALID", "refund amount too small", "AMOUNT_TO_SMALL")
        if refunded + amount > total:
            raise _refuse(400, "ERROR_VALUE_INVALID", "refund amount too big", "AMOUNT_TO_BIG")
        refund_id = self._new_refund_id()
        document: dict[str, Any] = {
            "refundId": refund_id,
            "amount": str(amount),
            "currencyCode": currency,
            "description": request["description"],
            "creationDateTime": _now(),
            "status": "PENDING",
            "statusDateTime": _now(),
        }
        if ext_refund_id:
            document["extRefundId"] = ext_refund_id
        self._refunds[refund_id] = _Refund(order_id, document)
        then = (
            None
            if self.hold_refunds
            else self._after_answer(lambda: self.complete_refund(refund_id))
        )
        return Answer(200, self._refund_answer(order_id, document), then=then)

    @staticmethod
    def _refund_answer(order_id: str, refund: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "orderId": order_id,
            "refund": dict(refund),
            **_status("SUCCESS", "Refund queued for processing"),
        }

    def _payment_page(self, query: Mapping[str, str]) -> Answer:
        with self._lock:
            order = self._orders.get(query.get("orderId", ""))
            valid = order is not None and secrets.compare_digest(
                order.token, query.get("token", "")
            )
        if not valid or order is None:
            return Answer(404, "<html><body>No such payment</body></html>")
        page = (
            "<html><body><h1>PayU (simulator)</h1>"
            f"<p>Order {order.document['orderId']}: {order.document['totalAmount']} "
            f"{order.document['currencyCode']} ({order.document['status']})</p></body></html>"
        )
        return Answer(200, page)


def _amount(value: Any, name: str) -> int:
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,15}", value):
        return int(value)
    raise _refuse(400, "ERROR_VALUE_INVALID", f"{name} must be a string of minor units")


def _order_id() -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    head = "".join(secrets.choice(alphabet) for _ in range(10))
    return f"{head}{datetime.now(UTC):%y%m%d}GUEST000P01"


def _payment_id() -> str:
    return str(100_000_000 + secrets.randbelow(900_000_000))
