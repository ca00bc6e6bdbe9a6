"""Allegro's side, for tests and the embedded stack: the OAuth endpoints and the order API the
poller and the push client call, served over real HTTP on 127.0.0.1 (one address for both,
which `endpoints()` uses for auth too when only api_url is set).

What it checks, as Allegro does (developer.allegro.pl/en/auth/, developer.allegro.pl/
documentation, the orders tutorial):
- POST /auth/oauth/token?grant_type=refresh_token&refresh_token=...: basic client_id:secret
  (401 invalid_client); each refresh issues a new refresh token and the old one is refused
  from then on (400 invalid_grant). The secret's refresh_token is live at the start.
- POST /auth/oauth/device (form client_id, basic auth) and the device_code grant: the answers
  in `device_script` first (default: one authorization_pending), then tokens.
- Every API call: `Authorization: Bearer <live access token>` (401 otherwise) and
  `Accept: application/vnd.allegro.public.v1+json` (406); bodies in that type (415).
- GET /order/event-stats; GET /order/events?from=<id>&type=...&limit=1..1000 (`from`
  exclusive); GET /order/checkout-forms/{id} (404); GET/POST .../shipments (carrierId from the
  dictionary, waybill 1..64, carrierName for OTHER, line items of this form: 422 otherwise);
  PUT .../fulfillment?checkoutForm.revision= (409 when the form moved on; 204).
- `throttle(n, retry_after)`: the next n API calls answer 429 with Retry-After;
  `requests_per_second`: a standing limit, 429 beyond it.
Builders: `buy`, `pay`, `cancel`, `modify` change forms and append journal events with a new
`revision` and `updatedAt`, as Allegro's own changes do.
"""

from __future__ import annotations

import base64
import copy
import json
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from shared.providers.channels.allegro.api import MEDIA_TYPE
from shared.providers.channels.allegro.oauth import DEVICE_GRANT, DEVICE_PATH, TOKEN_PATH
from shared.providers.simulation import Answer, Line, ServedApi, money_text

FIRST_EVENT_ID = 1532603898317497  # the docs' sample id; later ones only grow
CARRIER_IDS = frozenset(
    {"INPOST", "DPD", "DHL", "UPS", "GLS", "POCZTA_POLSKA", "FEDEX", "ALLEGRO", "OTHER"}
    | {"ORLEN", "AMBRO_EXPRESS", "GEIS", "RABEN", "SCHENKER", "TNT", "X_PRESS", "PATRON"}
)
FULFILLMENT_STATUSES = frozenset(
    {"NEW", "PROCESSING", "READY_FOR_SHIPMENT", "READY_FOR_PICKUP", "SENT", "PICKED_UP"}
    | {"CANCELLED", "SUSPENDED"}
)
LINE_ITEMS_SENT = frozenset({"NONE", "SOME", "ALL"})
COURIER = {"id": "c3066682-97a3-42fe-9eb5-3beeccab840c", "name": "Allegro Kurier DPD"}
LOCKER = {"id": "2488f7b7-5d1c-4d65-b85c-4cbcf253fd93", "name": "Allegro Paczkomaty InPost"}
COURIER_COST, LOCKER_COST = Decimal("14.99"), Decimal("9.99")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _errors(code: str, message: str, path: str | None = None) -> dict[str, Any]:
    return {
        "errors": [
            {
                "code": code,
                "message": message,
                "details": None,
                "path": path,
                "userMessage": message,
            }
        ]
    }


class _Refusal(Exception):
    def __init__(self, answer: Answer) -> None:
        super().__init__(answer.status)
        self.answer = answer


def _refuse(status: int, code: str, message: str, path: str | None = None) -> _Refusal:
    return _Refusal(Answer(status, _errors(code, message, path)))


def _oauth_refusal(status: int, error: str, description: str) -> _Refusal:
    return _Refusal(
        Answer(status, {"error": error, "error_description": description}, {}, "application/json")
    )


@dataclass
class _Device:
    user_code: str
    script: list[str]


@dataclass
class _Form:
    document: dict[str, Any]
    shipments: list[dict[str, Any]] = field(default_factory=list)


