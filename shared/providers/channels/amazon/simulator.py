"""Amazon's side, for tests and the embedded stack: LWA and the SP-API calls orderhub makes,
served over HTTP on 127.0.0.1, and the ORDER_CHANGE notifications Amazon puts on the queue.

What it checks, as Amazon documents it (see lwa.py, notifications.py, client.py for sources):
- POST /auth/o2/token: form-encoded grant_type=refresh_token with this app's client id and
  secret (401 invalid_client) and the seller's refresh token (400 invalid_grant) ->
  {"access_token": "Atza|...", "token_type": "bearer", "expires_in": 3600}.
- Every SP-API call needs a live token in x-amz-access-token (403 Unauthorized otherwise). A
  restricted data token (RDT) works only for the resources it was issued for.
- POST /tokens/2021-03-01/restrictedDataToken (with an LWA token): restrictedResources of
  method, path and, for orders, dataElements among buyerInfo, shippingAddress,
  buyerTaxInformation (400 InvalidInput otherwise) -> {"restrictedDataToken": "Atz.sprdt|...",
  "expiresIn": 3600}.
- GET /orders/v0/orders/{id}: BuyerInfo only to an RDT granting buyerInfo; the shipping
  address's restricted fields (Name, CompanyName, AddressLine1-3, Phone, AddressType) only to
  one granting shippingAddress, and no ShippingAddress at all unless the order is Unshipped,
  PartiallyShipped, Shipped or InvoiceUnconfirmed (the model's notes). 404 NotFound.
- GET /orders/v0/orders/{id}/orderItems: `items_per_page` per page with NextToken; a Pending
  order's items carry no prices, taxes, shipping or promotions (the operation's note).
- POST /orders/v0/orders/{id}/shipmentConfirmation: the ConfirmShipmentRequest's required
  fields, the order's marketplaceId, a positive numeric packageReferenceId, carrierName when
  carrierCode is Other, an ISO 8601 shipDate, order item ids of this order ("OrderItemId is
  invalid, please obtain the value through the getOrderItems API or Manage Orders page") and
  quantities within what is unshipped; items already shipped -> 400 "Failed to create package
  due to not finding a matching package or order already fulfilled." (both messages as Amazon
  writes them, github.com/jlevers/selling-partner-api/issues/528 and
  github.com/amzn/selling-partner-api-models/issues/5037) -> 204, the order PartiallyShipped or
  Shipped.
- `rate_limit(times, operation=...)`: the next calls answer 429 QuotaExceeded.
Every request served is kept in `requests` (method, path, query, headers, json, form).

Assumptions beyond the docs: LastUpdateDate carries milliseconds and moves forward by at least
one per change (Amazon's samples show whole seconds), so every change is a higher revision;
`place_order(business_vat=...)` puts the VAT id in BuyerInfo.BuyerTaxInfo (TaxClassifications
Name "VATNumber") whatever the marketplace, where v0 documents that field for Brazil, Mexico
and India only: it exercises the mapping of a business buyer's tax id.
"""

from __future__ import annotations

import copy
import hashlib
import json
import secrets
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from shared.kernel.money import currency_exponent
from shared.providers.channels.amazon.api import LWA_TOKEN_PATH
from shared.providers.channels.amazon.marketplaces import MARKETPLACE_COUNTRIES
from shared.providers.channels.amazon.notifications import ORDERS_PATH, RDT_PATH
from shared.providers.simulation import Answer, Line, ServedApi

