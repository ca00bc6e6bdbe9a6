"""PayPal's side, served over real HTTP on 127.0.0.1: the REST API orderhub calls (OAuth,
Orders v2, Payments v2 refunds, verify-webhook-signature) and the webhooks PayPal sends to the
URL configured in its dashboard (`deliver_to`).

It checks what PayPal checks: client credentials and bearer tokens, required fields, currency
decimals (HUF, JPY and TWD take none), refundable amounts, PayPal-Request-Id idempotency, and
transmissions: its verify API answers SUCCESS only for a transmission it sent itself, to the
configured webhook id, with the event it sent under that transmission id (a well-formed
request otherwise gets FAILURE). Its PAYPAL-TRANSMISSION-SIG is random base64: the verify API
is what vouches for it (PayPal's private key is PayPal's), so offline verification cannot
accept these deliveries.

What the buyer does: `pay(order_id)` approves the order (CHECKOUT.ORDER.APPROVED is sent),
`fail(order_id)` approves it with funding the processor will decline at capture (the capture
answers DECLINED and PAYMENT.CAPTURE.DECLINED is sent). A capture through the API sends
PAYMENT.CAPTURE.COMPLETED; a refund sends PAYMENT.CAPTURE.REFUNDED, unless `hold_refunds` is
set (the refund stays PENDING until `complete_refund`). Notifications caused by an API call go
out from a thread, after the API has answered.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from shared.providers.payments.paypal.amounts import SUPPORTED, paypal_decimals
from shared.providers.payments.paypal.verification import (
    AUTH_ALGO,
    CERT_URL,
    SIGNING_ALGORITHM,
    TRANSMISSION_ID,
    TRANSMISSION_SIG,
    TRANSMISSION_TIME,
    VERIFY_PATH,
    is_paypal_host,
)
from shared.providers.simulation import Answer, ServedApi, SignedRequest

PATH = "/webhooks/payments/paypal"
# What the simulator says it is: PayPal's sandbox (its links carry the sandbox API host).
SANDBOX_API = "https://api.sandbox.paypal.com"
SANDBOX_CERT_URL = f"{SANDBOX_API}/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77"
TOKEN_LIFETIME_SECONDS = 32400
_ID_ALPHABET = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
_VALUE = re.compile(r"[0-9]{1,15}(\.[0-9]+)?")
_CUSTOM_ID = re.compile(r"[A-Za-z0-9\-_.,]{1,127}")
_RESOURCE_TYPES = {
    "CHECKOUT.ORDER.APPROVED": "checkout-order",
    "CHECKOUT.ORDER.COMPLETED": "checkout-order",
    "PAYMENT.CAPTURE.COMPLETED": "capture",
    "PAYMENT.CAPTURE.PENDING": "capture",
    "PAYMENT.CAPTURE.DECLINED": "capture",
    "PAYMENT.CAPTURE.DENIED": "capture",
    "PAYMENT.CAPTURE.REFUNDED": "refund",
    "PAYMENT.SALE.COMPLETED": "sale",
}


def paypal_id(length: int = 17) -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def paypal_time(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _link(href: str, rel: str, method: str = "GET") -> dict[str, str]:
    return {"href": href, "rel": rel, "method": method}


class ApiError(Exception):
    """An error answer, in PayPal's shape."""

    def __init__(self, status: int, name: str, issue: str, description: str) -> None:
        super().__init__(f"{status} {issue}: {description}")
        self.status = status
        self.body = {
            "name": name,
            "message": description,
            "debug_id": secrets.token_hex(7),
            "details": [{"issue": issue, "description": description}],
            "links": [],
        }


def _invalid(issue: str, description: str) -> ApiError:
    return ApiError(400, "INVALID_REQUEST", issue, description)


def _unprocessable(issue: str, description: str) -> ApiError:
    return ApiError(422, "UNPROCESSABLE_ENTITY", issue, description)