class AllegroSimulator(ServedApi):
    served_name = "allegro"
    json_type = MEDIA_TYPE
    none_is_empty = True

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        seller_id: str = "44470112",
        access_token_lifetime: int = 43199,
    ) -> None:
        self.client_id = client_id
        self._client_secret = client_secret
        self.seller_id = seller_id
        self.access_token_lifetime = access_token_lifetime
        self.requests: list[dict[str, Any]] = []
        self.device_script: list[str] = ["authorization_pending"]
        self.requests_per_second: float | None = None
        self._refresh_tokens = {refresh_token}
        self._access_tokens: dict[str, float] = {}  # token -> monotonic expiry
        self._devices: dict[str, _Device] = {}
        self._events: list[dict[str, Any]] = []
        self._forms: dict[str, _Form] = {}
        self._offers: dict[str, str] = {}
        self._next_event = FIRST_EVENT_ID
        self._last_ms = 0
        self._throttled = 0
        self._throttle_after = "1"
        self._recent: deque[float] = deque()
        self._lock = threading.RLock()

    @classmethod
    def from_secret(cls, document: Mapping[str, Any]) -> AllegroSimulator:
        return cls(
            client_id=str(document["client_id"]),
            client_secret=str(document["client_secret"]),
            refresh_token=str(document["refresh_token"]),
        )

    # -- state, for tests --------------------------------------------------------------------------
    def form(self, form_id: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._forms[form_id].document)

    def shipments(self, form_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._forms[form_id].shipments)

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._events)

    def throttle(self, count: int = 1, retry_after: float = 1) -> None:
        """The next `count` API calls answer 429 Too Many Requests with Retry-After."""
        with self._lock:
            self._throttled = count
            self._throttle_after = f"{retry_after:g}"

    def expire_access_tokens(self) -> None:
        """Every access token issued so far has ended (401 until refreshed)."""
        with self._lock:
            self._access_tokens.clear()

    def revoke_refresh_tokens(self) -> None:
        """The seller revoked the app (or 3 months passed): refreshes are refused."""
        with self._lock:
            self._refresh_tokens.clear()

    def live_refresh_tokens(self) -> set[str]:
        with self._lock:
            return set(self._refresh_tokens)

    # -- builders ----------------------------------------------------------------------------------
    def buy(
        self,
        lines: list[Line],
        *,
        pickup_point: str | None = None,
        cod: bool = False,
        invoice_tax_id: str | None = None,
        paid: bool = True,
        message: str | None = None,
    ) -> str:
        """A buyer buys `lines`, fills in the form and (unless `paid` is False) pays, or picks
        cash on delivery: BOUGHT, FILLED_IN, READY_FOR_PROCESSING. Returns the form's id."""
        with self._lock:
            form_id = str(uuid.uuid4())
            now = self._tick()
            document = self._document(
                form_id,
                lines=lines,
                now=now,
                pickup_point=pickup_point,
                cod=cod,
                invoice_tax_id=invoice_tax_id,
            )
            document["messageToSeller"] = message
            self._forms[form_id] = _Form(document)
            self._change(form_id, "BOUGHT", status="BOUGHT", moment=now)
            self._change(form_id, "FILLED_IN", status="FILLED_IN")
            if paid or cod:
                self._ready(form_id)
            return form_id

    def pay(self, form_id: str) -> None:
        """The buyer pays a filled-in form: READY_FOR_PROCESSING."""
        with self._lock:
            status = self._forms[form_id].document["status"]
            if status != "FILLED_IN":
                raise ValueError(f"form {form_id} is {status}: it cannot be paid")
            self._ready(form_id)

    def cancel(self, form_id: str, by: str = "BUYER") -> None:
        """The buyer cancels (BUYER_CANCELLED) or Allegro does (by="AUTO": AUTO_CANCELLED,
        e.g. an unpaid form)."""
        event = "BUYER_CANCELLED" if by.upper() == "BUYER" else "AUTO_CANCELLED"
        with self._lock:
            self._change(form_id, event, status="CANCELLED")

    def modify(
        self,
        form_id: str,
        *,
        street: str | None = None,
        city: str | None = None,
        zip_code: str | None = None,
        phone: str | None = None,
    ) -> None:
        """The buyer changes the delivery address (BUYER_MODIFIED)."""
        with self._lock:
            document = self._forms[form_id].document
            address = document["delivery"]["address"]
            for key, value in (
                ("street", street),
                ("city", city),
                ("zipCode", zip_code),
                ("phoneNumber", phone),
            ):
                if value is not None:
                    address[key] = value
            moment = self._tick()
            address["modifiedAt"] = _iso(moment)
            self._change(form_id, "BUYER_MODIFIED", moment=moment)

    def add_waybill(self, form_id: str, waybill: str, carrier_id: str = "INPOST") -> str:
        """The seller adds a waybill in Allegro's panel (no status change); its id."""
        with self._lock:
            form = self._forms[form_id]
            body = {"carrierId": carrier_id, "waybill": waybill, "carrierName": "Panel"}
            return str(self._add_shipment(form, body).body["id"])

    # -- forms and events --------------------------------------------------------------------------
    def _tick(self) -> datetime:
        """Now, strictly later than the last change (revisions are epoch milliseconds)."""
        now_ms = max(int(time.time() * 1000), self._last_ms + 1)
        self._last_ms = now_ms
        return datetime.fromtimestamp(now_ms / 1000, UTC)

    def _offer_id(self, sku: str) -> str:
        return self._offers.setdefault(sku, str(10_000_000_000 + len(self._offers) + 1))

    def _document(
        self,
        form_id: str,
        *,
        lines: list[Line],
        now: datetime,
        pickup_point: str | None,
        cod: bool,
        invoice_tax_id: str | None,
    ) -> dict[str, Any]:
        items = []
        items_total = Decimal(0)
        for line in lines:
            price = {"amount": line.unit_price, "currency": "PLN"}
            items_total += Decimal(line.unit_price) * line.quantity
            rate = Decimal(line.vat_rate) * 100
            items.append(
                {
                    "id": str(uuid.uuid4()),
                    "offer": {
                        "id": self._offer_id(line.sku),
                        "name": line.name,
                        "external": {"id": line.sku},
                    },
                    "quantity": line.quantity,
                    "originalPrice": dict(price),
                    "price": price,
                    "tax": {"rate": money_text(rate), "subject": "GOODS"},
                    "boughtAt": _iso(now),
                }
            )
        cost = LOCKER_COST if pickup_point else COURIER_COST
        address = {
            "firstName": "Jan",
            "lastName": "Kowalski",
            "street": "Grunwaldzka 182",
            "city": "Poznań",
            "zipCode": "60-166",
            "countryCode": "PL",
            "companyName": None,
            "phoneNumber": "500600700",
            "modifiedAt": None,
        }
        delivery: dict[str, Any] = {
            "address": address,
            "method": dict(LOCKER if pickup_point else COURIER),
            "cost": {"amount": money_text(cost), "currency": "PLN"},
            "smart": False,
            "calculatedNumberOfPackages": 1,
        }
        if pickup_point:
            delivery["pickupPoint"] = {
                "id": pickup_point,
                "name": f"Paczkomat {pickup_point}",
                "description": "Przy sklepie",
                "address": {
                    "street": "Grunwaldzka 108",
                    "zipCode": "60-166",
                    "city": "Poznań",
                    "countryCode": "PL",
                },
            }
        invoice: dict[str, Any] = {"required": invoice_tax_id is not None}
        if invoice_tax_id is not None:
            invoice["address"] = {
                "street": "Rynek Główny 1",
                "city": "Kraków",
                "zipCode": "31-042",
                "countryCode": "PL",
                "company": {"name": "Kowalski Sp. z o.o.", "taxId": invoice_tax_id},
                "naturalPerson": None,
            }
        return {
            "id": form_id,
            "messageToSeller": None,
            "buyer": {
                "id": str(20_000_000 + len(self._forms)),
                "email": f"buyer-{form_id[:8]}@allegromail.pl",
                "login": "Kupujacy_Testowy",
                "firstName": "Jan",
                "lastName": "Kowalski",
                "companyName": None,
                "guest": False,
                "phoneNumber": "500600700",
                "address": {
                    "street": "Solna 1",
                    "city": "Poznań",
                    "postCode": "60-166",
                    "countryCode": "PL",
                },
            },
            "payment": {
                "id": str(uuid.uuid4()),
                "type": "CASH_ON_DELIVERY" if cod else "ONLINE",
                "provider": None if cod else "P24",
                "finishedAt": None,
                "paidAmount": None,
            },
            "status": "BOUGHT",
            "fulfillment": {"status": "NEW", "shipmentSummary": {"lineItemsSent": "NONE"}},
            "delivery": delivery,
            "invoice": invoice,
            "lineItems": items,
            "surcharges": [],
            "discounts": [],
            "marketplace": {"id": "allegro-pl"},
            "summary": {
                "totalToPay": {"amount": money_text(items_total + cost), "currency": "PLN"}
            },
            "updatedAt": _iso(now),
            "revision": secrets.token_hex(4),
        }

    def _ready(self, form_id: str) -> None:
        document = self._forms[form_id].document
        payment = document["payment"]
        if payment["type"] != "CASH_ON_DELIVERY":
            payment["finishedAt"] = _iso(self._tick())
            payment["paidAmount"] = dict(document["summary"]["totalToPay"])
        self._change(form_id, "READY_FOR_PROCESSING", status="READY_FOR_PROCESSING")

    def _change(
        self,
        form_id: str,
        event_type: str,
        *,
        status: str | None = None,
        moment: datetime | None = None,
    ) -> None:
        """A change of the form: new updatedAt and revision, and its journal event."""
        document = self._forms[form_id].document
        moment = moment or self._tick()
        if status is not None:
            document["status"] = status
        document["updatedAt"] = _iso(moment)
        document["revision"] = secrets.token_hex(4)
        buyer = document["buyer"]
        self._events.append(
            {
                "id": str(self._next_event),
                "order": {
                    "seller": {"id": self.seller_id},
                    "buyer": {k: buyer[k] for k in ("id", "email", "login", "guest")},
                    "lineItems": [
                        {k: item[k] for k in ("id", "offer", "quantity", "price", "boughtAt")}
                        for item in document["lineItems"]
                    ],
                    "checkoutForm": {"id": form_id, "revision": document["revision"]},
                    "marketplace": dict(document["marketplace"]),
                },
                "type": event_type,
                "occurredAt": _iso(moment),
            }
        )
        self._next_event += 1 + secrets.randbelow(3)  # ids grow, not necessarily by one

    # -- the HTTP API ------------------------------------------------------------------------------
    def transport(self) -> httpx.MockTransport:
        """The API in-process, without a socket (unit tests): `httpx.Client(transport=...)`
        with base_url or secret api_url = `base_url`."""

        def handle(request: httpx.Request) -> httpx.Response:
            target = request.url.raw_path.decode("ascii")
            answer = self.answer(request.method, target, dict(request.headers), request.content)
            data, kind = self._encoded(answer)
            headers = {**answer.headers, **({"Content-Type": kind} if kind else {})}
            return httpx.Response(answer.status, headers=headers, content=data)

        return httpx.MockTransport(handle)

    def answer(self, method: str, target: str, headers: Mapping[str, str], raw: bytes) -> Answer:
        """One request (the HTTP handler's work, callable directly)."""
        lowered = {k.lower(): v for k, v in headers.items()}
        url = urlsplit(target)
        query = parse_qs(url.query, keep_blank_values=True)
        record: dict[str, Any] = {
            "method": method,
            "path": url.path,
            "query": query,
            "headers": lowered,
            "json": None,
            "form": None,
        }
        with self._lock:
            self.requests.append(record)
        try:
            if url.path in (TOKEN_PATH, DEVICE_PATH) and method == "POST":
                form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
                record["form"] = form
                return self._oauth(url.path, lowered, {k: v[0] for k, v in query.items()}, form)
            body = self._body(lowered, raw)
            record["json"] = body
            with self._lock:
                self._limit()
                self._authenticate(lowered)
                return self._api(method, url.path, query, body)
        except _Refusal as refusal:
            return refusal.answer

    def _respond(self, method: str, target: str, headers: dict[str, str], raw: bytes, /) -> Answer:
        return self.answer(method, target, headers, raw)  # looked up per request: tests patch it

    def too_large(self) -> Answer:
        return Answer(413, _errors("PayloadTooLarge", "request too large"))

    def _served_headers(self) -> dict[str, str]:
        return {"Trace-Id": str(uuid.uuid4())}

    @staticmethod
    def _body(headers: Mapping[str, str], raw: bytes) -> Any:
        accept = headers.get("accept", "")
        if MEDIA_TYPE not in accept:
            raise _refuse(406, "NotAcceptableException", f"Accept must be {MEDIA_TYPE}")
        if not raw:
            return None
        if not headers.get("content-type", "").startswith(MEDIA_TYPE):
            raise _refuse(415, "UnsupportedMediaTypeException", f"Content-Type: {MEDIA_TYPE}")
        try:
            return json.loads(raw)
        except (ValueError, RecursionError) as error:
            raise _refuse(400, "MalformedJsonException", str(error)) from error

    def _limit(self) -> None:
        now = time.monotonic()
        if self._throttled > 0:
            self._throttled -= 1
            self._too_many(self._throttle_after)
        if self.requests_per_second is not None:
            while self._recent and now - self._recent[0] >= 1.0:
                self._recent.popleft()
            if len(self._recent) >= self.requests_per_second:
                self._too_many("1")
            self._recent.append(now)

    @staticmethod
    def _too_many(retry_after: str) -> None:
        raise _Refusal(
            Answer(
                429,
                _errors("TooManyRequestsException", "Too many requests"),
                {"Retry-After": retry_after},
            )
        )

    def _authenticate(self, headers: Mapping[str, str]) -> None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        expiry = self._access_tokens.get(token) if scheme.lower() == "bearer" else None
        if expiry is None or expiry < time.monotonic():
            raise _oauth_refusal(401, "invalid_token", "Access token expired or invalid")

    # -- OAuth -------------------------------------------------------------------------------------
    def _oauth(
        self,
        path: str,
        headers: Mapping[str, str],
        query: Mapping[str, str],
        form: Mapping[str, str],
    ) -> Answer:
        self._check_client(headers)
        with self._lock:
            if path == DEVICE_PATH:
                return self._device(form)
            grant = query.get("grant_type") or form.get("grant_type")
            if grant == "refresh_token":
                spent = query.get("refresh_token") or form.get("refresh_token") or ""
                if spent not in self._refresh_tokens:
                    raise _oauth_refusal(400, "invalid_grant", f"Invalid refresh token: {spent}")
                self._refresh_tokens.discard(spent)
                return self._tokens()
            if grant == DEVICE_GRANT:
                return self._device_token(query.get("device_code") or form.get("device_code"))
        raise _oauth_refusal(400, "unsupported_grant_type", f"grant_type {grant}")

    def _check_client(self, headers: Mapping[str, str]) -> None:
        scheme, _, encoded = headers.get("authorization", "").partition(" ")
        try:
            client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            client_id, secret = "", ""
        valid = client_id == self.client_id and secrets.compare_digest(
            secret.encode(), self._client_secret.encode()
        )
        if scheme.lower() != "basic" or not valid:
            raise _oauth_refusal(401, "invalid_client", "Bad client credentials")

    def _tokens(self) -> Answer:
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        self._access_tokens[access] = time.monotonic() + self.access_token_lifetime
        self._refresh_tokens.add(refresh)
        body = {
            "access_token": access,
            "token_type": "bearer",
            "refresh_token": refresh,
            "expires_in": self.access_token_lifetime,
            "scope": "allegro:api:orders:read allegro:api:orders:write",
            "allegro_api": True,
            "jti": str(uuid.uuid4()),
        }
        return Answer(200, body, {}, "application/json")

    def _device(self, form: Mapping[str, str]) -> Answer:
        if form.get("client_id") != self.client_id:
            raise _oauth_refusal(400, "invalid_request", "client_id")
        device_code, user_code = secrets.token_urlsafe(24), secrets.token_hex(4)
        self._devices[device_code] = _Device(user_code, list(self.device_script))
        page = f"{self.base_url}/skojarz-aplikacje"
        body = {
            "device_code": device_code,
            "expires_in": "3600",
            "user_code": user_code,
            "interval": "5",
            "verification_uri": page,
            "verification_uri_complete": f"{page}?code={user_code}",
        }
        return Answer(200, body, {}, "application/json")

    def _device_token(self, device_code: str | None) -> Answer:
        device = self._devices.get(device_code or "")
        if device is None:
            raise _oauth_refusal(400, "invalid_grant", "Invalid device code")
        if device.script:
            outcome = device.script.pop(0)
            if outcome in ("access_denied", "expired_token"):
                del self._devices[device_code or ""]
            raise _oauth_refusal(400, outcome, outcome.replace("_", " "))
        del self._devices[device_code or ""]
        return self._tokens()

    # -- orders ------------------------------------------------------------------------------------
    def _api(self, method: str, path: str, query: Mapping[str, list[str]], body: Any) -> Answer:
        if method == "GET" and path == "/order/event-stats":
            latest = self._events[-1] if self._events else None
            stats = {"id": latest["id"], "occurredAt": latest["occurredAt"]} if latest else None
            return Answer(200, {"latestEvent": stats})
        if method == "GET" and path == "/order/events":
            return self._event_page(query)
        parts = path.split("/")
        if len(parts) < 4 or parts[1:3] != ["order", "checkout-forms"]:
            raise _refuse(404, "NotFoundException", f"no resource {path}")
        form = self._forms.get(unquote(parts[3]))
        if form is None:
            raise _refuse(404, "NotFoundException", f"Checkout form {parts[3]} not found")
        rest = parts[4:]
        if method == "GET" and not rest:
            return Answer(200, copy.deepcopy(form.document))
        if rest == ["shipments"] and method == "GET":
            return Answer(200, {"shipments": copy.deepcopy(form.shipments)})
        if rest == ["shipments"] and method == "POST":
            return self._add_shipment(form, body)
        if rest == ["fulfillment"] and method == "PUT":
            return self._fulfillment(form, query, body)
        raise _refuse(405, "MethodNotAllowedException", f"{method} {path}")

    def _event_page(self, query: Mapping[str, list[str]]) -> Answer:
        try:
            limit = int(query.get("limit", ["100"])[0])
            after = int(query["from"][0]) if "from" in query else None
        except ValueError as error:
            raise _refuse(422, "ValidationException", f"invalid parameter: {error}") from error
        if not 1 <= limit <= 1000:
            raise _refuse(422, "ValidationException", "limit must be 1..1000", "limit")
        types = {kind for value in query.get("type", []) for kind in value.split(",") if kind}
        page = [
            copy.deepcopy(event)
            for event in self._events
            if (after is None or int(event["id"]) > after) and (not types or event["type"] in types)
        ][:limit]
        return Answer(200, {"events": page})

    def _add_shipment(self, form: _Form, body: Any) -> Answer:
        if not isinstance(body, dict):
            raise _refuse(422, "ValidationException", "a shipment is a JSON object")
        carrier, waybill = body.get("carrierId"), body.get("waybill")
        if carrier not in CARRIER_IDS:
            raise _refuse(422, "ValidationException", f"unknown carrierId {carrier}", "carrierId")
        if not isinstance(waybill, str) or not 1 <= len(waybill) <= 64:
            raise _refuse(422, "ValidationException", "waybill: 1..64 characters", "waybill")
        name = body.get("carrierName")
        if carrier == "OTHER" and (not isinstance(name, str) or not 1 <= len(name) <= 30):
            raise _refuse(422, "ValidationException", "carrierName for OTHER", "carrierName")
        ours = {item["id"] for item in form.document["lineItems"]}
        items = body.get("lineItems") or [{"id": item_id} for item_id in sorted(ours)]
        if not isinstance(items, list) or any(
            not isinstance(i, dict) or i.get("id") not in ours for i in items
        ):
            raise _refuse(422, "ValidationException", "line items of this order", "lineItems")
        shipment = {
            "id": str(uuid.uuid4()),
            "waybill": waybill,
            "carrierId": carrier,
            "carrierName": name if carrier == "OTHER" else None,
            "lineItems": [{"id": i["id"]} for i in items],
            "createdAt": _iso(datetime.now(UTC)),
        }
        form.shipments.append(shipment)
        return Answer(201, copy.deepcopy(shipment))

    def _fulfillment(self, form: _Form, query: Mapping[str, list[str]], body: Any) -> Answer:
        expected = query.get("checkoutForm.revision", [None])[0]
        if expected is not None and expected != form.document["revision"]:
            raise _refuse(409, "CONFLICT", f"checkout form revision is not {expected}", "revision")
        status = body.get("status") if isinstance(body, dict) else None
        if status not in FULFILLMENT_STATUSES:
            raise _refuse(422, "ValidationException", f"status {status}", "status")
        summary = body.get("shipmentSummary") or {}
        sent = summary.get("lineItemsSent") if isinstance(summary, dict) else None
        if sent is not None and sent not in LINE_ITEMS_SENT:
            raise _refuse(422, "ValidationException", f"lineItemsSent {sent}", "shipmentSummary")
        fulfillment = form.document["fulfillment"]
        fulfillment["status"] = status
        if sent is not None:
            fulfillment["shipmentSummary"] = {"lineItemsSent": sent}
        self._change(form.document["id"], "FULFILLMENT_STATUS_CHANGED")
        return Answer(204)