POLAND = "A1C3SOZRARQ6R3"
DATA_ELEMENTS = frozenset({"buyerInfo", "shippingAddress", "buyerTaxInformation"})
RESTRICTED_ADDRESS_FIELDS = (
    "Name",
    "CompanyName",
    "AddressLine1",
    "AddressLine2",
    "AddressLine3",
    "Phone",
    "AddressType",
    "ExtendedFields",
)
ADDRESSED_STATUSES = frozenset({"Unshipped", "PartiallyShipped", "Shipped", "InvoiceUnconfirmed"})
PRICE_FIELDS = (
    "ItemPrice",
    "ItemTax",
    "ShippingPrice",
    "ShippingTax",
    "ShippingDiscount",
    "ShippingDiscountTax",
    "PromotionDiscount",
    "PromotionDiscountTax",
    "CODFee",
    "CODFeeDiscount",
)
RATES = {  # requests per second, each operation's documented default usage plan
    "createRestrictedDataToken": "1",
    "getOrder": "0.5",
    "getOrderItems": "0.5",
    "confirmShipment": "2",
}
ALREADY_SHIPPED = (
    "Failed to create package due to not finding a matching package or order already fulfilled."
)
UNKNOWN_ITEM = (
    "OrderItemId  is invalid, please obtain the value through the getOrderItems API or "
    "Manage Orders page"
)
# A buyer and an address per country, as a restricted data token shows them.
BUYERS: dict[str, dict[str, str]] = {
    "PL": {
        "Name": "Jan Kowalski",
        "AddressLine1": "ul. Marszałkowska 1/2",
        "City": "Warszawa",
        "PostalCode": "00-624",
        "Phone": "+48 600 100 200",
        "domain": "amazon.pl",
    },
    "DE": {
        "Name": "Erika Mustermann",
        "AddressLine1": "Heidestraße 17",
        "City": "Köln",
        "PostalCode": "51147",
        "Phone": "+49 221 1234567",
        "domain": "amazon.de",
    },
    "GB": {
        "Name": "Jane Smith",
        "AddressLine1": "10 Downing Street",
        "City": "London",
        "PostalCode": "SW1A 2AA",
        "Phone": "+44 20 7946 0000",
        "domain": "amazon.co.uk",
    },
    "SE": {
        "Name": "Anna Svensson",
        "AddressLine1": "Drottninggatan 10",
        "City": "Stockholm",
        "PostalCode": "111 51",
        "Phone": "+46 8 123 456",
        "domain": "amazon.se",
    },
}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error(code: str, message: str, details: str = "") -> dict[str, Any]:
    return {"errors": [{"code": code, "message": message, "details": details}]}