def _not_found(what: str) -> ApiError:
    return ApiError(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID", f"{what} does not exist")


@dataclass(frozen=True)
class RecordedRequest:
    """One request the simulated API served."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any  # parsed JSON, a form as a dict, or None

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)


@dataclass(frozen=True)
class Delivery:
    """One notification the simulator tried to send."""

    event_type: str
    event_id: str
    url: str | None
    status_code: int | None = None
    error: str | None = None


@dataclass
class _Sent:
    transmission_sig: str
    transmission_time: str
    body: str  # the event exactly as sent


@dataclass
class _OrderState:
    order: dict[str, Any]
    decline_capture: bool = False
    captured_by: str | None = None  # the PayPal-Request-Id of the capture that did it
    extra: dict[str, Any] = field(default_factory=dict)


class PayPalSimulator(ServedApi):
    path = PATH
    served_name = "paypal"
    served_thread = "paypal-api"
    unserved_url = ""
    served_methods = ("GET", "POST")
    max_request_bytes = None

    def __init__(self, client_id: str, client_secret: str, webhook_id: str) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self._webhook_id = webhook_id
        self._lock = threading.RLock()
        self._webhook_base: str | None = None
        self._tokens: dict[str, float] = {}
        self._orders: dict[str, _OrderState] = {}
        self._captures: dict[str, tuple[str, dict[str, Any]]] = {}  # id -> (order id, capture)
        self._refunds: dict[str, tuple[str, dict[str, Any]]] = {}  # id -> (capture id, refund)
        self._idempotent: dict[tuple[str, str], str] = {}  # (operation, request id) -> id
        self._sent: dict[str, _Sent] = {}  # transmission id -> what was sent under it
        self._http: httpx.Client | None = None  # sends the notifications
        self.hold_refunds = False
        self.requests: list[RecordedRequest] = []
        self.deliveries: list[Delivery] = []

    @classmethod
    def from_secret(cls, document: Mapping[str, Any]) -> PayPalSimulator:
        return cls(
            str(document["client_id"]), str(document["client_secret"]), str(document["webhook_id"])
        )

    # -- the server ---------------------------------------------------------------------------
    def stop(self) -> None:
        super().stop()
        with self._lock:
            http, self._http = self._http, None
        if http is not None:
            http.close()

    def deliver_to(self, webhook_base_url: str) -> None:
        """Where the dashboard-configured webhook points: `<base>/webhooks/payments/paypal`."""
        with self._lock:
            self._webhook_base = webhook_base_url.rstrip("/")

    # -- what the buyer does ------------------------------------------------------------------
    def pay(self, session_id: str, *, method: str | None = None, notify: bool = True) -> None:
        """The buyer approves the order on PayPal's page (Pay Later is offered there too)."""
        self._approve(session_id, decline_capture=False, method=method, notify=notify)

    def fail(self, session_id: str, *, notify: bool = True) -> None:
        """The buyer approves with funding the processor declines when the order is captured."""
        self._approve(session_id, decline_capture=True, method=None, notify=notify)

    def _approve(
        self, order_id: str, *, decline_capture: bool, method: str | None, notify: bool
    ) -> None:
        with self._lock:
            state = self._orders.get(order_id)
            if state is None:
                raise KeyError(f"no PayPal order {order_id}")
            order = state.order
            if order["status"] not in ("CREATED", "PAYER_ACTION_REQUIRED"):
                return
            payer_id = paypal_id(13)
            payer = {
                "name": {"given_name": "Jan", "surname": "Kowalski"},
                "email_address": f"buyer-{payer_id.lower()}@example.com",
                "payer_id": payer_id,
                "address": {"country_code": "PL"},
            }
            wallet = {
                "email_address": payer["email_address"],
                "account_id": payer_id,
                "account_status": "VERIFIED",
                "name": payer["name"],
                "address": payer["address"],
            }
            if method == "pay_later":
                state.extra["funding"] = "PAY_LATER"
            order.update(
                status="APPROVED",
                payer=payer,
                payment_source={"paypal": wallet},
                update_time=paypal_time(),
                links=self._order_links(order_id, approved=True),
            )
            state.decline_capture = decline_capture
            resource = copy.deepcopy(order)
        if notify:
            self._deliver([self.event("CHECKOUT.ORDER.APPROVED", resource)])

    def complete_refund(self, provider_refund_id: str, *, notify: bool = True) -> None:
        """A held refund completes (PayPal sends PAYMENT.CAPTURE.REFUNDED)."""
        with self._lock:
            capture_id, refund = self._refunds[provider_refund_id]
            if refund["status"] != "PENDING":
                return
            refund["status"] = "COMPLETED"
            refund["update_time"] = paypal_time()
            self._settle_capture(capture_id)
            resource = copy.deepcopy(refund)
        if notify:
            self._deliver([self.event("PAYMENT.CAPTURE.REFUNDED", resource)])

    # -- builders -----------------------------------------------------------------------------
    def event(
        self,
        event_type: str,
        resource: dict[str, Any],
        *,
        event_id: str | None = None,
        summary: str | None = None,
    ) -> SignedRequest:
        """A webhook delivery as PayPal sends it: the event (compact JSON) and the transmission
        headers. The simulator remembers the transmission, so its verify API vouches for it."""
        event_id = event_id or f"WH-{paypal_id()}-{paypal_id()}"
        envelope = {
            "id": event_id,
            "event_version": "1.0",
            "create_time": paypal_time(),
            "resource_type": _RESOURCE_TYPES.get(event_type, "unknown"),
            "resource_version": "1.0" if event_type == "PAYMENT.SALE.COMPLETED" else "2.0",
            "event_type": event_type,
            "summary": summary or event_type.replace(".", " ").lower(),
            "resource": resource,
            "links": [
                _link(f"{SANDBOX_API}/v1/notifications/webhooks-events/{event_id}", "self"),
                _link(
                    f"{SANDBOX_API}/v1/notifications/webhooks-events/{event_id}/resend",
                    "resend",
                    "POST",
                ),
            ],
        }
        body = json.dumps(envelope, separators=(",", ":")).encode()
        transmission_id = str(uuid.uuid1())
        transmission_time = paypal_time()
        signature = base64.b64encode(secrets.token_bytes(256)).decode()
        with self._lock:
            self._sent[transmission_id] = _Sent(signature, transmission_time, body.decode())
        return SignedRequest(
            self.path,
            body,
            {
                "Content-Type": "application/json",
                "User-Agent": "PayPal/AUHD-214.0-58391792",
                TRANSMISSION_ID: transmission_id,
                TRANSMISSION_TIME: transmission_time,
                TRANSMISSION_SIG: signature,
                CERT_URL: SANDBOX_CERT_URL,
                AUTH_ALGO: SIGNING_ALGORITHM,
                "PAYPAL-AUTH-VERSION": "v2",
            },
        )

    @staticmethod
    def capture_resource(
        order_reference: str,
        value: str,
        currency: str = "PLN",
        *,
        status: str = "COMPLETED",
        paypal_order_id: str | None = None,
        capture_id: str | None = None,
    ) -> dict[str, Any]:
        """A Payments v2 capture as PAYMENT.CAPTURE.* carries it."""
        capture_id = capture_id or paypal_id()
        capture: dict[str, Any] = {
            "id": capture_id,
            "amount": {"currency_code": currency, "value": value},
            "final_capture": True,
            "seller_protection": {"status": "ELIGIBLE"},
            "custom_id": order_reference,
            "status": status,
            "create_time": paypal_time(),
            "update_time": paypal_time(),
            "links": [
                _link(f"{SANDBOX_API}/v2/payments/captures/{capture_id}", "self"),
                _link(f"{SANDBOX_API}/v2/payments/captures/{capture_id}/refund", "refund", "POST"),
            ],
        }
        if paypal_order_id:
            capture["supplementary_data"] = {"related_ids": {"order_id": paypal_order_id}}
            capture["links"].append(
                _link(f"{SANDBOX_API}/v2/checkout/orders/{paypal_order_id}", "up")
            )
        if status == "PENDING":
            capture["status_details"] = {"reason": "PENDING_REVIEW"}
        return capture

    @staticmethod
    def refund_resource(
        capture_id: str,
        value: str,
        currency: str = "PLN",
        *,
        status: str = "COMPLETED",
        refund_id: str | None = None,
        custom_id: str | None = None,
        invoice_id: str | None = None,
    ) -> dict[str, Any]:
        """A Payments v2 refund as PAYMENT.CAPTURE.REFUNDED carries it."""
        refund_id = refund_id or paypal_id()
        refund: dict[str, Any] = {
            "id": refund_id,
            "amount": {"currency_code": currency, "value": value},
            "status": status,
            "create_time": paypal_time(),
            "update_time": paypal_time(),
            "links": [
                _link(f"{SANDBOX_API}/v2/payments/refunds/{refund_id}", "self"),
                _link(f"{SANDBOX_API}/v2/payments/captures/{capture_id}", "up"),
            ],
        }
        if custom_id:
            refund["custom_id"] = custom_id
        if invoice_id:
            refund["invoice_id"] = invoice_id
        return refund

    @staticmethod
    def order_resource(
        order_reference: str,
        value: str,
        currency: str = "PLN",
        *,
        status: str = "APPROVED",
        paypal_order_id: str | None = None,
        reference_id: str | None = None,
    ) -> dict[str, Any]:
        """An Orders v2 order as CHECKOUT.ORDER.APPROVED carries it."""
        order_id = paypal_order_id or paypal_id()
        return {
            "id": order_id,
            "intent": "CAPTURE",
            "status": status,
            "payment_source": {"paypal": {"account_status": "VERIFIED"}},
            "purchase_units": [
                {
                    "reference_id": reference_id or "default",
                    "amount": {"currency_code": currency, "value": value},
                    "custom_id": order_reference,
                }
            ],
            "create_time": paypal_time(),
            "links": [_link(f"{SANDBOX_API}/v2/checkout/orders/{order_id}", "self")],
        }

    # -- state for tests ----------------------------------------------------------------------
    def order(self, order_id: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._orders[order_id].order)

    def refund_of(self, provider_refund_id: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._refunds[provider_refund_id][1])

    # -- the API ------------------------------------------------------------------------------
    def handle(
        self, method: str, path: str, query: dict[str, str], headers: Mapping[str, str], raw: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        """One API request: (status, JSON body, extra headers). Called by the HTTP handler."""
        body = _parse_body(headers, raw)
        with self._lock:
            self.requests.append(RecordedRequest(method, path, query, dict(headers), body))
        lowered = {k.lower(): v for k, v in headers.items()}
        try:
            if method == "GET" and path == "/checkoutnow":
                return self._checkout_page(query)
            if method == "POST" and path == "/v1/oauth2/token":
                return 200, self._token(lowered, body), {}
            self._authorize(lowered)
            if method == "POST" and path == VERIFY_PATH:
                return 200, self._verify(body, raw), {}
            return self._route(method, path, lowered, body)
        except ApiError as error:
            return error.status, error.body, {}

    def _respond(self, method: str, target: str, headers: dict[str, str], raw: bytes, /) -> Answer:
        url = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        status, body, extra = self.handle(method, url.path, query, headers, raw)
        return Answer(status, body, extra)

    def _served_headers(self) -> dict[str, str]:
        return {"Paypal-Debug-Id": secrets.token_hex(7)}

    def _route(
        self, method: str, path: str, headers: dict[str, str], body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        request_id = headers.get("paypal-request-id")
        if request_id is not None and not 1 <= len(request_id) <= 108:
            raise _invalid("INVALID_STRING_LENGTH", "PayPal-Request-Id is 1 to 108 characters")
        parts = path.strip("/").split("/")
        shape = (method, "/".join(parts[:3]), len(parts), parts[4] if len(parts) == 5 else None)
        ident = parts[3] if len(parts) > 3 else ""
        if shape == ("POST", "v2/checkout/orders", 3, None):
            return self._create_order(body, request_id)
        if shape == ("GET", "v2/checkout/orders", 4, None):
            return 200, self.order_or_404(ident), {}
        if shape == ("POST", "v2/checkout/orders", 5, "capture"):
            return self._capture(ident, request_id)
        if shape == ("POST", "v2/payments/captures", 5, "refund"):
            return self._refund(ident, body, request_id)
        if shape[:3] in (("GET", "v2/payments/captures", 4), ("GET", "v2/payments/refunds", 4)):
            return 200, self._stored(parts[2], ident), {}
        raise ApiError(404, "NOT_FOUND", "NOT_FOUND", f"{method} {path} is not an API")

    def _stored(self, collection: str, ident: str) -> dict[str, Any]:
        with self._lock:
            kept = (self._captures if collection == "captures" else self._refunds).get(ident)
            if kept is None:
                raise _not_found(f"{collection[:-1]} {ident}")
            return copy.deepcopy(kept[1])

    def _token(self, headers: dict[str, str], body: Any) -> dict[str, Any]:
        expected = base64.b64encode(f"{self._client_id}:{self._client_secret}".encode()).decode()
        if headers.get("authorization") != f"Basic {expected}":
            raise _OAuthError(401, "invalid_client", "Client Authentication failed")
        if not isinstance(body, dict) or body.get("grant_type") != "client_credentials":
            raise _OAuthError(400, "unsupported_grant_type", "Grant Type is NULL or unsupported")
        token = f"A21AA{secrets.token_urlsafe(48)}"
        with self._lock:
            self._tokens[token] = time.monotonic() + TOKEN_LIFETIME_SECONDS
        return {
            "scope": "https://uri.paypal.com/services/payments/payment "
            "https://uri.paypal.com/services/applications/webhooks",
            "access_token": token,
            "token_type": "Bearer",
            "app_id": "APP-80W284485P519543T",
            "expires_in": TOKEN_LIFETIME_SECONDS,
            "nonce": f"{paypal_time()}{secrets.token_hex(8)}",
        }

    def _authorize(self, headers: dict[str, str]) -> None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        with self._lock:
            expiry = self._tokens.get(token) if scheme == "Bearer" else None
        if expiry is None or expiry < time.monotonic():
            raise _OAuthError(401, "invalid_token", "Token signature verification failed")

    def expire_tokens(self) -> None:
        """Every issued token stops working (PayPal revoked them, or they ran out)."""
        with self._lock:
            self._tokens.clear()

    # -- orders -------------------------------------------------------------------------------
    def order_or_404(self, order_id: str) -> dict[str, Any]:
        with self._lock:
            state = self._orders.get(order_id)
            if state is None:
                raise _not_found(f"order {order_id}")
            return copy.deepcopy(state.order)

    def _order_links(self, order_id: str, *, approved: bool) -> list[dict[str, str]]:
        own = f"{SANDBOX_API}/v2/checkout/orders/{order_id}"
        if approved:
            return [
                _link(own, "self"),
                _link(own, "update", "PATCH"),
                _link(f"{own}/capture", "capture", "POST"),
            ]
        return [
            _link(own, "self"),
            _link(f"{self.base_url}/checkoutnow?token={order_id}", "payer-action"),
        ]

    def _create_order(self, body: Any, request_id: str | None) -> tuple[int, Any, dict[str, str]]:
        if request_id is not None:
            with self._lock:
                known = self._idempotent.get(("create", request_id))
                if known is not None:
                    return 200, copy.deepcopy(self._orders[known].order), {}
        unit, amount, context = _order_request(body)
        order_id = paypal_id()
        stored_unit: dict[str, Any] = {
            "reference_id": unit.get("reference_id") or "default",
            "amount": amount,
            "payee": {"email_address": "merchant@example.com", "merchant_id": "C7CYMKZDG8D6E"},
        }
        for name in ("custom_id", "invoice_id", "description"):
            if unit.get(name):
                stored_unit[name] = unit[name]
        order = {
            "id": order_id,
            "intent": "CAPTURE",
            "status": "PAYER_ACTION_REQUIRED",
            "payment_source": {"paypal": {}},
            "purchase_units": [stored_unit],
            "create_time": paypal_time(),
            "links": self._order_links(order_id, approved=False),
        }
        with self._lock:
            if request_id is not None:
                known = self._idempotent.get(("create", request_id))
                if known is not None:  # the same request raced this one
                    return 200, copy.deepcopy(self._orders[known].order), {}
                self._idempotent[("create", request_id)] = order_id
            self._orders[order_id] = _OrderState(order, extra={"context": context})
            return 201, copy.deepcopy(order), {}

    def _checkout_page(self, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        """The buyer lands on PayPal's approval page and approves: back to return_url."""
        order_id = query.get("token", "")
        with self._lock:
            state = self._orders.get(order_id)
            return_url = state.extra["context"]["return_url"] if state else None
        if state is None or return_url is None:
            raise _not_found(f"order {order_id}")
        self.pay(order_id)
        with self._lock:
            payer_id = state.order.get("payer", {}).get("payer_id", "")
        separator = "&" if "?" in return_url else "?"
        location = f"{return_url}{separator}{urlencode({'token': order_id, 'PayerID': payer_id})}"
        return 302, {"redirect": location}, {"Location": location}

    def _capture(self, order_id: str, request_id: str | None) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            state = self._orders.get(order_id)
            if state is None:
                raise _not_found(f"order {order_id}")
            order = state.order
            if state.captured_by is not None:
                if request_id is not None and request_id == state.captured_by:
                    return 200, copy.deepcopy(order), {}
                raise _unprocessable(
                    "ORDER_ALREADY_CAPTURED",
                    "Order already captured. If 'intent=CAPTURE' only "
                    "one capture per order is allowed.",
                )
            if order["status"] != "APPROVED":
                raise _unprocessable(
                    "ORDER_NOT_APPROVED",
                    "Payer has not yet approved the Order for payment. Please redirect the "
                    "payer to the 'rel':'approve' url returned as part of the HATEOAS links "
                    "within the Create Order call or provide a valid payment_source.",
                )
            unit = order["purchase_units"][0]
            capture = self.capture_resource(
                unit.get("custom_id", ""),
                unit["amount"]["value"],
                unit["amount"]["currency_code"],
                status="DECLINED" if state.decline_capture else "COMPLETED",
                paypal_order_id=order_id,
            )
            if not unit.get("custom_id"):
                del capture["custom_id"]
            if unit.get("invoice_id"):
                capture["invoice_id"] = unit["invoice_id"]
            if capture["status"] == "COMPLETED":
                fee = Decimal(0)
                gross = unit["amount"]
                capture["seller_receivable_breakdown"] = {
                    "gross_amount": gross,
                    "paypal_fee": {
                        "currency_code": gross["currency_code"],
                        "value": _text_of(fee, gross["currency_code"]),
                    },
                    "net_amount": gross,
                }
            unit["payments"] = {"captures": [capture]}
            order["status"] = "COMPLETED"
            order["update_time"] = paypal_time()
            order["links"] = [_link(f"{SANDBOX_API}/v2/checkout/orders/{order_id}", "self")]
            state.captured_by = request_id or f"capture-{paypal_id()}"
            self._captures[capture["id"]] = (order_id, capture)
            answer = copy.deepcopy(order)
            kind = "COMPLETED" if capture["status"] == "COMPLETED" else "DECLINED"
            resource = copy.deepcopy(capture)
        self._deliver_later([("PAYMENT.CAPTURE." + kind, resource)])
        return 201, answer, {}

    # -- refunds ------------------------------------------------------------------------------
    def _refund(
        self, capture_id: str, body: Any, request_id: str | None
    ) -> tuple[int, Any, dict[str, str]]:
        document = body if isinstance(body, dict) else {}
        with self._lock:
            if request_id is not None:
                known = self._idempotent.get(("refund", request_id))
                if known is not None:
                    return 200, copy.deepcopy(self._refunds[known][1]), {}
            found = self._captures.get(capture_id)
            if found is None:
                raise _not_found(f"capture {capture_id}")
            value, currency = self._refundable(capture_id, found[1], document)
            custom_id, invoice_id = self._refund_references(document)
            refund = self.refund_resource(
                capture_id,
                _text_of(value, currency),
                currency,
                status="PENDING" if self.hold_refunds else "COMPLETED",
                custom_id=custom_id,
                invoice_id=invoice_id,
            )
            if document.get("note_to_payer"):
                refund["note_to_payer"] = document["note_to_payer"]
            self._refunds[refund["id"]] = (capture_id, refund)
            if request_id is not None:
                self._idempotent[("refund", request_id)] = refund["id"]
            self._settle_capture(capture_id)
            answer = copy.deepcopy(refund)
            notify = refund["status"] == "COMPLETED"
        if notify:
            self._deliver_later([("PAYMENT.CAPTURE.REFUNDED", answer)])
        return 201, answer, {}

    def _refundable(
        self, capture_id: str, capture: dict[str, Any], document: dict[str, Any]
    ) -> tuple[Decimal, str]:
        """What the refund request may return of this capture: (amount, currency)."""
        if capture["status"] == "PENDING":
            raise _unprocessable(
                "PENDING_CAPTURE", "Cannot initiate a refund as the capture is pending."
            )
        if capture["status"] == "REFUNDED":
            raise _unprocessable(
                "CAPTURE_FULLY_REFUNDED", "The capture has already been fully refunded"
            )
        if capture["status"] not in ("COMPLETED", "PARTIALLY_REFUNDED"):
            raise _unprocessable("REFUND_NOT_ALLOWED", f"the capture is {capture['status']}")
        currency = capture["amount"]["currency_code"]
        remaining = _decimal(capture["amount"]["value"]) - self._refunded(capture_id)
        value = remaining
        if "amount" in document:
            amount = _money(document["amount"], "amount")
            if amount["currency_code"] != currency:
                raise _unprocessable(
                    "REFUND_CAPTURE_CURRENCY_MISMATCH",
                    "Refund must be in the same currency as the capture",
                )
            value = _decimal(amount["value"])
        if value > remaining or value <= 0:
            raise _unprocessable(
                "REFUND_AMOUNT_EXCEEDED",
                "The refund amount must be less than or equal to the capture amount that "
                "has not yet been refunded.",
            )
        return value, currency

    def _refund_references(self, document: dict[str, Any]) -> tuple[str | None, str | None]:
        """custom_id (PayPal's pattern) and invoice_id (unused by any earlier refund)."""
        custom_id = document.get("custom_id")
        if custom_id is not None and (
            not isinstance(custom_id, str) or not _CUSTOM_ID.fullmatch(custom_id)
        ):
            raise _invalid("INVALID_PARAMETER_SYNTAX", "custom_id")
        _text(document, "invoice_id", 127)
        _text(document, "note_to_payer", 255)
        invoice_id = document.get("invoice_id")
        if invoice_id and any(r.get("invoice_id") == invoice_id for _, r in self._refunds.values()):
            raise _unprocessable(
                "DUPLICATE_INVOICE_ID", "Invoice ID was previously used to refund a capture."
            )
        return custom_id, invoice_id

    def _refunded(self, capture_id: str, *, completed_only: bool = False) -> Decimal:
        statuses = ("COMPLETED",) if completed_only else ("COMPLETED", "PENDING")
        return sum(
            (
                _decimal(refund["amount"]["value"])
                for owner, refund in self._refunds.values()
                if owner == capture_id and refund["status"] in statuses
            ),
            Decimal(0),
        )

    def _settle_capture(self, capture_id: str) -> None:
        _, capture = self._captures[capture_id]
        refunded = self._refunded(capture_id, completed_only=True)
        if refunded <= 0:
            return
        whole = refunded >= _decimal(capture["amount"]["value"])
        capture["status"] = "REFUNDED" if whole else "PARTIALLY_REFUNDED"
        capture["update_time"] = paypal_time()

    # -- webhooks -----------------------------------------------------------------------------
    def _verify(self, body: Any, raw: bytes) -> dict[str, str]:
        """SUCCESS for a transmission this simulator sent, to the configured webhook, with the
        event byte for byte as sent (PayPal's signature covers a CRC32 of those bytes, so a
        re-encoded event fails there too); FAILURE for any other well-formed request."""
        names = (
            "auth_algo",
            "cert_url",
            "transmission_id",
            "transmission_sig",
            "transmission_time",
            "webhook_id",
        )
        if not isinstance(body, dict):
            raise _invalid("MALFORMED_REQUEST_JSON", "The request JSON is not well formed.")
        for name in (*names, "webhook_event"):
            if name not in body:
                raise ApiError(
                    400, "VALIDATION_ERROR", "MISSING_REQUIRED_PARAMETER", f"{name} is required"
                )
        if not all(isinstance(body[n], str) for n in names) or not isinstance(
            body["webhook_event"], dict
        ):
            raise ApiError(400, "VALIDATION_ERROR", "INVALID_PARAMETER_SYNTAX", "field types")
        with self._lock:
            sent = self._sent.get(body["transmission_id"])
        well_formed = (
            body["auth_algo"] == SIGNING_ALGORITHM
            and is_paypal_host(body["cert_url"])
            and _is_time(body["transmission_time"])
            and body["webhook_id"] == self._webhook_id
        )
        genuine = (
            sent is not None
            and sent.transmission_sig == body["transmission_sig"]
            and sent.transmission_time == body["transmission_time"]
            and _raw_members(raw).get("webhook_event") == sent.body
        )
        return {"verification_status": "SUCCESS" if well_formed and genuine else "FAILURE"}

    def _deliver_later(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        """Notifications an API call caused: sent from a thread, after the call answered."""

        def send() -> None:
            time.sleep(0.01)
            self._deliver([self.event(kind, resource) for kind, resource in events])

        threading.Thread(target=send, name="paypal-webhooks", daemon=True).start()

    def _deliver(self, requests: list[SignedRequest]) -> None:
        with self._lock:
            base = self._webhook_base
            if self._http is None:
                self._http = httpx.Client(timeout=10.0)
            http = self._http
        for request in requests:
            event = json.loads(request.body)
            url = f"{base}{request.path}" if base else None
            if url is None:
                self._record(Delivery(event["event_type"], event["id"], None, error="no URL"))
                continue
            try:
                response = http.post(url, content=request.body, headers=request.headers)
            except (httpx.HTTPError, RuntimeError) as error:  # RuntimeError: stopped meanwhile
                self._record(Delivery(event["event_type"], event["id"], url, error=str(error)))
                continue
            self._record(Delivery(event["event_type"], event["id"], url, response.status_code))

    def _record(self, delivery: Delivery) -> None:
        with self._lock:
            self.deliveries.append(delivery)


class _OAuthError(ApiError):
    """OAuth endpoints answer in OAuth's shape, not PayPal's."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(status, error, error, description)
        self.body = {"error": error, "error_description": description}


# -- helpers ---------------------------------------------------------------------------------------


def _parse_body(headers: Mapping[str, str], raw: bytes) -> Any:
    if not raw:
        return None
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    if "application/x-www-form-urlencoded" in content_type:
        return {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return raw.decode("utf-8", "replace")


def _order_request(body: Any) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    """A create-order request checked as PayPal checks it: (purchase unit, amount, context)."""
    if not isinstance(body, dict):
        raise _invalid("MALFORMED_REQUEST_JSON", "The request JSON is not well formed.")
    if body.get("intent") != "CAPTURE":
        raise _unprocessable("UNSUPPORTED_INTENT", "intent must be CAPTURE here")
    units = body.get("purchase_units")
    if not isinstance(units, list) or len(units) != 1 or not isinstance(units[0], dict):
        raise _invalid("INVALID_PARAMETER_VALUE", "one purchase unit is supported")
    unit = units[0]
    amount = _money(unit.get("amount"), "purchase_units[0].amount")
    for name, limit in (("custom_id", 127), ("invoice_id", 127), ("description", 127)):
        _text(unit, name, limit)
    _text(unit, "reference_id", 256)
    source = body.get("payment_source")
    wallet = source.get("paypal") if isinstance(source, dict) else None
    context = wallet.get("experience_context") if isinstance(wallet, dict) else None
    if not isinstance(context, dict):
        raise _invalid("MISSING_REQUIRED_PARAMETER", "payment_source.paypal.experience_context")
    for name, issue in (
        ("return_url", "RETURN_URL_REQUIRED"),
        ("cancel_url", "CANCEL_URL_REQUIRED"),
    ):
        url = context.get(name)
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise _unprocessable(issue, f"experience_context.{name} is required")
    for name, allowed in (
        ("user_action", {"CONTINUE", "PAY_NOW"}),
        ("shipping_preference", {"GET_FROM_FILE", "NO_SHIPPING", "SET_PROVIDED_ADDRESS"}),
        ("landing_page", {"LOGIN", "GUEST_CHECKOUT", "NO_PREFERENCE"}),
    ):
        if name in context and context[name] not in allowed:
            raise _invalid("INVALID_PARAMETER_VALUE", f"experience_context.{name}")
    return unit, amount, context


def _raw_members(raw: bytes) -> dict[str, str]:
    """The text of each top-level member's value of a JSON object, as written."""
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        return {}
    decoder = json.JSONDecoder()
    members: dict[str, str] = {}
    position = _skip(text, 0)
    if text[position : position + 1] != "{":
        return {}
    position = _skip(text, position + 1)
    try:
        while position < len(text) and text[position] != "}":
            key, position = decoder.raw_decode(text, position)
            position = _skip(text, position)
            if text[position] != ":":
                return {}
            start = _skip(text, position + 1)
            _, end = decoder.raw_decode(text, start)
            members[str(key)] = text[start:end]
            position = _skip(text, end)
            if text[position : position + 1] == ",":
                position = _skip(text, position + 1)
    except (ValueError, IndexError, RecursionError):
        return {}
    return members


def _skip(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _decimal(value: str) -> Decimal:
    try:
        return Decimal(value)
    except InvalidOperation as error:
        raise _invalid("INVALID_PARAMETER_SYNTAX", f"{value!r} is not an amount") from error


def _text_of(value: Decimal, currency: str) -> str:
    return f"{value.quantize(Decimal(1).scaleb(-paypal_decimals(currency))):f}"


def _money(document: Any, where: str) -> dict[str, str]:
    """A `money` object checked as PayPal checks it (currency, decimals, positive)."""
    if not isinstance(document, dict):
        raise _invalid("MISSING_REQUIRED_PARAMETER", f"{where} is required")
    currency, value = document.get("currency_code"), document.get("value")
    if not isinstance(currency, str) or not isinstance(value, str):
        raise _invalid("MISSING_REQUIRED_PARAMETER", f"{where}.currency_code and .value")
    if currency not in SUPPORTED:
        raise _unprocessable("INVALID_CURRENCY_CODE", f"{currency} is not supported")
    if not _VALUE.fullmatch(value):
        raise _invalid("INVALID_PARAMETER_SYNTAX", f"{where}.value {value!r}")
    decimals = len(value.partition(".")[2])
    if decimals > paypal_decimals(currency):
        issue = "DECIMALS_NOT_SUPPORTED" if paypal_decimals(currency) == 0 else "DECIMAL_PRECISION"
        raise _unprocessable(issue, f"{currency} takes {paypal_decimals(currency)} decimals")
    if _decimal(value) <= 0:
        raise _unprocessable("CANNOT_BE_ZERO_OR_NEGATIVE", f"{where}.value must be positive")
    return {"currency_code": currency, "value": value}


def _text(document: dict[str, Any], name: str, limit: int) -> None:
    value = document.get(name)
    if value is None:
        return
    if not isinstance(value, str) or not 1 <= len(value) <= limit:
        raise _invalid("INVALID_STRING_LENGTH", f"{name} is 1 to {limit} characters")


def _is_time(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True
