"""Shipments told back to Amazon: Orders API v0 `confirmShipment` (the channel client).

developer-docs.amazon.com/sp-api/docs/orders-api-v0-reference#confirmshipment and the
official model (models/orders-api-model/ordersV0.json: ConfirmShipmentRequest, PackageDetail,
ConfirmShipmentOrderItem):

    POST /orders/v0/orders/{orderId}/shipmentConfirmation
    {"marketplaceId": "...", "packageDetail": {"packageReferenceId": "1", "carrierCode": "DHL",
     "carrierName": "...", "trackingNumber": "...", "shipDate": "2022-02-11T01:00:00.000Z",
     "orderItems": [{"orderItemId": "...", "quantity": 1}]}}  -> 204, no body

- packageReferenceId "uniquely identifies a package within the scope of an order. Only
  positive numeric values are supported": the shipment's id when it is a number, else a
  stable number derived from it (the same shipment always gives the same one). It is the
  reference this client returns.
- carrierCode must be one of Amazon's listed carriers, or "Other" with carrierName ("CarrierCode
  value required in shipment confirmations", developer-docs.amazon.com/sp-api/changelog/
  carriercode-value-required-in-shipment-confirmations-for-br-mx-ca-sg-au-in-jp-marketplaces).
- Idempotent: Amazon refuses a second confirmation of items already shipped (400, e.g. "Failed
  to create package due to not finding a matching package or order already fulfilled",
  github.com/amzn/selling-partner-api-models/issues/5037). So the order is read first (getOrder
  with the LWA token: no personal data is needed), and one already Shipped with nothing
  unshipped is answered with the package reference, nothing sent; a 400 whose error says
  "already" is the same answer for a package confirmed by an earlier attempt.
- Lines: each shipment line's channel_line_id is the OrderItemId; a line without one is found
  among getOrderItems by its ASIN (listing_id) or seller SKU; a shipment without lines
  confirms every unshipped unit.
Errors: 429, 5xx and timeouts -> ChannelUnavailable (retry_after from the rate limit);
other 4xx -> ChannelRejected (a 403 also drops the cached LWA token).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import UTC
from typing import Any
from urllib.parse import quote

import httpx

from shared.channels.push import (
    ChannelRejected,
    ChannelUnavailable,
    SaveSecret,
    ShipmentLine,
    ShipmentPush,
)
from shared.kernel.time import utc_iso
from shared.providers.channels.amazon import api, lwa
from shared.providers.channels.amazon.api import SellingPartner, SpApiRejected, SpApiUnavailable
from shared.providers.channels.amazon.notifications import ORDERS_PATH

# Amazon's carrier codes for the carriers shops name (orderhub's carrier names, lowercased,
# spaces and dashes as underscores). Any other carrier is sent as "Other" with its name.
CARRIER_CODES = {
    "dhl": "DHL",
    "dpd": "DPD",
    "ups": "UPS",
    "gls": "GLS",
    "inpost": "InPost",
    "royal_mail": "Royal Mail",
    "royalmail": "Royal Mail",
    "parcelforce": "Parcelforce",
    "yodel": "Yodel",
    "fedex": "FedEx",
    "tnt": "TNT",
    "usps": "USPS",
    "deutsche_post": "Deutsche Post",
    "chronopost": "Chronopost",
    "la_poste": "La Poste",
    "poste_italiane": "Poste Italiane",
    "sda": "SDA",
}
OTHER_CARRIER = "Other"
# Unlisted carriers orderhub ships with, by the name Amazon's buyers know them.
OTHER_CARRIER_NAMES = {"poczta_polska": "Poczta Polska", "orlen_paczka": "ORLEN Paczka"}
DONE_STATUSES = frozenset({"Shipped", "InvoiceUnconfirmed"})
_NUMERIC = re.compile(r"^[1-9][0-9]{0,17}$")
_ORDER_ID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z-]{0,63}$")


def carrier_fields(carrier: str) -> dict[str, str]:
    """carrierCode (and carrierName for an unlisted carrier) of the shop's carrier name."""
    key = re.sub(r"[\s-]+", "_", carrier.strip().lower())
    code = CARRIER_CODES.get(key)
    if code is not None:
        return {"carrierCode": code}
    name = OTHER_CARRIER_NAMES.get(key) or carrier.strip() or OTHER_CARRIER
    return {"carrierCode": OTHER_CARRIER, "carrierName": name}


def package_reference(shipment_id: str) -> str:
    """A positive number naming the shipment's package, the same on every attempt."""
    if _NUMERIC.match(shipment_id):
        return shipment_id
    digest = hashlib.sha256(shipment_id.encode()).hexdigest()
    return str(int(digest[:12], 16) + 1)  # at most 15 digits, never 0


