"""SP-API ORDER_CHANGE notifications from this stack's SQS queue, with the order they name.

Amazon delivers notifications to an SQS queue (or EventBridge), never as an HTTP webhook: the
message body is the notification JSON itself, unsigned (the queue's policy is the trust), and
delivery is at least once and unordered, so the dedupe key is
NotificationMetadata.NotificationId (developer-docs.amazon.com/sp-api/docs/notifications-api-
v1-use-case-guide; the payload schema is schemas/notifications/OrderChangeNotification.json in
github.com/amzn/selling-partner-api-models, whose example tests/fixtures/amazon holds).

An ORDER_CHANGE says only that an order changed (its status and item ids, no prices, no buyer),
so `fetch`, with the seller's credentials, reads the order before anything is stored
(developer-docs.amazon.com/sp-api/docs/orders-api-v0-reference, and the Tokens API
developer-docs.amazon.com/sp-api/docs/tokens-api-v2021-03-01-reference):
1. an LWA access token (lwa.py);
2. POST /tokens/2021-03-01/restrictedDataToken {"restrictedResources": [{"method": "GET",
   "path": "/orders/v0/orders/<id>", "dataElements": ["buyerInfo", "shippingAddress"]}]}: a
   restricted data token (RDT) for that one order, since the buyer and the address lines are
   personal data that getOrder returns only to an RDT covering them;
3. GET /orders/v0/orders/{id} with the RDT in x-amz-access-token;
4. GET /orders/v0/orders/{id}/orderItems with the LWA token, following NextToken.
The stored body is {"notification": <as received>, "order": <getOrder payload>, "orderItems":
[<every page's items>]}, so `parse` maps it without calling anyone. A notification of another
type, or one naming another seller than the secret's `seller_id`, is not fetched: it is stored
as it came and `parse` records it ignored. 429 (the usage plan's rate limit) and 5xx raise: the
message becomes visible again and SQS retries it, then dead-letters it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, StringConstraints, TypeAdapter, ValidationError

from shared.inbox.contract import (
    Delivery,
    EventId,
    MalformedWebhook,
    ParsedWebhook,
    WebhookRequest,
    parse_model,
)
from shared.inbox.queue import MESSAGE_ID_HEADER, SENT_TIMESTAMP_HEADER
from shared.providers.channels.amazon import api, lwa
from shared.providers.channels.amazon.api import SellingPartner, SpApiRejected, SpApiUnavailable
from shared.providers.channels.amazon.orders import (
    AmazonOrder,
    AmazonOrderItem,
    Ignored,
    to_event,
)

if TYPE_CHECKING:
    import httpx

SOURCE = "amazon"
ORDER_CHANGE = "ORDER_CHANGE"
RDT_PATH = "/tokens/2021-03-01/restrictedDataToken"
ORDERS_PATH = "/orders/v0/orders"
PII_ELEMENTS = ("buyerInfo", "shippingAddress")
# A bound on getOrderItems pages: an order has at most a few hundred items.
MAX_ITEM_PAGES = 100
AUDIT_HEADERS = (MESSAGE_ID_HEADER, SENT_TIMESTAMP_HEADER)

# Amazon's order ids are 3-7-7 digits; anything that could leave the URL path is refused.
AmazonOrderId = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z][0-9A-Za-z-]{0,63}$")]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Metadata(_Lenient):
    NotificationId: EventId


class Notification(_Lenient):
    """Any SP-API notification: its type and id (the payload depends on the type)."""

    NotificationType: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    NotificationMetadata: Metadata
    Payload: dict[str, Any] = {}


class OrderChange(_Lenient):
    SellerId: Annotated[str, StringConstraints(max_length=100)] | None = None
    AmazonOrderId: AmazonOrderId


class OrderChangePayload(_Lenient):
    OrderChangeNotification: OrderChange


class Fetched(_Lenient):
    """What `fetch` stored: the order and its items (the notification is read on its own)."""

    order: AmazonOrder
    orderItems: list[AmazonOrderItem]


_JSON_OBJECT: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, Any])


class AmazonOrderNotifications:
    """The amazon queue's adapter (a FetchingQueueAdapter)."""

    source = SOURCE

    def fetch(
        self, secrets: Mapping[str, Any], message: WebhookRequest, http: httpx.Client
    ) -> Delivery | None:
        try:
            document = _json_object(message.raw_body)
            notification = parse_model(Notification, document)
            if notification.NotificationType != ORDER_CHANGE:
                return None
            change = parse_model(OrderChangePayload, notification.Payload).OrderChangeNotification
        except MalformedWebhook:
            return None  # stored as it came: `parse` says what is wrong with it
        partner = SellingPartner.from_secret(secrets)
        if partner.seller_id and change.SellerId != partner.seller_id:
            return None
        order, items = fetch_order(http, partner, change.AmazonOrderId)
        body = {"notification": document, "order": order, "orderItems": items}
        return Delivery(
            event_id=notification.NotificationMetadata.NotificationId,
            topic=ORDER_CHANGE,
            raw_body=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
            headers=_audit(message),
        )

    def parse(self, request: WebhookRequest) -> ParsedWebhook:
        document = _json_object(request.raw_body)
        fetched = "notification" in document and "order" in document
        raw_notification = document["notification"] if fetched else document
        notification = parse_model(Notification, raw_notification)
        event_id = notification.NotificationMetadata.NotificationId
        topic = notification.NotificationType
        audit = _audit(request)

        def ignored(reason: str) -> ParsedWebhook:
            return ParsedWebhook(
                event_id=event_id,
                topic=topic,
                event=None,
                ignored_reason=reason,
                audit_headers=audit,
            )

        if topic != ORDER_CHANGE:
            return ignored(f"notification type {topic} is not handled")
        change = parse_model(OrderChangePayload, notification.Payload).OrderChangeNotification
        if not fetched:
            return ignored(
                f"order {change.AmazonOrderId} of seller {change.SellerId or '(none)'} was not "
                "fetched: not the seller_id this deployment serves"
            )
        stored = parse_model(Fetched, document)
        if stored.order.AmazonOrderId != change.AmazonOrderId:
            raise MalformedWebhook(
                f"the fetched order {stored.order.AmazonOrderId} is not the notification's "
                f"{change.AmazonOrderId}"
            )
        outcome = to_event(stored.order, stored.orderItems)
        if isinstance(outcome, Ignored):
            return ignored(outcome.reason)
        return ParsedWebhook(event_id=event_id, topic=topic, event=outcome, audit_headers=audit)


