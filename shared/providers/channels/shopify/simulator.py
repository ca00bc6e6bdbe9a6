"""Shopify's side, for tests and the embedded stack: webhook deliveries as shopify.dev documents
them (the REST Admin Order resource, the delivery headers of
shopify.dev/docs/apps/build/webhooks/delivery-structure and the HMAC-SHA256 of the raw body with
the app's client secret, base64), and the part of the GraphQL Admin API (2025-10) that
fulfilments use, served on 127.0.0.1.

The served API (POST /admin/api/2025-10/graphql.json) checks what Shopify's does:
- `X-Shopify-Access-Token` must be the app's token: 401 `{"errors": "[API] Invalid API key or
  access token (unrecognized login or wrong password)"}` otherwise.
- `order(id:)` answers the order's fulfillments (id, status, trackingInfo) and its fulfillment
  orders (id, status, lineItems {id, remainingQuantity, lineItem {id}}); an unknown order is
  `"order": null`, as GraphQL answers a missing node.
- `fulfillmentCreate(fulfillment:)` checks every fulfillment order exists, is OPEN or
  IN_PROGRESS and belongs to one order, and every line item's quantity is within what remains;
  a problem is a `userErrors` entry (HTTP 200), as Shopify reports them. A fulfilment with
  blank fulfillmentOrderLineItems takes everything left. Fulfilled fulfillment orders close.
- `throttle_next(n)`: the next n calls answer the documented THROTTLED error (HTTP 200, top-
  level `errors` with extensions.code THROTTLED and the cost's throttleStatus).
Simplifications: the operation is recognised by its root field (`fulfillmentCreate`, else
`order`), not parsed as GraphQL, and the answer carries every field the client selects
whatever the selection. Each order has one fulfillment order (one location) holding every line.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import secrets
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from shared.providers.channels.shopify.client import GRAPHQL_PATH, TOKEN_HEADER
from shared.providers.channels.shopify.webhook import sign as shopify_hmac
from shared.providers.simulation import Answer, Line, ServedApi, SignedRequest, money_text

SAMPLE_ORDER = Path(__file__).parent / "sample_order.json"
SHOPIFY_API_VERSION = "2025-10"
# Shopify's 401 body text.
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"  # noqa: S105
FULFILLABLE = frozenset({"OPEN", "IN_PROGRESS"})
CANCEL_REASONS = frozenset({"customer", "declined", "fraud", "inventory", "other", "staff"})
# The cost figures a throttled answer reports (a Standard plan's 100 points a second).
MAXIMUM_AVAILABLE = 2000.0
RESTORE_RATE = 100.0
_ORDER_GID = re.compile(r"^gid://shopify/Order/(\d+)$")


@dataclass
class _FulfillmentOrder:
    id: str
    order_id: str
    status: str
    lines: list[dict[str, Any]]  # {id, remainingQuantity, totalQuantity, lineItem {id}}


@dataclass
class _ServedOrder:
    resource: dict[str, Any]
    fulfillment_orders: list[_FulfillmentOrder]
    fulfillments: list[dict[str, Any]] = field(default_factory=list)


def _stable_id(text: str, base: int) -> int:
    """A Shopify-sized id that is the same for the same text (a SKU's variant, run to run)."""
    return base + int(hashlib.sha256(text.encode()).hexdigest()[:12], 16) % 10**9


def _shopify_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


class ShopifySimulator(ServedApi):
    served_name = "shopify"
    json_type = "application/json; charset=utf-8"
    path = "/webhooks/orders/shopify"

    def __init__(
        self,
        client_secret: str,
        shop_domain: str = "orderhub-demo.myshopify.com",
        *,
        access_token: str | None = None,
    ):
        self._secret = client_secret
        self._shop = shop_domain
        self.access_token = access_token or f"shpat_{secrets.token_hex(16)}"
        self.requests: list[dict[str, Any]] = []
        self._orders: dict[str, _ServedOrder] = {}
        self._throttled = 0
        self._next_id = 1000 + secrets.randbelow(9000)
        self._lock = threading.RLock()

    @classmethod
    def from_secret(cls, secret: Mapping[str, str]) -> ShopifySimulator:
        """Signing with the app's client secret, as the shop the secret names (if any), and
        serving the API to the secret's admin access token (a fresh one when it has none)."""
        token = secret.get("admin_access_token") or None
        if secret.get("shop_domain"):
            return cls(secret["webhook_secret"], secret["shop_domain"], access_token=token)
        return cls(secret["webhook_secret"], access_token=token)

    # -- orders in the simulated shop -----------------------------------------------------------
    def order(
        self,
        order_id: int,
        lines: list[Line],
        *,
        number: int | None = None,
        cash_on_delivery: bool = False,
        paid: bool = False,
        tax_id: str | None = None,
        company: str | None = None,
        locker: str | None = None,
    ) -> dict[str, Any]:
        """A REST Admin Order resource (taxes included, PLN) with consistent totals, placed in
        the simulated shop (its API can fulfil it). `tax_id` is the NIP the buyer typed at
        checkout (a `nip` note attribute) and `company` the billing company; `locker` an InPost
        locker chosen for the sample's Paczkomat shipping line."""
        order: dict[str, Any] = copy.deepcopy(json.loads(SAMPLE_ORDER.read_text()))
        number = number or 1000 + order_id % 1000
        order.update(
            id=order_id,
            admin_graphql_api_id=f"gid://shopify/Order/{order_id}",
            name=f"#{number}",
            order_number=number,
        )
        items = []
        items_total = tax_total = Decimal(0)
        for index, line in enumerate(lines, start=1):
            gross = Decimal(line.unit_price) * line.quantity
            rate = Decimal(line.vat_rate)
            tax = gross - gross / (1 + rate)
            items_total += gross
            tax_total += tax
            item_id = order_id * 100 + index
            items.append(
                {
                    "id": item_id,
                    "admin_graphql_api_id": f"gid://shopify/LineItem/{item_id}",
                    "variant_id": _stable_id(line.sku, 40_000_000_000),
                    "product_id": _stable_id(line.sku, 8_000_000_000),
                    "sku": line.sku,
                    "name": line.name,
                    "title": line.name,
                    "quantity": line.quantity,
                    "price": line.unit_price,
                    "requires_shipping": True,
                    "taxable": True,
                    "fulfillment_status": None,
                    "tax_lines": [{"price": money_text(tax), "rate": float(rate), "title": "VAT"}],
                    "discount_allocations": [],
                }
            )
        shipping = sum((Decimal(s["price"]) for s in order["shipping_lines"]), Decimal(0))
        tax_total += sum(
            (Decimal(t["price"]) for s in order["shipping_lines"] for t in s["tax_lines"]),
            Decimal(0),
        )
        order.update(
            line_items=items,
            total_line_items_price=money_text(items_total),
            subtotal_price=money_text(items_total),
            total_price=money_text(items_total + shipping),
            total_tax=money_text(tax_total),
            financial_status="paid" if paid else "pending",
        )
        if cash_on_delivery:
            order.update(
                gateway="Cash on Delivery (COD)", payment_gateway_names=["Cash on Delivery (COD)"]
            )
        attributes = order.setdefault("note_attributes", [])
        if tax_id is not None:
            attributes.append({"name": "NIP", "value": tax_id})
        if company is not None:
            order["billing_address"]["company"] = company
        if locker is not None:
            attributes.append({"name": "paczkomat", "value": locker})
        self.place(order)
        return order

    def place(self, resource: Mapping[str, Any]) -> None:
        """Put an order (a REST Order resource) in the simulated shop, with one OPEN
        fulfillment order holding every line, as Shopify creates it with the order."""
        document = copy.deepcopy(dict(resource))
        order_id = str(document["id"])
        with self._lock:
            lines = [
                {
                    "id": f"gid://shopify/FulfillmentOrderLineItem/{self._new_id()}",
                    "remainingQuantity": int(item["quantity"]),
                    "totalQuantity": int(item["quantity"]),
                    "lineItem": {"id": f"gid://shopify/LineItem/{item['id']}"},
                }
                for item in document.get("line_items", [])
            ]
            fulfillment_order = _FulfillmentOrder(
                id=f"gid://shopify/FulfillmentOrder/{self._new_id()}",
                order_id=order_id,
                status="CANCELLED" if document.get("cancelled_at") else "OPEN",
                lines=lines,
            )
            self._orders[order_id] = _ServedOrder(document, [fulfillment_order])

    def fulfillments(self, order_id: int | str) -> list[dict[str, Any]]:
        """The fulfillments the API created for an order (id, status, trackingInfo, lines)."""
        with self._lock:
            served = self._orders.get(str(order_id))
            return copy.deepcopy(served.fulfillments) if served else []

    def fulfillment_orders(self, order_id: int | str) -> list[dict[str, Any]]:
        with self._lock:
            served = self._orders.get(str(order_id))
            return (
                [self._fulfillment_order_node(fo) for fo in served.fulfillment_orders]
                if served
                else []
            )

    def throttle_next(self, count: int = 1) -> None:
        """The next `count` API calls answer THROTTLED (the bucket is empty)."""
        with self._lock:
            self._throttled = count

    # -- webhook bodies ---------------------------------------------------------------------------
    def updated(self, order: Mapping[str, Any], **changes: Any) -> dict[str, Any]:
        """The order as orders/updated carries it after a change: `changes` applied and
        updated_at moved on (at least a second past the last one)."""
        document = copy.deepcopy(dict(order))
        document.update(copy.deepcopy(changes))
        if "updated_at" not in changes:
            document["updated_at"] = _shopify_time(self._later_than(order))
        self._keep(document)
        return document

    def cancelled(self, order: Mapping[str, Any], reason: str = "customer") -> dict[str, Any]:
        """The order as orders/cancelled (and every later orders/updated) carries it: cancelled_at
        and cancel_reason set, updated_at the moment of the cancel. Its fulfillment orders in
        the served shop are cancelled with it."""
        if reason not in CANCEL_REASONS:
            raise ValueError(f"Shopify has no cancel_reason {reason!r}")
        moment = _shopify_time(self._later_than(order))
        document = copy.deepcopy(dict(order))
        document.update(cancelled_at=moment, cancel_reason=reason, updated_at=moment)
        self._keep(document)
        with self._lock:
            served = self._orders.get(str(document["id"]))
            for fulfillment_order in served.fulfillment_orders if served else []:
                if fulfillment_order.status in ("OPEN", "IN_PROGRESS", "SCHEDULED", "ON_HOLD"):
                    fulfillment_order.status = "CANCELLED"
        return document

    def webhook(
        self, topic: str, resource: dict[str, Any], *, webhook_id: str | None = None
    ) -> SignedRequest:
        body = json.dumps(resource, ensure_ascii=False).encode()
        return SignedRequest(
            self.path,
            body,
            {
                "Content-Type": "application/json",
                "X-Shopify-Topic": topic,
                "X-Shopify-Hmac-Sha256": shopify_hmac(body, self._secret),
                "X-Shopify-Shop-Domain": self._shop,
                "X-Shopify-API-Version": SHOPIFY_API_VERSION,
                "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
                "X-Shopify-Event-Id": str(uuid.uuid4()),
                "X-Shopify-Triggered-At": datetime.now(UTC).isoformat(),
            },
        )

    @staticmethod
    def _later_than(order: Mapping[str, Any]) -> datetime:
        last = datetime.fromisoformat(str(order.get("updated_at") or order["created_at"]))
        if last.tzinfo is None:
            last = last.replace(tzinfo=UTC)
        return max(datetime.now(UTC), last + timedelta(seconds=1))

    def _keep(self, document: dict[str, Any]) -> None:
        with self._lock:
            served = self._orders.get(str(document.get("id")))
            if served is not None:
                served.resource = copy.deepcopy(document)

    def _new_id(self) -> int:
        with self._lock:
            self._next_id += 1
            return 5_000_000_000 + self._next_id

    # -- the HTTP API -------------------------------------------------------------------------
    def answer(self, method: str, path: str, headers: Mapping[str, str], raw: bytes) -> Answer:
        """One API request (the HTTP handler's work, callable directly)."""
        url = urlsplit(path)
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        with self._lock:
            self.requests.append(
                {
                    "method": method,
                    "path": url.path,
                    "query": {k: v[0] for k, v in parse_qs(url.query).items()},
                    "headers": dict(headers),
                    "json": body,
                }
            )
        refusal = self._refusal(method, url.path, headers, body)
        if refusal is not None:
            return refusal
        query: str = body["query"]
        variables = body.get("variables")
        variables = variables if isinstance(variables, dict) else {}
        with self._lock:
            if self._throttled > 0:
                self._throttled -= 1
                return Answer(200, _throttled_body())
            if "fulfillmentCreate" in query:
                data: dict[str, Any] = {"fulfillmentCreate": self._fulfillment_create(variables)}
            elif re.search(r"\border\s*\(", query):
                data = {"order": self._order_node(variables.get("id"))}
            else:
                return Answer(200, _errors("the simulator serves only order and fulfillmentCreate"))
        return Answer(200, {"data": data, "extensions": _cost(10.0)})

    def _respond(self, method: str, target: str, headers: dict[str, str], raw: bytes, /) -> Answer:
        return self.answer(method, target, headers, raw)  # looked up per request: tests patch it

    def too_large(self) -> Answer:
        return Answer(413, {"errors": "Request Entity Too Large"})

    def _served_headers(self) -> dict[str, str]:
        return {"X-Request-Id": str(uuid.uuid4())}

    def _refusal(
        self, method: str, path: str, headers: Mapping[str, str], body: Any
    ) -> Answer | None:
        """What Shopify answers before running any GraphQL: no such path, no valid token, no
        query."""
        if path != GRAPHQL_PATH:
            return Answer(404, {"errors": "Not Found"})
        if method != "POST":
            return Answer(405, {"errors": "Method Not Allowed"})
        token = next((v for k, v in headers.items() if k.lower() == TOKEN_HEADER.lower()), "")
        if not secrets.compare_digest(token.encode(), self.access_token.encode()):
            return Answer(401, {"errors": INVALID_TOKEN})
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return Answer(400, {"errors": {"query": "Required parameter missing or invalid"}})
        return None

    # -- the GraphQL operations ---------------------------------------------------------------
    def _order_node(self, gid: Any) -> dict[str, Any] | None:
        found = _ORDER_GID.match(gid) if isinstance(gid, str) else None
        served = self._orders.get(found.group(1)) if found else None
        if served is None:
            return None
        return {
            "id": gid,
            "fulfillments": copy.deepcopy(served.fulfillments),
            "fulfillmentOrders": {
                "nodes": [self._fulfillment_order_node(fo) for fo in served.fulfillment_orders]
            },
        }

    @staticmethod
    def _fulfillment_order_node(fulfillment_order: _FulfillmentOrder) -> dict[str, Any]:
        return {
            "id": fulfillment_order.id,
            "status": fulfillment_order.status,
            "lineItems": {"nodes": copy.deepcopy(fulfillment_order.lines)},
        }

    def _fulfillment_create(self, variables: Mapping[str, Any]) -> dict[str, Any]:
        request = variables.get("fulfillment")
        if not isinstance(request, dict):
            request = {}  # GraphQL would refuse the missing argument; the plan refuses it too
        try:
            served, planned = self._plan(request.get("lineItemsByFulfillmentOrder"))
        except _UserError as error:
            return {
                "fulfillment": None,
                "userErrors": [{"field": error.field, "message": str(error)}],
            }
        for line, quantity in planned:
            line["remainingQuantity"] -= quantity
        for fo in served.fulfillment_orders:
            if fo.status in FULFILLABLE:
                left = any(line["remainingQuantity"] for line in fo.lines)
                fo.status = "IN_PROGRESS" if left else "CLOSED"
        tracking = request.get("trackingInfo")
        tracking = tracking if isinstance(tracking, dict) else {}
        fulfillment = {
            "id": f"gid://shopify/Fulfillment/{self._new_id()}",
            "status": "SUCCESS",
            "trackingInfo": [{k: tracking.get(k) for k in ("company", "number", "url")}]
            if tracking.get("number")
            else [],
            "notifyCustomer": bool(request.get("notifyCustomer")),
            "fulfillmentLineItems": [
                {"lineItem": copy.deepcopy(line["lineItem"]), "quantity": quantity}
                for line, quantity in planned
            ],
        }
        served.fulfillments.append(fulfillment)
        return {"fulfillment": {"id": fulfillment["id"], "status": "SUCCESS"}, "userErrors": []}

    def _plan(self, groups: Any) -> tuple[_ServedOrder, list[tuple[dict[str, Any], int]]]:
        """The order and the (fulfillment order line item, quantity) pairs a fulfillmentCreate
        asks for, checked as Shopify checks them."""
        if not isinstance(groups, list) or not groups:
            raise _UserError(
                "Line items by fulfillment order can't be blank.",
                ["fulfillment", "lineItemsByFulfillmentOrder"],
            )
        by_id = {fo.id: fo for order in self._orders.values() for fo in order.fulfillment_orders}
        planned: list[tuple[dict[str, Any], int]] = []
        orders: set[str] = set()
        for group in groups:
            wanted = group.get("fulfillmentOrderId") if isinstance(group, dict) else None
            fo = by_id.get(wanted) if isinstance(wanted, str) else None
            if fo is None:
                raise _UserError("Fulfillment order does not exist.")
            if fo.status not in FULFILLABLE:
                raise _UserError(
                    f"Fulfillment order {fo.id} has an unfulfillable status= {fo.status.lower()}."
                )
            orders.add(fo.order_id)
            planned += _planned_lines(fo, group.get("fulfillmentOrderLineItems"))
        if len(orders) != 1:
            raise _UserError("Fulfillment orders must belong to the same order.")
        if not planned:
            raise _UserError("Fulfillment order has no line items to fulfill.")
        return self._orders[orders.pop()], planned


class _UserError(Exception):
    def __init__(self, message: str, field: list[str] | None = None) -> None:
        super().__init__(message)
        self.field = field or ["fulfillment"]


def _planned_lines(fo: _FulfillmentOrder, wanted: Any) -> list[tuple[dict[str, Any], int]]:
    if not wanted:  # blank: every line item of the fulfillment order, all that is left
        return [(line, line["remainingQuantity"]) for line in fo.lines if line["remainingQuantity"]]
    if not isinstance(wanted, list):
        raise _UserError("Invalid fulfillment order line items.")
    lines = {line["id"]: line for line in fo.lines}
    planned = []
    for item in wanted:
        line = lines.get(item.get("id")) if isinstance(item, dict) else None
        quantity = item.get("quantity") if isinstance(item, dict) else None
        if line is None or not isinstance(quantity, int) or isinstance(quantity, bool):
            raise _UserError("Invalid fulfillment order line item quantity requested.")
        if not 0 < quantity <= line["remainingQuantity"]:
            raise _UserError("Invalid fulfillment order line item quantity requested.")
        planned.append((line, quantity))
    return planned


def _errors(message: str, code: str = "BAD_REQUEST") -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


def _cost(actual: float | None, available: float = MAXIMUM_AVAILABLE) -> dict[str, Any]:
    return {
        "cost": {
            "requestedQueryCost": 10,
            "actualQueryCost": actual,
            "throttleStatus": {
                "maximumAvailable": MAXIMUM_AVAILABLE,
                "currentlyAvailable": available,
                "restoreRate": RESTORE_RATE,
            },
        }
    }


def _throttled_body() -> dict[str, Any]:
    """Shopify's documented throttled answer: no data, the THROTTLED error, and the cost."""
    body = {
        "errors": [
            {
                "message": "Throttled",
                "extensions": {
                    "code": "THROTTLED",
                    "documentation": "https://shopify.dev/api/usage/rate-limits",
                },
            }
        ]
    }
    return {**body, "extensions": _cost(None, available=0.0)}