class AmazonShipments:
    """The amazon channel client: one confirmShipment per shipment."""

    def __init__(self, partner: SellingPartner, http: httpx.Client) -> None:
        self._partner = partner
        self._http = http

    @classmethod
    def from_secret(
        cls,
        document: Mapping[str, Any],
        http: httpx.Client,
        *,
        save_secret: SaveSecret | None = None,  # LWA refresh tokens do not rotate: unused
    ) -> AmazonShipments:
        return cls(SellingPartner.from_secret(document), http)

    def push_shipment(self, push: ShipmentPush) -> str:
        if not _ORDER_ID.match(push.external_id):
            raise ChannelRejected(f"{push.external_id!r} is not an Amazon order id")
        reference = package_reference(push.shipment_id)
        path = f"{ORDERS_PATH}/{quote(push.external_id, safe='')}"
        order = self._payload("GET", path, "getOrder")
        status = str(order.get("OrderStatus") or "")
        if status in DONE_STATUSES and not order.get("NumberOfItemsUnshipped"):
            return reference  # told before (or shipped from Seller Central): nothing to add
        if status == "Canceled":
            raise ChannelRejected(f"amazon order {push.external_id} is cancelled")
        marketplace = push.channel_refs.get("marketplace_id") or order.get("MarketplaceId")
        if not marketplace:
            raise ChannelRejected(f"amazon order {push.external_id}: no marketplace id")
        body = {
            "marketplaceId": str(marketplace),
            "packageDetail": {
                "packageReferenceId": reference,
                **carrier_fields(push.carrier),
                "trackingNumber": push.tracking_number,
                "shipDate": utc_iso(push.shipped_at.astimezone(UTC)),
                "orderItems": [
                    {"orderItemId": item_id, "quantity": quantity}
                    for item_id, quantity in self._order_items(push, path).items()
                ],
            },
        }
        try:
            self._call("POST", f"{path}/shipmentConfirmation", "confirmShipment", json=body)
        except ChannelRejected as error:
            refused = error.__cause__
            already = "already" in str(refused).lower()
            if isinstance(refused, SpApiRejected) and refused.status == 400 and already:
                return reference  # an earlier attempt's package: Amazon has it
            raise
        return reference

    def _order_items(self, push: ShipmentPush, path: str) -> dict[str, int]:
        """OrderItemId -> units of this package (lines of one item added up)."""
        quantities: dict[str, int] = {}
        unnamed: list[ShipmentLine] = [line for line in push.lines if not line.channel_line_id]
        items = self._items(path) if unnamed or not push.lines else []
        for line in push.lines:
            item_id = line.channel_line_id or _matching_item(line, items)
            quantities[item_id] = quantities.get(item_id, 0) + line.quantity
        if not push.lines:
            for item in items:
                left = int(item.get("QuantityOrdered") or 0) - int(item.get("QuantityShipped") or 0)
                if left > 0:
                    quantities[str(item["OrderItemId"])] = left
        if not quantities:
            raise ChannelRejected(f"amazon order {push.external_id}: nothing left to ship")
        return quantities

    def _items(self, path: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        params: dict[str, str] | None = None
        for _ in range(100):
            page = self._payload("GET", f"{path}/orderItems", "getOrderItems", params=params)
            items.extend(i for i in page.get("OrderItems") or [] if isinstance(i, dict))
            next_token = page.get("NextToken")
            if not next_token:
                return items
            params = {"NextToken": str(next_token)}
        raise ChannelUnavailable("getOrderItems: too many pages")

    def _payload(
        self, method: str, path: str, what: str, params: dict[str, str] | None = None
    ) -> dict[str, Any]:
        payload = self._call(method, path, what, params=params).get("payload")
        if not isinstance(payload, dict):
            raise ChannelUnavailable(f"{what}: the answer has no payload")
        return payload

    def _call(
        self,
        method: str,
        path: str,
        what: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        try:
            token = lwa.access_token(self._http, self._partner)
            return api.call(
                self._http,
                method,
                self._partner.api_url + path,
                token=token,
                what=what,
                json=json,
                params=params,
            )
        except SpApiUnavailable as error:
            raise ChannelUnavailable(str(error), retry_after=error.retry_after) from error
        except SpApiRejected as error:
            if error.status in (401, 403):
                lwa.forget(self._partner)
            raise ChannelRejected(str(error)) from error
        except httpx.HTTPError as error:
            raise ChannelUnavailable(f"{what}: {type(error).__name__}: {error}") from error


def _matching_item(line: ShipmentLine, items: list[dict[str, Any]]) -> str:
    for item in items:
        if (line.listing_id and item.get("ASIN") == line.listing_id) or (
            line.sku and item.get("SellerSKU") == line.sku
        ):
            return str(item["OrderItemId"])
    raise ChannelRejected(
        f"shipment line {line.line_no} names no order item (no channel_line_id, and neither "
        f"ASIN {line.listing_id} nor SKU {line.sku} is in the order)"
    )