class _Refusal(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(str(body))
        self.status = status
        self.body = body


def _invalid(message: str, details: str = "") -> _Refusal:
    return _Refusal(400, _error("InvalidInput", message, details))


@dataclass
class _Order:
    document: dict[str, Any]  # getOrder's payload with every restricted field
    items: list[dict[str, Any]]
    packages: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Throttle:
    remaining: int
    operation: str | None


class AmazonSimulator(ServedApi):
    served_name = "amazon"
    none_is_empty = True  # 204: no body

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        seller_id: str = "A3TH9S8BH6GOGM",
        items_per_page: int = 2,
        token_lifetime: int = 3600,
    ) -> None:
        self.client_id = client_id
        self._client_secret = client_secret
        self.refresh_token = refresh_token  # the seller's authorisation this app holds
        self.seller_id = seller_id
        self.items_per_page = items_per_page
        self.token_lifetime = token_lifetime
        self.application_id = f"amzn1.sellerapps.app.{uuid.uuid4()}"
        self.subscription_id = str(uuid.uuid4())
        self.requests: list[dict[str, Any]] = []
        self._orders: dict[str, _Order] = {}
        self._tokens: dict[str, float] = {}
        self._rdts: dict[str, tuple[float, list[dict[str, Any]]]] = {}
        self._throttles: list[_Throttle] = []
        self._last_update_ms = 0
        self._lock = threading.RLock()

    @classmethod
    def from_secret(cls, document: Mapping[str, Any]) -> AmazonSimulator:
        simulator = cls(
            client_id=str(document["lwa_client_id"]),
            client_secret=str(document["lwa_client_secret"]),
            refresh_token=str(document["refresh_token"]),
        )
        if document.get("seller_id"):
            simulator.seller_id = str(document["seller_id"])
        return simulator

    # -- builders: what buyers and Amazon do ---------------------------------------------------
    def place_order(
        self,
        lines: list[Line],
        *,
        marketplace: str = POLAND,
        currency: str = "PLN",
        business_vat: str | None = None,
        cod: bool = False,
        status: str = "Unshipped",
        shipping: str = "0.00",
    ) -> str:
        """A seller-fulfilled order (VAT-inclusive prices, `Line.vat_rate` a fraction) with
        consistent totals; `shipping` is charged on the first item. Returns its id."""
        if not lines:
            raise ValueError("an order has at least one line")
        order_id = f"{_digits(3)}-{_digits(7)}-{_digits(7)}"
        country = MARKETPLACE_COUNTRIES.get(marketplace, "PL")
        quantum = Decimal(1).scaleb(-currency_exponent(currency))

        def money(value: Decimal) -> dict[str, str]:
            return {"CurrencyCode": currency, "Amount": f"{value.quantize(quantum)}"}

        items: list[dict[str, Any]] = []
        total = Decimal(0)
        for index, line in enumerate(lines):
            gross = Decimal(line.unit_price) * line.quantity
            tax = (gross - gross / (1 + Decimal(line.vat_rate))).quantize(
                quantum, rounding=ROUND_HALF_UP
            )
            ship = Decimal(shipping) if index == 0 else Decimal(0)
            ship_tax = (ship - ship / (1 + Decimal(line.vat_rate))).quantize(
                quantum, rounding=ROUND_HALF_UP
            )
            total += gross + ship
            items.append(
                {
                    "ASIN": asin_of(line.sku),
                    "OrderItemId": _digits(14),
                    "SellerSKU": line.sku,
                    "Title": line.name,
                    "QuantityOrdered": line.quantity,
                    "QuantityShipped": 0,
                    "ProductInfo": {"NumberOfItems": "1"},
                    "ItemPrice": money(gross),
                    "ItemTax": money(tax),
                    "ShippingPrice": money(ship),
                    "ShippingTax": money(ship_tax),
                    "ShippingDiscount": money(Decimal(0)),
                    "PromotionDiscount": money(Decimal(0)),
                    "PromotionDiscountTax": money(Decimal(0)),
                    "IsGift": "false",
                    "ConditionId": "New",
                    "ConditionSubtypeId": "New",
                    "IsTransparency": False,
                    "SerialNumberRequired": False,
                }
            )
        buyer = BUYERS.get(country, BUYERS["PL"])
        now = datetime.now(UTC)
        document: dict[str, Any] = {
            "AmazonOrderId": order_id,
            "PurchaseDate": _iso(now),
            "LastUpdateDate": self._next_update(),
            "OrderStatus": status,
            "FulfillmentChannel": "MFN",
            "SalesChannel": f"Amazon.{buyer['domain'].removeprefix('amazon.')}",
            "ShipServiceLevel": "Std Dom",
            "OrderTotal": money(total),
            "NumberOfItemsShipped": 0,
            "NumberOfItemsUnshipped": sum(line.quantity for line in lines),
            "PaymentMethod": "COD" if cod else "Other",
            "PaymentMethodDetails": ["CashOnDelivery"] if cod else ["Standard"],
            "MarketplaceId": marketplace,
            "ShipmentServiceLevelCategory": "Standard",
            "OrderType": "StandardOrder",
            "EarliestShipDate": _iso(now + timedelta(days=1)),
            "LatestShipDate": _iso(now + timedelta(days=2)),
            "IsBusinessOrder": business_vat is not None,
            "IsPrime": False,
            "IsPremiumOrder": False,
            "IsGlobalExpressEnabled": False,
            "IsReplacementOrder": False,
            "IsSoldByAB": False,
            "IsISPU": False,
            "IsAccessPointOrder": False,
            "ShippingAddress": {
                "Name": buyer["Name"],
                "AddressLine1": buyer["AddressLine1"],
                "City": buyer["City"],
                "PostalCode": buyer["PostalCode"],
                "CountryCode": country,
                "Phone": buyer["Phone"],
                "AddressType": "Commercial" if business_vat else "Residential",
            },
            "BuyerInfo": {
                "BuyerEmail": f"{secrets.token_hex(8)}@marketplace.{buyer['domain']}",
                "BuyerName": buyer["Name"],
            },
        }
        if cod:
            document["PaymentExecutionDetail"] = [{"Payment": money(total), "PaymentMethod": "COD"}]
        if business_vat is not None:
            company = f"{buyer['Name'].split()[-1]} Sp. z o.o." if country == "PL" else "ACME Ltd"
            document["ShippingAddress"]["CompanyName"] = company
            document["BuyerInfo"]["BuyerTaxInfo"] = {
                "CompanyLegalName": company,
                "TaxingRegion": country,
                "TaxClassifications": [{"Name": "VATNumber", "Value": business_vat}],
            }
        with self._lock:
            self._orders[order_id] = _Order(document, items)
        return order_id

    def cancel(self, order_id: str) -> None:
        self.update(order_id, OrderStatus="Canceled")

    def update(self, order_id: str, **changes: Any) -> None:
        """Change getOrder fields (OrderStatus="Unshipped" after payment, ...)."""
        with self._lock:
            order = self._orders[order_id]
            order.document.update(copy.deepcopy(changes))
            order.document["LastUpdateDate"] = self._next_update()

    def notification(
        self, order_id: str, *, notification_id: str | None = None, seller_id: str | None = None
    ) -> str:
        """The ORDER_CHANGE body Amazon puts on the SQS queue for the order as it is now
        (shaped like schemas/notifications/OrderChangeNotification.json's example)."""
        with self._lock:
            order = self._orders[order_id]
            document, items = copy.deepcopy(order.document), copy.deepcopy(order.items)
        now = _iso(datetime.now(UTC))
        address = document.get("ShippingAddress") or {}
        body = {
            "NotificationVersion": "1.0",
            "NotificationType": "ORDER_CHANGE",
            "PayloadVersion": "1.0",
            "EventTime": now,
            "Payload": {
                "OrderChangeNotification": {
                    "NotificationLevel": "OrderLevel",
                    "SellerId": seller_id or self.seller_id,
                    "AmazonOrderId": order_id,
                    "OrderChangeType": "OrderStatusChange",
                    "OrderChangeTrigger": {
                        "TimeOfOrderChange": document["LastUpdateDate"],
                        "ChangeReason": "Order status changed",
                    },
                    "Summary": {
                        "MarketplaceId": document["MarketplaceId"],
                        "OrderStatus": document["OrderStatus"],
                        "PurchaseDate": document["PurchaseDate"],
                        "DestinationPostalCode": address.get("PostalCode"),
                        "FulfillmentType": document.get("FulfillmentChannel", "MFN"),
                        "OrderType": document.get("OrderType", "StandardOrder"),
                        "NumberOfItemsShipped": document.get("NumberOfItemsShipped", 0),
                        "NumberOfItemsUnshipped": document.get("NumberOfItemsUnshipped", 0),
                        "EarliestShipDate": document.get("EarliestShipDate"),
                        "LatestShipDate": document.get("LatestShipDate"),
                        "OrderPrograms": ["Business"] if document.get("IsBusinessOrder") else [],
                        "ShippingPrograms": [],
                        "OrderItems": [
                            {
                                "OrderItemId": item["OrderItemId"],
                                "SellerSKU": item.get("SellerSKU"),
                                "SupplySourceId": None,
                                "OrderItemStatus": (
                                    "Shipped"
                                    if item["QuantityShipped"] >= item["QuantityOrdered"]
                                    else "Unshipped"
                                ),
                                "Quantity": item["QuantityOrdered"],
                                "QuantityShipped": item["QuantityShipped"],
                            }
                            for item in items
                        ],
                    },
                }
            },
            "NotificationMetadata": {
                "ApplicationId": self.application_id,
                "SubscriptionId": f"subscription-id-{self.subscription_id}",
                "PublishTime": now,
                "NotificationId": notification_id or str(uuid.uuid4()),
            },
        }
        return json.dumps(body, ensure_ascii=False)

    # -- state, for tests ------------------------------------------------------------------------
    def order(self, order_id: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._orders[order_id].document)

    def items(self, order_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._orders[order_id].items)

    def packages(self, order_id: str) -> list[dict[str, Any]]:
        """The packageDetail of every shipment confirmation Amazon accepted for the order."""
        with self._lock:
            return copy.deepcopy(self._orders[order_id].packages)

    def rate_limit(self, times: int = 1, *, operation: str | None = None) -> None:
        """The next `times` SP-API calls (of `operation`, e.g. "getOrder", or any) get 429."""
        with self._lock:
            self._throttles.append(_Throttle(times, operation))

    def revoke_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()
            self._rdts.clear()

    def _next_update(self) -> str:
        with self._lock:
            now_ms = max(int(time.time() * 1000), self._last_update_ms + 1)
            self._last_update_ms = now_ms
        return _iso(datetime.fromtimestamp(now_ms / 1000, UTC))

    # -- the HTTP side ---------------------------------------------------------------------------
    def answer(self, method: str, target: str, headers: Mapping[str, str], raw: bytes) -> Answer:
        """One request, recorded, then answered (what the HTTP handler serves)."""
        parts = urlsplit(target)
        path = unquote(parts.path)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        lowered = {key.lower(): value for key, value in headers.items()}
        is_form = "x-www-form-urlencoded" in lowered.get("content-type", "")
        form = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
        body: Any = None
        if raw and not is_form:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        with self._lock:
            self.requests.append(
                {
                    "method": method,
                    "path": path,
                    "query": query,
                    "headers": lowered,
                    "json": body,
                    "form": form if is_form else None,
                }
            )
        try:
            if path == LWA_TOKEN_PATH and method == "POST":
                return self._lwa(form if is_form else {})
            return self._sp_api(method, path, query, lowered, body)
        except _Refusal as refusal:
            return Answer(refusal.status, refusal.body, _request_id())

    def _respond(self, method: str, target: str, headers: dict[str, str], raw: bytes, /) -> Answer:
        return self.answer(method, target, headers, raw)  # looked up per request: tests patch it

    def too_large(self) -> Answer:
        return Answer(413, _error("RequestTooLarge", "request too large"))

    def _lwa(self, form: Mapping[str, str]) -> Answer:
        def oauth_error(status: int, error: str, description: str) -> Answer:
            return Answer(status, {"error": error, "error_description": description})

        if form.get("grant_type") != "refresh_token":
            return oauth_error(400, "unsupported_grant_type", "The grant type is not supported")
        if not form.get("refresh_token") or not form.get("client_id"):
            return oauth_error(400, "invalid_request", "The request is missing a parameter")
        if not (
            secrets.compare_digest(form.get("client_id", ""), self.client_id)
            and secrets.compare_digest(form.get("client_secret", ""), self._client_secret)
        ):
            return oauth_error(401, "invalid_client", "Client authentication failed")
        if not secrets.compare_digest(form["refresh_token"], self.refresh_token):
            return oauth_error(
                400, "invalid_grant", "The request has an invalid grant parameter : refresh_token"
            )
        token = f"Atza|{secrets.token_urlsafe(48)}"
        with self._lock:
            self._tokens[token] = time.monotonic() + self.token_lifetime
        return Answer(
            200,
            {"access_token": token, "token_type": "bearer", "expires_in": self.token_lifetime},
        )

    def _sp_api(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: Any,
    ) -> Answer:
        operation, order_id = _route(method, path)
        if operation is None:
            raise _Refusal(404, _error("NotFound", f"{method} {path} is not served here"))
        grant = self._grant(headers.get("x-amz-access-token", ""), method, path)
        with self._lock:
            if self._throttled(operation):
                raise _Refusal(
                    429,
                    _error("QuotaExceeded", "You exceeded your quota for the requested resource."),
                )
        limit = {"x-amzn-RateLimit-Limit": RATES[operation], **_request_id()}
        if operation == "createRestrictedDataToken":
            if grant is not None:
                raise _unauthorized("a restricted data token cannot create one")
            return Answer(200, self._create_rdt(body), limit)
        with self._lock:
            order = self._orders.get(order_id or "")
            if order is None:
                raise _Refusal(404, _error("NotFound", f"Order {order_id} not found"))
            if operation == "getOrder":
                return Answer(200, {"payload": _restricted(order.document, grant)}, limit)
            if operation == "getOrderItems":
                return Answer(200, {"payload": self._items_page(order, query)}, limit)
            if grant is not None:
                raise _unauthorized("confirmShipment takes an LWA access token")
            self._confirm(order, body)
        return Answer(204, None, limit)

    def _grant(self, token: str, method: str, path: str) -> frozenset[str] | None:
        """None for an LWA token; the data elements an RDT grants for this resource."""
        now = time.monotonic()
        with self._lock:
            if self._tokens.get(token, 0) > now:
                return None
            expiry, resources = self._rdts.get(token, (0.0, []))
        if expiry <= now:
            raise _unauthorized("The access token you provided is revoked, malformed or invalid.")
        for resource in resources:
            if resource["method"] == method and _same_resource(resource["path"], path):
                return frozenset(resource.get("dataElements") or ())
        raise _unauthorized("The restricted data token does not cover this resource.")

    def _create_rdt(self, body: Any) -> dict[str, Any]:
        resources = body.get("restrictedResources") if isinstance(body, dict) else None
        if not isinstance(resources, list) or not resources or len(resources) > 50:
            raise _refuse_rdt("Resource not provided.")
        for resource in resources:
            if not isinstance(resource, dict):
                raise _refuse_rdt("Resource not provided.")
            if resource.get("method") not in ("GET", "PUT", "POST", "DELETE"):
                raise _refuse_rdt("Invalid method.")
            if not isinstance(resource.get("path"), str) or not resource["path"].startswith("/"):
                raise _refuse_rdt("Invalid path.")
            elements = resource.get("dataElements", [])
            if not isinstance(elements, list) or not set(elements) <= DATA_ELEMENTS:
                raise _refuse_rdt(f"Invalid dataElements {elements!r}.")
            if resource["path"].startswith(ORDERS_PATH) and not elements:
                raise _refuse_rdt("dataElements are required for the Orders API.")
        token = f"Atz.sprdt|{secrets.token_urlsafe(40)}"
        with self._lock:
            self._rdts[token] = (time.monotonic() + 3600, copy.deepcopy(resources))
        return {"restrictedDataToken": token, "expiresIn": 3600}

    def _items_page(self, order: _Order, query: Mapping[str, str]) -> dict[str, Any]:
        start = 0
        if "NextToken" in query:
            prefix = f"{order.document['AmazonOrderId']}:"
            token = query["NextToken"]
            if not token.startswith(prefix) or not token[len(prefix) :].isdigit():
                raise _invalid("Invalid NextToken")
            start = int(token[len(prefix) :])
        page = copy.deepcopy(order.items[start : start + self.items_per_page])
        if order.document["OrderStatus"] in ("Pending", "PendingAvailability"):
            for item in page:
                for name in (*PRICE_FIELDS, "IsGift"):
                    item.pop(name, None)
        answer: dict[str, Any] = {
            "AmazonOrderId": order.document["AmazonOrderId"],
            "OrderItems": page,
        }
        if start + self.items_per_page < len(order.items):
            answer["NextToken"] = f"{order.document['AmazonOrderId']}:{start + self.items_per_page}"
        return answer

    def _confirm(self, order: _Order, body: Any) -> None:
        if not isinstance(body, dict):
            raise _invalid("Request body is missing or is not a JSON object")
        if body.get("marketplaceId") != order.document["MarketplaceId"]:
            raise _invalid(f"marketplaceId {body.get('marketplaceId')!r} is invalid")
        package = _checked_package(body.get("packageDetail"))
        status = order.document["OrderStatus"]
        if status in ("Canceled", "Pending", "PendingAvailability"):
            raise _invalid(f"The order is {status} and cannot be confirmed")
        by_id = {item["OrderItemId"]: item for item in order.items}
        plan: list[tuple[dict[str, Any], int]] = []
        for entry in package["orderItems"]:
            item = by_id.get(entry.get("orderItemId")) if isinstance(entry, dict) else None
            if item is None:
                raise _invalid(UNKNOWN_ITEM)
            quantity = entry.get("quantity")
            if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
                raise _invalid("quantity must be a positive integer")
            left = item["QuantityOrdered"] - item["QuantityShipped"]
            if left <= 0:
                raise _invalid(ALREADY_SHIPPED)
            if quantity > left:
                raise _invalid(f"quantity {quantity} exceeds the {left} unshipped units")
            plan.append((item, quantity))
        for item, quantity in plan:
            item["QuantityShipped"] += quantity
        shipped = sum(item["QuantityShipped"] for item in order.items)
        ordered = sum(item["QuantityOrdered"] for item in order.items)
        order.document.update(
            NumberOfItemsShipped=shipped,
            NumberOfItemsUnshipped=ordered - shipped,
            OrderStatus="Shipped" if shipped >= ordered else "PartiallyShipped",
            LastUpdateDate=self._next_update(),
        )
        order.packages.append(copy.deepcopy(package))

    def _throttled(self, operation: str) -> bool:
        for throttle in self._throttles:
            if throttle.remaining > 0 and throttle.operation in (None, operation):
                throttle.remaining -= 1
                return True
        return False


