"""Shopify's GraphQL Admin API (2025-10) as orderhub's ChannelClient: a shipment becomes a
fulfillment with its tracking number.

Docs: shopify.dev/docs/apps/build/orders-fulfillment/order-management-apps/
build-fulfillment-solutions,
shopify.dev/docs/api/admin-graphql/2025-10/mutations/fulfillmentCreate (FulfillmentInput:
lineItemsByFulfillmentOrder [{fulfillmentOrderId, fulfillmentOrderLineItems [{id, quantity}]}],
trackingInfo {company, number, url}, notifyCustomer), .../objects/FulfillmentOrder and
shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits.

- Every call is POST {api_url or https://<shop_domain>}/admin/api/2025-10/graphql.json with
  `X-Shopify-Access-Token: <admin_access_token>` and a JSON {query, variables} body.
- push_shipment first reads the order (`gid://shopify/Order/<id>`, or the order's
  admin_graphql_api_id ref): its fulfillments' trackingInfo and its fulfillment orders with
  their line items (id, remainingQuantity, lineItem.id). A fulfillment (not cancelled) already
  carrying the tracking number is the answer: a retried push creates nothing.
- Otherwise one `fulfillmentCreate`: each shipment line's channel_line_id (the REST line item
  id, `gid://shopify/LineItem/<id>` in GraphQL) is matched to the open fulfillment order line
  items holding it. A shipment naming no line ids fulfils every open fulfillment order whole
  (the docs: blank fulfillmentOrderLineItems fulfil all of them).
Errors: `userErrors`, a missing order, HTTP 401/403/404 and other 4xx -> ChannelRejected; a
THROTTLED error (Shopify answers it with HTTP 200 and a top-level `errors`), HTTP 429 and 5xx,
timeouts -> ChannelUnavailable, retry_after from Retry-After or, when throttled, the seconds
the cost bucket needs at its restore rate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from shared.channels.http import raise_for_channel
from shared.channels.push import (
    ChannelRejected,
    ChannelUnavailable,
    SaveSecret,
    ShipmentLine,
    ShipmentPush,
)

if TYPE_CHECKING:
    import httpx

M = TypeVar("M", bound=BaseModel)
API_VERSION = "2025-10"
GRAPHQL_PATH = f"/admin/api/{API_VERSION}/graphql.json"
TOKEN_HEADER = "X-Shopify-Access-Token"  # noqa: S105 (a header name, not a secret)
# Fulfillment orders Shopify lets fulfillmentCreate take (the others are closed, cancelled,
# on hold or scheduled).
FULFILLABLE_STATUSES = frozenset({"OPEN", "IN_PROGRESS"})
# Fulfillments that no longer ship anything: their tracking number does not count as told.
VOID_FULFILLMENT_STATUSES = frozenset({"CANCELLED", "ERROR", "FAILURE"})
# Top-level GraphQL error codes worth retrying.
RETRYABLE_CODES = frozenset({"THROTTLED", "INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE"})
# Tracking company names Shopify recognises (FulfillmentTrackingInfo.company: "send the name
# exactly as written in the list"), for the carrier codes orderhub's shipments use.
TRACKING_COMPANIES = {
    "inpost": "InPost",
    "dpd": "DPD",
    "gls": "GLS",
    "ups": "UPS",
    "fedex": "FedEx",
    "poczta_polska": "Poczta Polska",
}

ORDER_QUERY = """
query OrderFulfillments($id: ID!) {
  order(id: $id) {
    id
    fulfillments(first: 50) {
      id
      status
      trackingInfo(first: 10) { company number url }
    }
    fulfillmentOrders(first: 50) {
      nodes {
        id
        status
        lineItems(first: 250) {
          nodes { id remainingQuantity lineItem { id } }
        }
      }
    }
  }
}
""".strip()

FULFILLMENT_CREATE = """
mutation FulfillmentCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status }
    userErrors { field message }
  }
}
""".strip()


class _Lenient(BaseModel):
    """Shopify's answers as GraphQL names their fields (camelCase), extra fields ignored."""

    model_config = ConfigDict(extra="ignore")


class _Ref(_Lenient):
    id: str


class _TrackingInfo(_Lenient):
    number: str | None = None


class _Fulfillment(_Lenient):
    id: str
    status: str | None = None
    trackingInfo: list[_TrackingInfo] = []


class _FulfillmentOrderLineItem(_Lenient):
    id: str
    remainingQuantity: int
    lineItem: _Ref


class _LineItems(_Lenient):
    nodes: list[_FulfillmentOrderLineItem] = []


class _FulfillmentOrder(_Lenient):
    id: str
    status: str
    lineItems: _LineItems = _LineItems()


