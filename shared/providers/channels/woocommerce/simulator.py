"""A WooCommerce store, for tests and the embedded stack: its REST API v3 over real HTTP on
127.0.0.1, and its webhook deliveries signed as WC_Webhook signs them.

What the API checks and answers (woocommerce-rest-api-docs, wp-api-v3):
- HTTP Basic with the consumer key and secret: none -> 401 woocommerce_rest_cannot_view (or
  _cannot_create / _cannot_edit); an unknown key or a wrong secret -> 401
  woocommerce_rest_authentication_error.
- GET /wp-json/wc/v3/orders: page, per_page (1..100), modified_after (+ dates_are_gmt), orderby
  (date, id, include, title, slug, modified), order (asc, desc), status (default any: not
  trash); X-WP-Total and X-WP-TotalPages; invalid parameters -> 400 rest_invalid_param.
- GET and PUT /wp-json/wc/v3/orders/{id} (unknown -> 404 woocommerce_rest_shop_order_invalid_id);
  PUT changes the status and bumps date_modified.
- GET and POST /wp-json/wc/v3/orders/{id}/notes (a note without `note` -> 400
  rest_missing_callback_param).
`fail_next` makes the next answers an error (429 with Retry-After, 503), as a store's host or
firewall gives them.

Deliveries (class-wc-webhook.php): the body is wp_json_encode of the resource (compact, "/" and
non-ASCII escaped), the headers are X-WC-Webhook-Source/-Topic/-Resource/-Event/-Signature/-ID/
-Delivery-ID, and the creation ping is the unsigned form body `webhook_id=<id>`.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import math
import secrets
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from shared.platform.clock import Clock, utc_now
from shared.providers.channels.woocommerce.rest import API_PREFIX
from shared.providers.channels.woocommerce.webhook import sign
from shared.providers.simulation import Answer, Line, ServedApi, SignedRequest, money_text

WC_VERSION = "9.8.5"
WP_VERSION = "6.8.1"
STORE_URL = "https://sklep.example"
DEFAULT_CONSUMER_KEY = "ck_simulator"
DEFAULT_CONSUMER_SECRET = "cs_simulator"  # noqa: S105 - the simulator's own default
STATUSES = frozenset(
    {"pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed", "trash"}
)
ORDERBY = frozenset({"date", "id", "include", "title", "slug", "modified"})
# The store's time zone (date_created, date_modified are local; *_gmt are GMT). A fixed offset
# keeps the simulator independent of the machine's tz database.
SITE_TIMEZONE = timezone(timedelta(hours=2))
_RATE_IDS = {"0.23": 1, "0.08": 2, "0.05": 3, "0": 4, "0.00": 4}
_GMT = "%Y-%m-%dT%H:%M:%S"


def _gmt(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_GMT)


def _local(moment: datetime) -> str:
    return moment.astimezone(SITE_TIMEZONE).strftime(_GMT)


def _parse_gmt(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def wp_json_encode(resource: Any) -> bytes:
    """PHP's json_encode with default flags, as WooCommerce sends a webhook body."""
    return (
        json.dumps(resource, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/").encode()
    )


def _error(status: int, code: str, message: str, **data: Any) -> Answer:
    return Answer(status, {"code": code, "message": message, "data": {"status": status, **data}})


class _Refusal(Exception):
    def __init__(self, answer: Answer) -> None:
        super().__init__(str(answer.body))
        self.answer = answer


def _invalid(name: str, why: str) -> _Refusal:
    return _Refusal(
        _error(400, "rest_invalid_param", f"Invalid parameter(s): {name}", params={name: why})
    )


class WooCommerceSimulator(ServedApi):
    served_name = "woocommerce"
    json_type = "application/json; charset=UTF-8"
    path = "/webhooks/orders/woocommerce"

    def __init__(
        self,
        webhook_secret: str,
        consumer_key: str = DEFAULT_CONSUMER_KEY,
        consumer_secret: str = DEFAULT_CONSUMER_SECRET,
        *,
        webhook_id: int = 17,
        clock: Clock = utc_now,
    ) -> None:
        self._secret = webhook_secret
        self._consumer_key = consumer_key
        self._consumer_secret = consumer_secret
        self.webhook_id = webhook_id
        self.clock = clock
        self.requests: list[dict[str, Any]] = []
        self.sent: list[tuple[str, int | None]] = []  # (topic, our webhook's HTTP status)
        self._orders: dict[int, dict[str, Any]] = {}
        self._notes: dict[int, list[dict[str, Any]]] = {}
        self._next_note = 900
        self._failures: list[Answer] = []
        self._lock = threading.RLock()
        self._webhook_base: str | None = None

    @classmethod
    def from_secret(cls, document: Mapping[str, Any]) -> WooCommerceSimulator:
        return cls(
            str(document["webhook_secret"]),
            str(document.get("consumer_key") or DEFAULT_CONSUMER_KEY),
            str(document.get("consumer_secret") or DEFAULT_CONSUMER_SECRET),
        )

    # -- builders ----------------------------------------------------------------------------
    def order(
        self,
        order_id: int,
        lines: list[Line],
        *,
        status: str | None = None,
        paid: bool = False,
        cash_on_delivery: bool = False,
        locker: str | None = None,
        nip: str | None = None,
        note: str = "",
    ) -> dict[str, Any]:
        """A REST v3 order of a Polish buyer in PLN, gross prices (prices_include_tax), with
        line, shipping and order totals that add up. `paid`: Przelewy24 took the money
        (processing, date_paid, transaction_id); `cash_on_delivery`: WooCommerce's COD gateway
        (processing, and date_paid stamped as WooCommerce does); neither: pending payment.
        `locker`: InPost Paczkomat shipping (the official plugin's method and meta)."""
        now = self._now()
        taxes: dict[int, dict[str, Any]] = {}
        items = []
        for index, line in enumerate(lines, start=1):
            gross = Decimal(line.unit_price) * line.quantity
            net = (gross / (1 + Decimal(line.vat_rate))).quantize(Decimal("0.01"))
            tax = gross - net
            rate_id = _RATE_IDS.get(line.vat_rate, 9)
            self._add_tax(taxes, order_id, rate_id, line.vat_rate, tax=tax)
            items.append(
                {
                    "id": order_id * 100 + index,
                    "name": line.name,
                    "product_id": _product_id(line.sku),
                    "variation_id": 0,
                    "quantity": line.quantity,
                    "tax_class": "" if rate_id == 1 else "reduced-rate",
                    "subtotal": money_text(net),
                    "subtotal_tax": money_text(tax),
                    "total": money_text(net),
                    "total_tax": money_text(tax),
                    "taxes": [{"id": rate_id, "total": str(tax), "subtotal": str(tax)}],
                    "meta_data": [],
                    "sku": line.sku,
                    "price": float(net / line.quantity),
                    "parent_name": None,
                }
            )
        shipping_gross = Decimal("12.30") if locker else Decimal("15.99")
        shipping_net = (shipping_gross / Decimal("1.23")).quantize(Decimal("0.01"))
        shipping_tax = shipping_gross - shipping_net
        self._add_tax(taxes, order_id, 1, "0.23", shipping=shipping_tax)
        shipping_line: dict[str, Any] = {
            "id": order_id * 100 + 99,
            "method_title": "InPost Paczkomat 24/7" if locker else "Kurier DPD",
            "method_id": "easypack_parcel_machines" if locker else "flat_rate",
            "instance_id": "3" if locker else "1",
            "total": money_text(shipping_net),
            "total_tax": money_text(shipping_tax),
            "taxes": [{"id": 1, "total": str(shipping_tax), "subtotal": ""}],
            "meta_data": [{"id": order_id * 10 + 1, "key": "_parcel_machine_id", "value": locker}]
            if locker
            else [],
        }
        cart_tax = sum((Decimal(str(i["total_tax"])) for i in items), Decimal(0))
        gross_items = sum(
            (Decimal(str(i["total"])) + Decimal(str(i["total_tax"])) for i in items), Decimal(0)
        )
        if status is None:
            status = "processing" if paid or cash_on_delivery else "pending"
        paid_at = now if status in ("processing", "completed") else None
        meta: list[dict[str, Any]] = [{"id": order_id * 10, "key": "is_vat_exempt", "value": "no"}]
        if nip:
            meta.append({"id": order_id * 10 + 2, "key": "_billing_nip", "value": nip})
        method, title = (
            ("cod", "Płatność przy odbiorze") if cash_on_delivery else ("przelewy24", "Przelewy24")
        )
        address = {
            "first_name": "Anna",
            "last_name": "Kowalska",
            "company": "Pracownia Kowalska Sp. z o.o." if nip else "",
            "address_1": "ul. Długa 5/3",
            "address_2": "",
            "city": "Kraków",
            "state": "",
            "postcode": "31-147",
            "country": "PL",
            "phone": "+48 600 100 200",
        }
        return {
            "id": order_id,
            "parent_id": 0,
            "number": str(order_id),
            "order_key": f"wc_order_{secrets.token_hex(6)}",
            "created_via": "checkout",
            "version": WC_VERSION,
            "status": status,
            "currency": "PLN",
            "date_created": _local(now),
            "date_created_gmt": _gmt(now),
            "date_modified": _local(now),
            "date_modified_gmt": _gmt(now),
            "discount_total": "0.00",
            "discount_tax": "0.00",
            "shipping_total": money_text(shipping_net),
            "shipping_tax": money_text(shipping_tax),
            "cart_tax": money_text(cart_tax),
            "total": money_text(gross_items + shipping_gross),
            "total_tax": money_text(cart_tax + shipping_tax),
            "prices_include_tax": True,
            "customer_id": 0,
            "customer_ip_address": "127.0.0.1",
            "customer_user_agent": "Mozilla/5.0",
            "customer_note": note,
            "billing": {**address, "email": "anna.kowalska@example.pl"},
            "shipping": address,
            "payment_method": method,
            "payment_method_title": title,
            "transaction_id": f"P24-{order_id}-{secrets.randbelow(10**6):06d}" if paid else "",
            "date_paid": _local(paid_at) if paid_at else None,
            "date_paid_gmt": _gmt(paid_at) if paid_at else None,
            "date_completed": None,
            "date_completed_gmt": None,
            "cart_hash": secrets.token_hex(16),
            "meta_data": meta,
            "line_items": items,
            "tax_lines": list(taxes.values()),
            "shipping_lines": [shipping_line],
            "fee_lines": [],
            "coupon_lines": [],
            "refunds": [],
            "currency_symbol": "zł",
            "_links": {
                "self": [{"href": f"{STORE_URL}{API_PREFIX}/orders/{order_id}"}],
                "collection": [{"href": f"{STORE_URL}{API_PREFIX}/orders"}],
            },
        }

    @staticmethod
    def _add_tax(
        taxes: dict[int, dict[str, Any]],
        order_id: int,
        rate_id: int,
        rate: str,
        *,
        tax: Decimal = Decimal(0),
        shipping: Decimal = Decimal(0),
    ) -> None:
        entry = taxes.setdefault(
            rate_id,
            {
                "id": order_id * 100 + 50 + rate_id,
                "rate_code": f"PL-VAT {Decimal(rate) * 100:g}%-{rate_id}",
                "rate_id": rate_id,
                "label": "VAT",
                "compound": False,
                "tax_total": "0.00",
                "shipping_tax_total": "0.00",
                "rate_percent": float(Decimal(rate) * 100),
                "meta_data": [],
            },
        )
        entry["tax_total"] = money_text(Decimal(entry["tax_total"]) + tax)
        entry["shipping_tax_total"] = money_text(Decimal(entry["shipping_tax_total"]) + shipping)

    def webhook(
        self, topic: str, resource: Mapping[str, Any], *, webhook_id: int | None = None
    ) -> SignedRequest:
        """A delivery of `topic` (order.created, order.updated, order.deleted with {"id": N})."""
        body = wp_json_encode(resource)
        webhook = webhook_id if webhook_id is not None else self.webhook_id
        resource_name, _, event = topic.partition(".")
        return SignedRequest(
            self.path,
            body,
            {
                "Content-Type": "application/json",
                "User-Agent": f"WooCommerce/{WC_VERSION} Hookshot (WordPress/{WP_VERSION})",
                "X-WC-Webhook-Source": f"{STORE_URL}/",
                "X-WC-Webhook-Topic": topic,
                "X-WC-Webhook-Resource": resource_name,
                "X-WC-Webhook-Event": event,
                "X-WC-Webhook-Signature": sign(body, self._secret),
                "X-WC-Webhook-ID": str(webhook),
                # wp_hash($webhook_id . strtotime('now')): an MD5 HMAC, 32 hex digits
                "X-WC-Webhook-Delivery-ID": hashlib.md5(  # noqa: S324 - WordPress's wp_hash
                    f"{webhook}{int(self._now().timestamp())}".encode()
                ).hexdigest(),
            },
        )

    def ping(self, webhook_id: int | None = None) -> SignedRequest:
        """What WooCommerce POSTs when the webhook is created: unsigned, form-encoded."""
        webhook = webhook_id if webhook_id is not None else self.webhook_id
        return SignedRequest(
            self.path,
            f"webhook_id={webhook}".encode(),
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "User-Agent": f"WooCommerce/{WC_VERSION} Hookshot (WordPress/{WP_VERSION})",
            },
        )

    # -- the store's state -------------------------------------------------------------------
    def put(self, order: Mapping[str, Any], *, deliver: bool = False) -> dict[str, Any]:
        """Store (or replace) an order as the shop saving it would: date_modified moves on
        (always past the stored version's). `deliver`: send its webhook to `deliver_to`'s
        address (order.created for a new order, else order.updated)."""
        with self._lock:
            stored = copy.deepcopy(dict(order))
            previous = self._orders.get(int(stored["id"]))
            self._touch(stored, previous)
            self._orders[int(stored["id"])] = stored
            answer = copy.deepcopy(stored)
        if deliver:
            self.deliver("order.updated" if previous else "order.created", answer)
        return answer

    def stored(self, order_id: int) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._orders[order_id])

    def notes(self, order_id: int) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._notes.get(order_id, []))

    def fail_next(
        self, status: int = 503, *, retry_after: str | None = None, times: int = 1
    ) -> None:
        """The next `times` API requests get `status` (before authentication, as a proxy)."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        body = {
            "code": "simulated_failure",
            "message": f"HTTP {status}",
            "data": {"status": status},
        }
        with self._lock:
            self._failures.extend(Answer(status, body, headers) for _ in range(times))

    def deliver_to(self, webhook_base_url: str) -> None:
        """Where `deliver` POSTs webhooks (the gateway of the embedded stack)."""
        self._webhook_base = webhook_base_url.rstrip("/")

    def deliver(self, topic: str, resource: Mapping[str, Any]) -> int | None:
        """POST one delivery to `deliver_to`'s address, once: WooCommerce never retries."""
        if self._webhook_base is None:
            return None
        request = self.webhook(topic, resource)
        try:
            with httpx.Client(base_url=self._webhook_base, timeout=10.0) as client:
                status: int | None = request.send(client).status_code
        except httpx.HTTPError:
            status = None
        with self._lock:
            self.sent.append((topic, status))
        return status

    def _now(self) -> datetime:
        return self.clock().astimezone(UTC).replace(microsecond=0)

    def _touch(self, order: dict[str, Any], previous: Mapping[str, Any] | None) -> None:
        moment = self._now()
        if previous is not None:
            before = _parse_gmt(str(previous["date_modified_gmt"]))
            moment = max(moment, before + timedelta(seconds=1))
        order["date_modified_gmt"] = _gmt(moment)
        order["date_modified"] = _local(moment)

    # -- the HTTP API ------------------------------------------------------------------------
    def answer(self, method: str, target: str, headers: Mapping[str, str], raw: bytes) -> Answer:
        """One API request (what the HTTP handler serves; callable directly)."""
        url = urlsplit(target)
        query = {name: values[0] for name, values in parse_qs(url.query).items()}
        lowered = {name.lower(): value for name, value in headers.items()}
        try:
            body = json.loads(raw) if raw else None
        except (ValueError, RecursionError):
            body = None
        with self._lock:
            self.requests.append(
                {
                    "method": method,
                    "path": url.path,
                    "query": query,
                    "headers": dict(headers),
                    "json": body,
                }
            )
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            return failure
        if raw and body is None:
            return _error(400, "rest_invalid_json", "Invalid JSON body passed.")
        try:
            return self._route(method, url.path.rstrip("/"), query, lowered, body)
        except _Refusal as refusal:
            return refusal.answer

    def _respond(self, method: str, target: str, headers: dict[str, str], raw: bytes, /) -> Answer:
        return self.answer(method, target, headers, raw)  # looked up per request: tests patch it

    def too_large(self) -> Answer:
        return _error(413, "rest_request_too_large", "Request too large.")

    def _route(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: Any,
    ) -> Answer:
        orders = f"{API_PREFIX}/orders"
        if not path.startswith(orders):
            raise _Refusal(_no_route())
        parts = path[len(orders) :].strip("/").split("/") if path != orders else []
        if not parts and method == "GET":
            self._authenticate(headers, "woocommerce_rest_cannot_view", "list resources")
            return self._list(query)
        if len(parts) in (1, 2) and parts[0].isdigit() and parts[1:] in ([], ["notes"]):
            order_id = int(parts[0])
            action = {
                ("GET", 1): ("woocommerce_rest_cannot_view", "view this resource"),
                ("PUT", 1): ("woocommerce_rest_cannot_edit", "edit this resource"),
                ("GET", 2): ("woocommerce_rest_cannot_view", "list resources"),
                ("POST", 2): ("woocommerce_rest_cannot_create", "create resources"),
            }.get((method, len(parts)))
            if action is None:
                raise _Refusal(_no_route())
            self._authenticate(headers, *action)
            with self._lock:
                if order_id not in self._orders:
                    raise _Refusal(
                        _error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
                    )
                if len(parts) == 1:
                    return self._order(method, order_id, body)
                return self._order_notes(method, order_id, body)
        raise _Refusal(_no_route())

    def _authenticate(self, headers: Mapping[str, str], code: str, what: str) -> None:
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic" or not credentials:
            raise _Refusal(_error(401, code, f"Sorry, you cannot {what}."))
        try:
            key, _, secret = base64.b64decode(credentials).decode().partition(":")
        except (ValueError, UnicodeDecodeError) as error:
            raise _Refusal(_error(401, code, f"Sorry, you cannot {what}.")) from error
        if not hmac.compare_digest(key.encode(), self._consumer_key.encode()):
            raise _Refusal(
                _error(401, "woocommerce_rest_authentication_error", "Consumer key is invalid.")
            )
        if not hmac.compare_digest(secret.encode(), self._consumer_secret.encode()):
            raise _Refusal(
                _error(401, "woocommerce_rest_authentication_error", "Consumer secret is invalid.")
            )

    def _list(self, query: Mapping[str, str]) -> Answer:
        page = _integer(query, "page", 1, 1, 10**6)
        per_page = _integer(query, "per_page", 10, 1, 100)
        order = query.get("order", "desc")
        if order not in ("asc", "desc"):
            raise _invalid("order", "order is not one of asc and desc.")
        orderby = query.get("orderby", "date")
        if orderby not in ORDERBY:
            raise _invalid("orderby", f"orderby is not one of {', '.join(sorted(ORDERBY))}.")
        gmt = query.get("dates_are_gmt", "false").lower() in ("1", "true")
        status = query.get("status", "any")
        with self._lock:
            found = [
                copy.deepcopy(o)
                for o in self._orders.values()
                if (o["status"] != "trash" if status == "any" else o["status"] == status)
            ]
        if "modified_after" in query:
            after = _moment(query["modified_after"], "modified_after")
            field_name = "date_modified_gmt" if gmt else "date_modified"
            zone = UTC if gmt else SITE_TIMEZONE
            after = after if after.tzinfo else after.replace(tzinfo=zone)
            found = [
                o
                for o in found
                if datetime.fromisoformat(o[field_name]).replace(tzinfo=zone) > after
            ]
        key: Callable[[dict[str, Any]], Any] = {
            "modified": lambda o: (o["date_modified_gmt"], o["id"]),
            "date": lambda o: (o["date_created_gmt"], o["id"]),
        }.get(orderby, lambda o: o["id"])
        found.sort(key=key, reverse=order == "desc")
        total = len(found)
        pages = math.ceil(total / per_page)
        chunk = found[(page - 1) * per_page : page * per_page]
        return Answer(200, chunk, {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)})

    def _order(self, method: str, order_id: int, body: Any) -> Answer:
        stored = self._orders[order_id]
        if method == "PUT":
            if not isinstance(body, dict):
                raise _Refusal(_error(400, "rest_invalid_json", "Invalid JSON body passed."))
            status = body.get("status", stored["status"])
            if status not in STATUSES:
                raise _invalid("status", f"status is not one of {', '.join(sorted(STATUSES))}.")
            previous = copy.deepcopy(stored)
            stored["status"] = status
            if status == "completed" and not stored.get("date_completed_gmt"):
                stored["date_completed_gmt"] = _gmt(self._now())
                stored["date_completed"] = _local(self._now())
            self._touch(stored, previous)
        return Answer(200, copy.deepcopy(stored))

    def _order_notes(self, method: str, order_id: int, body: Any) -> Answer:
        notes = self._notes.setdefault(order_id, [])
        if method == "GET":
            return Answer(200, copy.deepcopy(notes))
        text = body.get("note") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text:
            raise _Refusal(
                _error(
                    400,
                    "rest_missing_callback_param",
                    "Missing parameter(s): note",
                    params=["note"],
                )
            )
        self._next_note += 1
        now = self._now()
        note = {
            "id": self._next_note,
            "author": "system",
            "date_created": _local(now),
            "date_created_gmt": _gmt(now),
            "note": text,
            "customer_note": bool(body.get("customer_note", False)),
            "_links": {
                "self": [
                    {"href": f"{STORE_URL}{API_PREFIX}/orders/{order_id}/notes/{self._next_note}"}
                ],
                "up": [{"href": f"{STORE_URL}{API_PREFIX}/orders/{order_id}"}],
            },
        }
        notes.insert(0, note)  # WooCommerce lists the newest first
        return Answer(201, copy.deepcopy(note))


def _no_route() -> Answer:
    return _error(404, "rest_no_route", "No route was found matching the URL and request method.")


def _integer(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = query.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError as error:
        raise _invalid(name, f"{name} is not of type integer.") from error
    if not low <= value <= high:
        raise _invalid(name, f"{name} must be between {low} (inclusive) and {high} (inclusive)")
    return value


def _moment(text: str, name: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise _invalid(name, "Invalid date.") from error


def _product_id(sku: str) -> int:
    """A stable product id per SKU, as a store's catalogue would have."""
    return 100 + int(hashlib.sha256(sku.encode()).hexdigest()[:6], 16) % 9000
