"""WooCommerce order webhooks, and the repair poll that catches the deliveries they drop.

Delivery (WC_Webhook::deliver, class-wc-webhook.php; woocommerce-rest-api-docs wp-api-v3
_webhooks.md): POST of the REST v3 resource as JSON with headers X-WC-Webhook-Source, -Topic,
-Resource, -Event, -Signature, -ID and -Delivery-ID. The signature is
base64(HMAC-SHA256(webhook secret, raw body)). A webhook is delivered ONCE (no retries; it is
disabled after repeated failures), so the same adapter also polls the REST API (poll.py) and the
inbox dedupes what both saw: the key of an order version is its id and date_modified_gmt.

When a webhook is created, WooCommerce pings its URL with an UNSIGNED form body
`webhook_id=<id>` and keeps the webhook only if that gets a 2xx: exactly that body passes
`verify` unsigned and is stored as ignored. It can carry nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import StringConstraints

from shared.inbox.contract import (
    ParsedWebhook,
    PollResult,
    SignatureMismatch,
    WebhookRequest,
    parse_json_model,
    parse_value,
)
from shared.orders.inbound import ORDER_KIND, OrderReported
from shared.platform.clock import Clock, utc_now
from shared.providers.channels.woocommerce.mapping import DRAFT_STATUS, SOURCE, to_order, withdrawn
from shared.providers.channels.woocommerce.resources import (
    WooDeleted,
    WooIdOnly,
    WooOrder,
    deleted_event_id,
    epoch_ms,
    order_event_id,
)
from shared.providers.channels.woocommerce.screening import plainly_mappable

if TYPE_CHECKING:
    import httpx

SIGNATURE_HEADER = "X-WC-Webhook-Signature"
TOPIC_HEADER = "X-WC-Webhook-Topic"
SOURCE_HEADER = "X-WC-Webhook-Source"
# Set on the items the repair poll stores (poll.py): they are REST resources without a topic.
FETCHED_HEADER = "X-Orderhub-Fetched"
AUDIT_HEADERS = (
    SOURCE_HEADER,
    TOPIC_HEADER,
    "X-WC-Webhook-Resource",
    "X-WC-Webhook-Event",
    "X-WC-Webhook-ID",
    "X-WC-Webhook-Delivery-ID",
    FETCHED_HEADER,
)
# What a polled order is: the webhook that would have carried this version.
POLLED_TOPIC = "order.updated"
ORDER_TOPICS = frozenset({"order.created", "order.updated", "order.restored"})
DELETED_TOPIC = "order.deleted"
# deliver_ping(): wp_safe_remote_post with body array('webhook_id' => $this->get_id()).
_PING = re.compile(rb"webhook_id=([0-9]{1,20})")
Topic = Annotated[str, StringConstraints(pattern=r"^[a-z_]+\.[a-z0-9_-]+$", max_length=100)]


def sign(raw_body: bytes, secret: str) -> str:
    """The X-WC-Webhook-Signature value: base64(HMAC-SHA256(secret, raw body))."""
    return base64.b64encode(hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()).decode()


def ping_id(raw_body: bytes) -> str | None:
    """The webhook id of WooCommerce's creation ping, when the body is exactly that."""
    found = _PING.fullmatch(raw_body)
    return found.group(1).decode() if found else None


class WooCommerceOrders:
    """POST /webhooks/orders/woocommerce, and the poll of GET /wp-json/wc/v3/orders."""

    source = SOURCE

    def __init__(self, clock: Clock = utc_now) -> None:
        self._clock = clock

    def verify(self, request: WebhookRequest, secrets: Mapping[str, Any]) -> None:
        if ping_id(request.raw_body) is not None:
            return  # unsigned by design, and parse gives it no event
        received = request.headers.get(SIGNATURE_HEADER, "").strip()
        if not received:
            raise SignatureMismatch(f"missing {SIGNATURE_HEADER}")
        expected = sign(request.raw_body, str(secrets["webhook_secret"]))
        if not hmac.compare_digest(expected.encode(), received.encode()):
            raise SignatureMismatch(f"{SIGNATURE_HEADER} does not match the body")

    def poll(
        self, secrets: Mapping[str, Any], cursor: str | None, http: httpx.Client
    ) -> PollResult:
        from shared.providers.channels.woocommerce.poll import poll_orders

        return poll_orders(secrets, cursor, http, now=self._clock)

    def parse(self, request: WebhookRequest) -> ParsedWebhook:
        return self._read(request, screen=False)

    def screen(self, request: WebhookRequest) -> ParsedWebhook:
        """What the webhook and the poll run before storing: `parse`, except that an order
        inside the plainly mappable domain (screening.py) is not mapped here; the stream
        router maps it from the same bytes (decision 65)."""
        return self._read(request, screen=True)

    def _read(self, request: WebhookRequest, *, screen: bool) -> ParsedWebhook:
        webhook = ping_id(request.raw_body)
        if webhook is not None:
            return ParsedWebhook(
                event_id=f"ping-{webhook}",
                topic="webhook.ping",
                event=None,
                ignored_reason="WooCommerce's ping on creating the webhook",
            )
        audit = {name: request.headers[name] for name in AUDIT_HEADERS if name in request.headers}
        topic = self._topic(request)
        # The topic header is not signed: it only chooses how to read the signed body, and
        # what the order is comes from that body.
        if topic in ORDER_TOPICS:
            return self._order(request, topic, audit, screen=screen)
        if topic == DELETED_TOPIC:
            deleted = parse_json_model(WooDeleted, request.raw_body)
            return ParsedWebhook(
                event_id=deleted_event_id(deleted.id),
                topic=topic,
                event=withdrawn(deleted, request.received_at),
                audit_headers=audit,
            )
        digest = hashlib.sha256(request.raw_body).hexdigest()[:40]
        return ParsedWebhook(
            event_id=f"{topic}-{digest}"[:255],
            topic=topic,
            event=None,
            ignored_reason=f"topic {topic} is not handled",
            audit_headers=audit,
        )

    @staticmethod
    def _topic(request: WebhookRequest) -> str:
        if TOPIC_HEADER not in request.headers and request.headers.get(FETCHED_HEADER):
            return POLLED_TOPIC
        return str(parse_value(Topic, request.headers.require(TOPIC_HEADER), TOPIC_HEADER))

    @staticmethod
    def _order(
        request: WebhookRequest, topic: str, audit: dict[str, str], *, screen: bool
    ) -> ParsedWebhook:
        if topic == "order.restored":
            restored = parse_json_model(WooIdOnly, request.raw_body)
            if restored.line_items is None:
                # Restored with only its id: the order.updated that follows brings the order.
                return ParsedWebhook(
                    event_id=f"order-{restored.id}-restored-{epoch_ms(request.received_at)}",
                    topic=topic,
                    event=None,
                    ignored_reason="order.restored without the order",
                    audit_headers=audit,
                )
        order = parse_json_model(WooOrder, request.raw_body)
        event_id = order_event_id(order.id, order.modified_at)
        if order.status == DRAFT_STATUS:
            return ParsedWebhook(
                event_id=event_id,
                topic=topic,
                event=None,
                ignored_reason="a checkout draft is not an order yet",
                audit_headers=audit,
            )
        if screen and plainly_mappable(order):
            return ParsedWebhook.screened(event_id, topic, ORDER_KIND, audit)
        return ParsedWebhook(
            event_id=event_id,
            topic=topic,
            event=OrderReported(order=to_order(order)),
            audit_headers=audit,
        )