class _FulfillmentOrders(_Lenient):
    nodes: list[_FulfillmentOrder] = []


class _Order(_Lenient):
    id: str
    fulfillments: list[_Fulfillment] = []
    fulfillmentOrders: _FulfillmentOrders = _FulfillmentOrders()


class _UserError(_Lenient):
    field: list[str] | None = None
    message: str


class _CreatePayload(_Lenient):
    fulfillment: _Ref | None = None
    userErrors: list[_UserError] = []


def order_gid(push: ShipmentPush) -> str:
    return (
        push.channel_refs.get("admin_graphql_api_id") or f"gid://shopify/Order/{push.external_id}"
    )


def line_item_gid(channel_line_id: str) -> str:
    if channel_line_id.startswith("gid://"):
        return channel_line_id
    return f"gid://shopify/LineItem/{channel_line_id}"


class ShopifyFulfilments:
    """Tells Shopify a shipment left: one fulfillment per tracking number."""

    channel = "shopify"

    def __init__(self, http: httpx.Client, *, graphql_url: str | None, access_token: str) -> None:
        self._http = http
        self._url = graphql_url
        self._token = access_token

    @classmethod
    def from_secret(
        cls,
        document: Mapping[str, Any],
        http: httpx.Client,
        *,
        save_secret: SaveSecret | None = None,  # Shopify's offline tokens do not rotate
    ) -> ShopifyFulfilments:
        base = str(document.get("api_url") or "").strip().rstrip("/")
        if not base:
            shop = str(document.get("shop_domain") or "").strip().removeprefix("https://")
            base = f"https://{shop.rstrip('/')}" if shop else ""
        return cls(
            http,
            graphql_url=f"{base}{GRAPHQL_PATH}" if base else None,
            access_token=str(document.get("admin_access_token") or "").strip(),
        )

    def push_shipment(self, push: ShipmentPush) -> str:
        order = self._order(push)
        told = _fulfillment_with(order, push.tracking_number)
        if told is not None:
            return told
        fulfillment = {
            "lineItemsByFulfillmentOrder": _line_items_by_fulfillment_order(order, push),
            "trackingInfo": _tracking_info(push),
            "notifyCustomer": True,
        }
        data = self._graphql(FULFILLMENT_CREATE, {"fulfillment": fulfillment}, "fulfillmentCreate")
        payload = _parsed(_CreatePayload, data.get("fulfillmentCreate"), "fulfillmentCreate")
        if payload.userErrors:
            messages = "; ".join(error.message for error in payload.userErrors)
            raise ChannelRejected(
                f"Shopify refused the fulfillment of {push.external_id}: {messages}"
            )
        if payload.fulfillment is None:
            raise ChannelUnavailable("fulfillmentCreate answered neither a fulfillment nor errors")
        return payload.fulfillment.id

    # -- calls ----------------------------------------------------------------------------------
    def _order(self, push: ShipmentPush) -> _Order:
        data = self._graphql(ORDER_QUERY, {"id": order_gid(push)}, "order query")
        if data.get("order") is None:
            raise ChannelRejected(
                f"Shopify has no order {push.external_id} (or the app cannot see it)"
            )
        return _parsed(_Order, data["order"], "order query")

    def _graphql(self, query: str, variables: dict[str, Any], what: str) -> dict[str, Any]:
        import httpx

        if self._url is None or not self._token:
            raise ChannelRejected(
                "the Shopify secret needs admin_access_token and shop_domain (or api_url)"
            )
        try:
            response = self._http.post(
                self._url,
                json={"query": query, "variables": variables},
                headers={TOKEN_HEADER: self._token, "Accept": "application/json"},
            )
        except httpx.HTTPError as error:
            raise ChannelUnavailable(f"Shopify {what}: {type(error).__name__}: {error}") from error
        _raise_for_status(response, what)
        try:
            body = response.json()
        except ValueError as error:
            raise ChannelUnavailable(f"Shopify {what}: the answer is not JSON") from error
        if not isinstance(body, dict):
            raise ChannelUnavailable(f"Shopify {what}: the answer is not a JSON object")
        _raise_for_errors(body, what)
        data = body.get("data")
        if not isinstance(data, dict):
            raise ChannelUnavailable(f"Shopify {what}: the answer has no data")
        return data


def _raise_for_status(response: httpx.Response, what: str) -> None:
    # 401 a revoked or wrong token, 403 a missing scope, 404 a shop that is gone: refused for
    # good (a person fixes the secret or the app); a timeout, 429 or 5xx is retried.
    raise_for_channel(
        response, f"Shopify {what}: HTTP {response.status_code} {response.text[:300]}"
    )