def asin_of(sku: str) -> str:
    """A stable ASIN for a seller SKU (B0 and eight characters, as Amazon's look)."""
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    number = int(hashlib.sha256(sku.encode()).hexdigest(), 16)
    tail = ""
    for _ in range(8):
        number, digit = divmod(number, len(alphabet))
        tail += alphabet[digit]
    return f"B0{tail}"


def _route(method: str, path: str) -> tuple[str | None, str | None]:
    if path == RDT_PATH:
        return ("createRestrictedDataToken" if method == "POST" else None), None
    if not path.startswith(f"{ORDERS_PATH}/"):
        return None, None
    order_id, _, rest = path.removeprefix(f"{ORDERS_PATH}/").partition("/")
    operation = {
        ("GET", ""): "getOrder",
        ("GET", "orderItems"): "getOrderItems",
        ("POST", "shipmentConfirmation"): "confirmShipment",
    }.get((method, rest))
    return operation, order_id


def _same_resource(granted: str, path: str) -> bool:
    """The RDT's path names this resource: literally, or with an {orderId} placeholder."""
    if granted == path:
        return True
    head, placeholder, tail = granted.partition("{orderId}")
    if not placeholder or not path.startswith(head) or not path.endswith(tail):
        return False
    middle = path[len(head) : len(path) - len(tail)]
    return bool(middle) and "/" not in middle


