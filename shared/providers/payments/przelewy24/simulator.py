"""Przelewy24's side: the REST API v1 over real HTTP on 127.0.0.1, the buyer's actions on the
payment page, and the notifications P24 sends, signed as P24 signs them.

What it checks is what the documented API checks (developers.przelewy24.pl, OpenAPI 1.0.16):
basic auth posId:apiKey (401 {"error": "Incorrect authentication", "code": 401}); required
fields, their types and maximum lengths; the merchantId and posId; every `sign` with the CRC
key; a sessionId used once; at verify, the amount, currency and orderId of the registration and
the payment; at refund, a requestId used once, the transaction's status and what is left to
return (400 "Request already exists", 409 per-refund messages, as documented). Where P24
documents only "Invalid input data" (a repeated sessionId at register, a repeated verify), that
is the answer.

The buyer's side, as P24 documents it:
- `pay(token)`: the transaction becomes an advance payment (status 1) and P24 POSTs the
  transaction notification to the registration's urlStatus. Until the merchant verifies it,
  P24 sends it again after 3, 5, 15, 30, 60, 150 and 450 minutes: `resend(token)` is one such
  delivery (the same bytes).
- `fail(token)`: "The system does not send information on invalid or failed payments": nothing
  is sent and the transaction stays at status 0 (the buyer may still pay it).
- A refund request is answered 201, then the refund completes and its notification (status 0)
  goes to the refund's urlStatus (else the panel's default address, `deliver_to`), unless
  `hold_refunds` is set; then `complete_refund(request_id)` does it (`rejected=True`: status 1).
P24's notification bodies are PHP's default json_encode (slashes and non-ASCII escaped); the
sign is over the unescaped values (JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES).
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

from shared.providers.payments.przelewy24.signing import (
    NOTIFICATION_FIELDS,
    REFUND_NOTIFICATION_FIELDS,
    register_sign,
    sign,
    signs_match,
    verify_sign,
)
from shared.providers.simulation import Answer as Served
from shared.providers.simulation import ServedApi, SignedRequest

WEBHOOK_PATH = "/webhooks/payments/przelewy24"

# The method id a payment gets when the buyer pays with orderhub's method (see events.py for
# where the ids come from); 25 is mBank mTransfer, a pay-by-link.
METHOD_IDS = {
    "blik": 154,
    "card": 241,
    "bank_link": 25,
    "apple_pay": 252,
    "google_pay": 264,
}
_CHANNEL_METHODS = {4096: 241, 64: 25, 8192: 154}

_PAYMENT_PAGE = b"<html><body>Przelewy24 (simulated)</body></html>"
_INVALID = {"error": "Invalid input data", "code": 400}
_UNAUTHORIZED = {"error": "Incorrect authentication", "code": 401}
_NOT_FOUND = {"error": "Transaction not found", "responseCode": 0}

# (field, type, required, max length) per TransactionRequestBody1 / TransactionVerificationBody.
_REGISTER_FIELDS: tuple[tuple[str, type, bool, int | None], ...] = (
    ("merchantId", int, True, None),
    ("posId", int, True, None),
    ("sessionId", str, True, 100),
    ("amount", int, True, None),
    ("currency", str, True, 3),
    ("description", str, True, 1024),
    ("email", str, True, 50),
    ("client", str, False, 40),
    ("country", str, True, 2),
    ("phone", str, False, 12),
    ("language", str, True, 2),
    ("method", int, False, None),
    ("urlReturn", str, True, 250),
    ("urlStatus", str, False, 250),
    ("timeLimit", int, False, None),
    ("channel", int, False, None),
    ("sign", str, True, 100),
)
_VERIFY_FIELDS: tuple[tuple[str, type, bool, int | None], ...] = (
    ("merchantId", int, True, None),
    ("posId", int, True, None),
    ("sessionId", str, True, 100),
    ("amount", int, True, None),
    ("currency", str, True, 3),
    ("orderId", int, True, None),
    ("sign", str, True, None),
)


def _valid(body: Any, fields: tuple[tuple[str, type, bool, int | None], ...]) -> bool:
    if not isinstance(body, dict):
        return False
    for name, kind, required, max_length in fields:
        if name not in body:
            if required:
                return False
            continue
        value = body[name]
        # JSON true is not a number, and 10.0 is not an integer, for P24 as for PHP's is_int.
        if type(value) is not kind:
            return False
        if max_length is not None and isinstance(value, str) and len(value) > max_length:
            return False
    return True


def _php_default_json(document: Mapping[str, Any]) -> bytes:
    """PHP's json_encode without flags: compact, "/" as "\\/", non-ASCII as \\uXXXX."""
    return json.dumps(document, separators=(",", ":")).replace("/", "\\/").encode()