def fetch_order(
    http: httpx.Client, partner: SellingPartner, order_id: str
) -> tuple[dict[str, Any], list[Any]]:
    """The getOrder payload (read with an RDT) and every getOrderItems entry of `order_id`."""
    token = lwa.access_token(http, partner)
    path = f"{ORDERS_PATH}/{quote(order_id, safe='')}"
    try:
        granted = api.call(
            http,
            "POST",
            partner.api_url + RDT_PATH,
            token=token,
            what="createRestrictedDataToken",
            json={
                "restrictedResources": [
                    {"method": "GET", "path": path, "dataElements": list(PII_ELEMENTS)}
                ]
            },
        )
        rdt = _field(granted, "restrictedDataToken", str, "createRestrictedDataToken")
        answer = api.call(http, "GET", partner.api_url + path, token=rdt, what="getOrder")
        order = _field(answer, "payload", dict, "getOrder")
        items = _order_items(http, partner, token, path)
    except SpApiRejected as error:
        if error.status in (401, 403):
            lwa.forget(partner)  # revoked or expired early: the retry gets a new one
        raise
    return order, items


def _order_items(http: httpx.Client, partner: SellingPartner, token: str, path: str) -> list[Any]:
    items: list[Any] = []
    next_token: str | None = None
    for _ in range(MAX_ITEM_PAGES):
        answer = api.call(
            http,
            "GET",
            f"{partner.api_url}{path}/orderItems",
            token=token,
            what="getOrderItems",
            params={"NextToken": next_token} if next_token else None,
        )
        page = _field(answer, "payload", dict, "getOrderItems")
        items.extend(_field(page, "OrderItems", list, "getOrderItems"))
        next_token = page.get("NextToken") or None
        if next_token is None:
            return items
        if not isinstance(next_token, str):
            raise SpApiUnavailable("getOrderItems: NextToken is not a string")
    raise SpApiUnavailable(f"getOrderItems: more than {MAX_ITEM_PAGES} pages")


def _field(body: dict[str, Any], name: str, kind: type, what: str) -> Any:
    value = body.get(name)
    if not isinstance(value, kind):
        raise SpApiUnavailable(f"{what}: the answer has no {name}")
    return value


def _json_object(raw_body: bytes) -> dict[str, Any]:
    try:
        return _JSON_OBJECT.validate_json(raw_body)
    except ValidationError as error:
        raise MalformedWebhook(f"body is not a JSON object: {error.errors()[0]['msg']}") from error


def _audit(request: WebhookRequest) -> dict[str, str]:
    return {name: request.headers[name] for name in AUDIT_HEADERS if request.headers.get(name)}