def _restricted(document: Mapping[str, Any], grant: frozenset[str] | None) -> dict[str, Any]:
    """getOrder's payload as the token may see it."""
    shown = copy.deepcopy(dict(document))
    granted = grant or frozenset()
    if "buyerInfo" not in granted:
        shown.pop("BuyerInfo", None)
    if "buyerTaxInformation" not in granted:
        shown.pop("BuyerTaxInformation", None)
    address = shown.get("ShippingAddress")
    if shown.get("OrderStatus") not in ADDRESSED_STATUSES:
        shown.pop("ShippingAddress", None)
    elif isinstance(address, dict) and "shippingAddress" not in granted:
        for name in RESTRICTED_ADDRESS_FIELDS:
            address.pop(name, None)
    return shown


def _checked_package(package: Any) -> dict[str, Any]:
    """PackageDetail's required fields, as ConfirmShipmentRequest defines them."""
    if not isinstance(package, dict):
        raise _invalid("packageDetail is required")
    for name in ("packageReferenceId", "carrierCode", "trackingNumber", "shipDate"):
        if not isinstance(package.get(name), str) or not package[name].strip():
            raise _invalid(f"{name} is required")
    reference = package["packageReferenceId"]
    if not reference.isdigit() or int(reference) <= 0:
        raise _invalid("PackageReferenceId: is invalid, must be a positive numeric value.")
    if package["carrierCode"] == "Other" and not str(package.get("carrierName") or "").strip():
        raise _invalid("carrierName is required when carrierCode is Other")
    try:
        datetime.fromisoformat(package["shipDate"].replace("Z", "+00:00"))
    except ValueError as error:
        raise _invalid("Invalid Input", "shipDate must be ISO 8601") from error
    if not isinstance(package.get("orderItems"), list) or not package["orderItems"]:
        raise _invalid("orderItems is required")
    return package


def _unauthorized(details: str) -> _Refusal:
    return _Refusal(403, _error("Unauthorized", "Access to requested resource is denied.", details))


def _refuse_rdt(details: str) -> _Refusal:
    return _Refusal(
        400, _error("InvalidRequest", "Request is missing or has invalid parameters", details)
    )


def _request_id() -> dict[str, str]:
    return {"x-amzn-RequestId": str(uuid.uuid4())}


def _digits(count: int) -> str:
    return "".join(str(secrets.randbelow(10)) for _ in range(count))