def _raise_for_errors(body: dict[str, Any], what: str) -> None:
    errors = body.get("errors")
    if not errors:
        return
    # A list of {message, extensions: {code}}; a 4xx body can carry a bare string instead.
    listed = [_mapping(error) for error in errors] if isinstance(errors, list) else []
    codes = {str(_mapping(error.get("extensions")).get("code") or "") for error in listed}
    messages = "; ".join(str(error.get("message") or "") for error in listed) or str(errors)
    if codes & RETRYABLE_CODES:
        raise ChannelUnavailable(
            f"Shopify {what}: {messages[:500]}",
            retry_after=_throttle_wait(body) if "THROTTLED" in codes else None,
        )
    raise ChannelRejected(f"Shopify {what}: {messages[:500]}")


def _throttle_wait(body: dict[str, Any]) -> float | None:
    """Seconds until the cost bucket holds the query's cost again (rate-limits doc: the
    bucket refills at restoreRate points a second)."""
    cost = _mapping(_mapping(body.get("extensions")).get("cost"))
    status = _mapping(cost.get("throttleStatus"))
    try:
        rate = float(status["restoreRate"])
        needed = float(cost.get("requestedQueryCost") or 0) - float(status["currentlyAvailable"])
    except (KeyError, TypeError, ValueError):
        return None
    if not math.isfinite(rate) or rate <= 0 or not math.isfinite(needed):
        return None
    return max(1.0, math.ceil(needed / rate))


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _parsed(model: type[M], value: Any, what: str) -> M:
    try:
        return model.model_validate(value)
    except ValidationError as error:
        raise ChannelUnavailable(
            f"Shopify {what}: unexpected answer: {error.errors()[0]['msg']}"
        ) from error


def _fulfillment_with(order: _Order, tracking_number: str) -> str | None:
    wanted = tracking_number.strip()
    for fulfillment in order.fulfillments:
        if fulfillment.status in VOID_FULFILLMENT_STATUSES:
            continue
        if any((info.number or "").strip() == wanted for info in fulfillment.trackingInfo):
            return fulfillment.id
    return None


def _tracking_info(push: ShipmentPush) -> dict[str, str]:
    carrier = push.carrier.strip()
    info = {
        "company": TRACKING_COMPANIES.get(carrier.lower().replace(" ", "_"), carrier),
        "number": push.tracking_number,
    }
    if push.tracking_url:
        info["url"] = push.tracking_url
    return info


def _line_items_by_fulfillment_order(order: _Order, push: ShipmentPush) -> list[dict[str, Any]]:
    open_orders = [fo for fo in order.fulfillmentOrders.nodes if fo.status in FULFILLABLE_STATUSES]
    if not open_orders:
        raise ChannelRejected(f"order {push.external_id} has nothing left to fulfil on Shopify")
    named = [line for line in push.lines if line.channel_line_id]
    if not named:
        # No line ids (an order taken before lines carried them): the whole order ships.
        return [{"fulfillmentOrderId": fo.id} for fo in open_orders]
    if len(named) != len(push.lines):
        missing = [line.line_no for line in push.lines if not line.channel_line_id]
        raise ChannelRejected(f"shipment lines {missing} name no Shopify line item")
    grouped: dict[str, list[dict[str, Any]]] = {}
    for line in named:
        for fulfillment_order_id, item in _allocate(open_orders, line, push.external_id):
            grouped.setdefault(fulfillment_order_id, []).append(item)
    return [
        {"fulfillmentOrderId": fo_id, "fulfillmentOrderLineItems": items}
        for fo_id, items in grouped.items()
    ]


def _allocate(
    open_orders: list[_FulfillmentOrder], line: ShipmentLine, external_id: str
) -> list[tuple[str, dict[str, Any]]]:
    """The fulfillment order line items that ship `line`'s quantity (a line split across
    fulfillment orders takes from each in turn)."""
    assert line.channel_line_id is not None
    wanted = line_item_gid(line.channel_line_id)
    left = line.quantity
    taken: list[tuple[str, dict[str, Any]]] = []
    for fo in open_orders:
        for item in fo.lineItems.nodes:
            if item.lineItem.id != wanted or item.remainingQuantity <= 0 or left == 0:
                continue
            quantity = min(left, item.remainingQuantity)
            taken.append((fo.id, {"id": item.id, "quantity": quantity}))
            left -= quantity
    if left:
        raise ChannelRejected(
            f"order {external_id}: line item {line.channel_line_id} has "
            f"{line.quantity - left} of {line.quantity} units left to fulfil on Shopify"
        )
    return taken