def _p24_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class ServedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any  # the parsed JSON body, or None


@dataclass
class Transaction:
    """One registered transaction as P24 holds it."""

    token: str
    session_id: str
    amount: int
    currency: str
    description: str
    email: str
    url_return: str
    url_status: str | None
    method: int | None
    channel: int | None
    registered_at: datetime
    order_id: int = 0  # P24's transaction number, assigned when the buyer pays
    status: int = 0  # 0 no payment, 1 advance payment, 2 payment made, 3 payment returned
    method_id: int = 0
    statement: str = ""
    paid_at: datetime | None = None
    refunded: int = 0
    failed_attempts: int = 0
    notification: SignedRequest | None = None


@dataclass
class Refund:
    request_id: str
    refunds_uuid: str
    order_id: int
    session_id: str
    amount: int
    currency: str
    description: str
    url_status: str | None
    batch_id: int
    requested_at: datetime
    status: int = 2  # as refund/by/orderId lists it: 1 completed, 2 pending, 4 rejected
    notification: SignedRequest | None = field(default=None, repr=False)


Answer = tuple[int, Any, Callable[[], None] | None]


class Przelewy24Simulator(ServedApi):
    path = WEBHOOK_PATH
    served_name = "przelewy24"
    served_thread = "przelewy24-api"
    served_methods = ("GET", "POST", "PUT")
    max_request_bytes = None

    def __init__(self, merchant_id: int, pos_id: int, crc: str, api_key: str) -> None:
        self.merchant_id = merchant_id
        self.pos_id = pos_id
        self._crc = crc
        self._api_key = api_key
        self._lock = threading.RLock()
        self._transactions: dict[str, Transaction] = {}  # by token
        self._refunds: dict[str, Refund] = {}  # by requestId
        self._order_ids = itertools.count(316_000_001)
        self._batch_ids = itertools.count(9_000_001)
        self._default_url: str | None = None
        self.hold_refunds = False
        self.requests: list[ServedRequest] = []
        self.deliveries: list[tuple[str, int | str]] = []  # (url, HTTP status or error)

    @classmethod
    def from_secret(cls, document: Mapping[str, Any]) -> Przelewy24Simulator:
        return cls(
            merchant_id=int(str(document["merchant_id"]).strip()),
            pos_id=int(str(document["pos_id"]).strip()),
            crc=str(document["crc"]),
            api_key=str(document["api_key"]),
        )

    def deliver_to(self, webhook_base_url: str) -> None:
        """The panel's default notification address (used when a request names none)."""
        self._default_url = webhook_base_url.rstrip("/") + WEBHOOK_PATH

    # -- notifications, as P24 builds them -----------------------------------------------------
    def transaction_notification(
        self,
        *,
        session_id: str,
        order_id: int,
        amount: int,
        currency: str = "PLN",
        method_id: int = 154,
        origin_amount: int | None = None,
        statement: str | None = None,
        merchant_id: int | None = None,
        pos_id: int | None = None,
    ) -> SignedRequest:
        values: dict[str, Any] = {
            "merchantId": self.merchant_id if merchant_id is None else merchant_id,
            "posId": self.pos_id if pos_id is None else pos_id,
            "sessionId": session_id,
            "amount": amount,
            "originAmount": amount if origin_amount is None else origin_amount,
            "currency": currency,
            "orderId": order_id,
            "methodId": method_id,
            "statement": f"p24-{order_id}" if statement is None else statement,
        }
        values["sign"] = sign(NOTIFICATION_FIELDS, values, self._crc)
        return SignedRequest(
            WEBHOOK_PATH, _php_default_json(values), {"Content-Type": "application/json"}
        )

    def refund_notification(
        self,
        *,
        order_id: int,
        session_id: str,
        refunds_uuid: str,
        request_id: str,
        amount: int,
        currency: str = "PLN",
        status: int = 0,
        timestamp: int | None = None,
        merchant_id: int | None = None,
    ) -> SignedRequest:
        values: dict[str, Any] = {
            "orderId": order_id,
            "sessionId": session_id,
            "merchantId": self.merchant_id if merchant_id is None else merchant_id,
            "requestId": request_id,
            "refundsUuid": refunds_uuid,
            "amount": amount,
            "currency": currency,
            "timestamp": int(time.time()) if timestamp is None else timestamp,
            "status": status,
        }
        values["sign"] = sign(REFUND_NOTIFICATION_FIELDS, values, self._crc)
        return SignedRequest(
            WEBHOOK_PATH, _php_default_json(values), {"Content-Type": "application/json"}
        )

    # -- the buyer on P24's payment page -------------------------------------------------------
    def transaction(self, session_id: str) -> Transaction:
        """A transaction by its token (the gateway's session_id) or its sessionId."""
        with self._lock:
            found = self._transactions.get(session_id) or next(
                (t for t in self._transactions.values() if t.session_id == session_id), None
            )
        if found is None:
            raise KeyError(f"no transaction registered as {session_id!r}")
        return found

    def pay(
        self, session_id: str, *, method: str | None = None, notify: bool = True
    ) -> SignedRequest:
        """The buyer pays: an advance payment (status 1) until the merchant verifies it."""
        with self._lock:
            found = self.transaction(session_id)
            if found.status != 0:
                raise ValueError(f"transaction {found.session_id} is paid already")
            if method is not None:
                method_id = METHOD_IDS[method]
            elif found.method:
                method_id = found.method
            else:
                method_id = _CHANNEL_METHODS.get(found.channel or 0, METHOD_IDS["blik"])
            found.order_id = next(self._order_ids)
            found.status, found.method_id = 1, method_id
            found.statement = f"p24-{found.order_id}"
            found.paid_at = datetime.now(UTC)
            found.notification = self.transaction_notification(
                session_id=found.session_id,
                order_id=found.order_id,
                amount=found.amount,
                currency=found.currency,
                method_id=method_id,
                statement=found.statement,
            )
            notification, url = found.notification, found.url_status or self._default_url
        if notify:
            self._deliver(url, notification)
        return notification

    def fail(self, session_id: str, notify: bool = True) -> None:
        """The payment failed: P24 sends nothing for failed payments (notify changes nothing);
        the transaction stays unpaid (status 0)."""
        with self._lock:
            self.transaction(session_id).failed_attempts += 1

    def resend(self, session_id: str) -> SignedRequest:
        """P24's repeat of an unverified payment's notification (after 3, 5, 15 ... min)."""
        with self._lock:
            found = self.transaction(session_id)
            if found.status != 1 or found.notification is None:
                raise ValueError(f"transaction {found.session_id} has no unverified payment")
            notification, url = found.notification, found.url_status or self._default_url
        self._deliver(url, notification)
        return notification

    def complete_refund(
        self, provider_refund_id: str, notify: bool = True, *, rejected: bool = False
    ) -> SignedRequest:
        """The refund is done (or rejected) and its notification sent."""
        with self._lock:
            refund = self._refunds[provider_refund_id]
            if refund.status == 2:
                refund.status = 4 if rejected else 1
                if rejected:
                    transaction = self._by_order_id(refund.order_id)
                    if transaction is not None:
                        transaction.refunded -= refund.amount
                        transaction.status = 2
            refund.notification = self.refund_notification(
                order_id=refund.order_id,
                session_id=refund.session_id,
                refunds_uuid=refund.refunds_uuid,
                request_id=refund.request_id,
                amount=refund.amount,
                currency=refund.currency,
                status=1 if refund.status == 4 else 0,
            )
            notification, url = refund.notification, refund.url_status or self._default_url
        if notify:
            self._deliver(url, notification)
        return notification

    def _deliver(self, url: str | None, notification: SignedRequest) -> None:
        outcome: int | str
        if url is None:
            url, outcome = "", "no urlStatus and no default address"
        else:
            try:
                response = httpx.post(
                    url, content=notification.body, headers=notification.headers, timeout=10
                )
                outcome = response.status_code
            except httpx.HTTPError as error:
                outcome = f"{type(error).__name__}: {error}"
        with self._lock:
            self.deliveries.append((url, outcome))

    def _by_order_id(self, order_id: int) -> Transaction | None:
        return next((t for t in self._transactions.values() if t.order_id == order_id), None)

    # -- the REST API --------------------------------------------------------------------------
    def handle(self, method: str, path: str, headers: Mapping[str, str], raw_body: bytes) -> Answer:
        """One API call: (HTTP status, JSON answer, what to do after answering)."""
        body: Any = None
        if raw_body:
            try:
                body = json.loads(raw_body)
            except ValueError:
                body = None
        with self._lock:
            self.requests.append(ServedRequest(method, path, dict(headers), body))
        route = urlsplit(path).path
        if method == "GET" and route.startswith("/trnRequest/"):
            return 200, None, None
        if not self._authorized(headers):
            return 401, _UNAUTHORIZED, None
        if raw_body and body is None:
            return 400, _INVALID, None
        with self._lock:
            return self._route(method, route, body)

    def _route(self, method: str, route: str, body: Any) -> Answer:
        actions: dict[tuple[str, str], Callable[[Any], Answer]] = {
            ("POST", "/api/v1/transaction/register"): self._register,
            ("PUT", "/api/v1/transaction/verify"): self._verify,
            ("POST", "/api/v1/transaction/refund"): self._refund,
            ("GET", "/api/v1/testAccess"): lambda _: (200, {"data": True, "error": ""}, None),
        }
        action = actions.get((method, route))
        if action is not None:
            return action(body)
        lookups: dict[str, Callable[[str], Answer]] = {
            "/api/v1/transaction/by/sessionId/": self._by_session,
            "/api/v1/refund/by/orderId/": self._refunds_of,
        }
        for prefix, lookup in lookups.items():
            if method == "GET" and route.startswith(prefix):
                return lookup(unquote(route.removeprefix(prefix)))
        return 404, {"error": "Not found", "code": 404}, None

    def _authorized(self, headers: Mapping[str, str]) -> bool:
        lowered = {name.lower(): value for name, value in headers.items()}
        scheme, _, encoded = lowered.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return user == str(self.pos_id) and signs_match(self._api_key, password)

    def _ours(self, body: dict[str, Any]) -> bool:
        return bool(body["merchantId"] == self.merchant_id and body["posId"] == self.pos_id)

    def _register(self, body: Any) -> Answer:
        if not _valid(body, _REGISTER_FIELDS) or not self._ours(body) or body["amount"] <= 0:
            return 400, _INVALID, None
        expected = register_sign(
            session_id=body["sessionId"],
            merchant_id=body["merchantId"],
            amount=body["amount"],
            currency=body["currency"],
            crc=self._crc,
        )
        if not signs_match(expected, body["sign"]):
            return 400, _INVALID, None
        if any(t.session_id == body["sessionId"] for t in self._transactions.values()):
            return 400, _INVALID, None  # a sessionId is unique
        token = str(uuid.uuid4()).upper()
        self._transactions[token] = Transaction(
            token=token,
            session_id=body["sessionId"],
            amount=body["amount"],
            currency=body["currency"],
            description=body["description"],
            email=body["email"],
            url_return=body["urlReturn"],
            url_status=body.get("urlStatus"),
            method=body.get("method"),
            channel=body.get("channel"),
            registered_at=datetime.now(UTC),
        )
        return 200, {"data": {"token": token}, "responseCode": 0}, None

    def _verify(self, body: Any) -> Answer:
        if not _valid(body, _VERIFY_FIELDS) or not self._ours(body):
            return 400, _INVALID, None
        expected = verify_sign(
            session_id=body["sessionId"],
            order_id=body["orderId"],
            amount=body["amount"],
            currency=body["currency"],
            crc=self._crc,
        )
        found = next(
            (t for t in self._transactions.values() if t.session_id == body["sessionId"]), None
        )
        if (
            found is None
            or not signs_match(expected, body["sign"])
            or found.status != 1  # nothing paid yet, or verified already
            or (body["orderId"], body["amount"], body["currency"])
            != (found.order_id, found.amount, found.currency)
        ):
            return 400, _INVALID, None
        found.status = 2
        return 200, {"data": {"status": "success"}, "responseCode": 0}, None

    def _refund(self, body: Any) -> Answer:
        invalid = {"error": "Invalid input parameters", "code": 400}
        if not isinstance(body, dict):
            return 400, invalid, None
        request_id, uuid_, refunds = (
            body.get("requestId"),
            body.get("refundsUuid"),
            body.get("refunds"),
        )
        url_status = body.get("urlStatus")
        if (
            not isinstance(request_id, str)
            or not 0 < len(request_id) <= 45
            or not isinstance(uuid_, str)
            or not 0 < len(uuid_) <= 35
            or not isinstance(refunds, list)
            or not refunds
            or (url_status is not None and not isinstance(url_status, str))
        ):
            return 400, invalid, None
        for item in refunds:
            if (
                not isinstance(item, dict)
                or type(item.get("orderId")) is not int
                or not isinstance(item.get("sessionId"), str)
                or type(item.get("amount")) is not int
                or item["amount"] <= 0
                or len(str(item.get("description", ""))) > 35
            ):
                return 400, invalid, None
        if request_id in self._refunds:
            return 400, {"error": "Request already exists", "code": 400}, None
        results, problems = [], False
        for item in refunds:
            found = self._by_order_id(item["orderId"])
            message = "success"
            if found is None or found.session_id != item["sessionId"]:
                message = "Transaction not found"
            elif found.status not in (2, 3):
                message = "Transaction in wrong status - cannot refund"
            elif found.refunded + item["amount"] > found.amount:
                message = "The amount of refund exceeds available amount for the transaction"
            problems = problems or message != "success"
            results.append({**item, "status": message == "success", "message": message})
        if problems:
            return 409, {"error": results, "code": 409}, None
        for item in refunds:
            found = self._by_order_id(item["orderId"])
            assert found is not None
            found.refunded += item["amount"]
            found.status = 3 if found.refunded >= found.amount else 2
        # One request is one batch; orderhub asks for one transaction's refund at a time.
        item = refunds[0]
        refunded = self._by_order_id(item["orderId"])
        assert refunded is not None
        self._refunds[request_id] = Refund(
            request_id=request_id,
            refunds_uuid=uuid_,
            order_id=item["orderId"],
            session_id=item["sessionId"],
            amount=sum(i["amount"] for i in refunds),
            currency=refunded.currency,
            description=str(item.get("description", "")),
            url_status=url_status,
            batch_id=next(self._batch_ids),
            requested_at=datetime.now(UTC),
        )

        def complete() -> None:
            self.complete_refund(request_id)

        return 201, {"data": results, "responseCode": 0}, None if self.hold_refunds else complete

    def _by_session(self, session_id: str) -> Answer:
        found = next((t for t in self._transactions.values() if t.session_id == session_id), None)
        if found is None:
            return 404, _NOT_FOUND, None
        return (
            200,
            {
                "data": {
                    "statement": found.statement,
                    "orderId": found.order_id,
                    "sessionId": found.session_id,
                    "status": found.status,
                    "amount": found.amount,
                    "currency": found.currency,
                    "date": _p24_date(found.registered_at),
                    "dateOfTransaction": _p24_date(found.paid_at) if found.paid_at else "",
                    "clientEmail": found.email,
                    "accountMD5": "",
                    "paymentMethod": found.method_id,
                    "description": found.description,
                    "clientName": "",
                    "clientAddress": "",
                    "clientCity": "",
                    "clientPostcode": "",
                    "batchId": 0,
                    "fee": "0",
                },
                "responseCode": 0,
            },
            None,
        )

    def _refunds_of(self, order_id_text: str) -> Answer:
        found = self._by_order_id(int(order_id_text)) if order_id_text.isdigit() else None
        listed = [r for r in self._refunds.values() if found and r.order_id == found.order_id]
        if found is None or not listed:
            return 404, _NOT_FOUND, None
        return (
            200,
            {
                "data": {
                    "orderId": found.order_id,
                    "sessionId": found.session_id,
                    "amount": found.amount,
                    "currency": found.currency,
                    "refunds": [
                        {
                            "batchId": r.batch_id,
                            "requestId": r.request_id,
                            "date": _p24_date(r.requested_at),
                            "login": "api",
                            "description": r.description,
                            "status": r.status,
                            "amount": r.amount,
                        }
                        for r in listed
                    ],
                },
                "responseCode": 0,
            },
            None,
        )

    # -- serving -------------------------------------------------------------------------------
    def _respond(self, method: str, target: str, headers: dict[str, str], raw: bytes, /) -> Served:
        status, document, after = self.handle(method, target, headers, raw)

        def notify() -> None:  # answered first, as P24 does: then the notification
            threading.Thread(target=after, name="p24-refund", daemon=True).start()

        then = None if after is None else notify
        if document is None:  # the payment page
            return Served(status, _PAYMENT_PAGE, content_type="text/html", then=then)
        return Served(status, document, then=then)
