"""Receiving a delivery: verify on the raw body, map to a canonical event, one conditional write.

Order matters: size first (never HMAC a huge body), authenticity second (an unsigned request
learns nothing about our parsing), parsing third, and the single inbox write last. Nothing is
stored unless all three pass.

Items a poller fetched and queue messages take the same path from `parse` on (`record_fetched`):
the channel is their authenticity, and one that cannot be mapped is kept as malformed, since
there is nobody to answer 400.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from shared.inbox.contract import (
    EventId,
    Headers,
    InboundAdapter,
    MalformedWebhook,
    ParsedWebhook,
    PayloadTooLarge,
    ProviderNotConfigured,
    WebhookAdapter,
    WebhookRequest,
    parse_value,
)
from shared.inbox.ports import InboxWriter
from shared.inbox.store import BodyTooLargeToStore, InboxEntry, InboxStatus

if TYPE_CHECKING:
    from shared.inbox.events import InboundEvent

MAX_BODY_BYTES = 1024 * 1024


class Receipt(StrEnum):
    ACCEPTED = "accepted"
    IGNORED = "ignored"
    DUPLICATE = "duplicate"
    MALFORMED = "malformed"  # fetched or queued, not mappable: kept, not processed


@dataclass(frozen=True)
class WebhookReceipt:
    receipt: Receipt
    event_id: str
    topic: str


def authenticate(
    adapter: WebhookAdapter,
    request: WebhookRequest,
    secrets: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
    *,
    required: tuple[str, ...] = ("webhook_secret",),
) -> None:
    """Reject before anything else happens: too large (413), not signed by the provider (401).

    `secrets` may be a loader: it is called only for a request small enough to check, so an
    oversized request never costs a Secrets Manager call."""
    if len(request.raw_body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(
            f"body is {len(request.raw_body)} bytes; the limit is {MAX_BODY_BYTES}"
        )
    loaded = secrets() if callable(secrets) else secrets
    missing = [name for name in required if not loaded.get(name)]
    if missing:
        raise ProviderNotConfigured(
            f"{adapter.source} is not configured: its secret has no {', '.join(missing)}"
        )
    adapter.verify(request, loaded)


def record(adapter: InboundAdapter, request: WebhookRequest, inbox: InboxWriter) -> WebhookReceipt:
    """Map an authenticated request (400 if malformed) and store it once. An adapter with a
    `screen` proves the delivery maps without building the canonical event (decision 65)."""
    screen = getattr(adapter, "screen", None)
    parsed: ParsedWebhook = screen(request) if screen is not None else adapter.parse(request)
    kind = parsed.event_kind
    status = InboxStatus.ACCEPTED if kind is not None else InboxStatus.IGNORED
    entry = InboxEntry(
        source=adapter.source,
        event_id=parse_value(EventId, parsed.event_id, "event id"),
        topic=parsed.topic,
        received_at=request.received_at,
        status=status,
        raw_body=request.raw_body,
        ignored_reason=parsed.ignored_reason,
        headers=parsed.audit_headers,
        event_kind=kind,
    )
    try:
        stored = inbox.record(entry)
    except BodyTooLargeToStore as error:
        raise PayloadTooLarge(str(error)) from error
    if not stored:
        return WebhookReceipt(Receipt.DUPLICATE, parsed.event_id, parsed.topic)
    receipt = Receipt.ACCEPTED if status is InboxStatus.ACCEPTED else Receipt.IGNORED
    return WebhookReceipt(receipt, parsed.event_id, parsed.topic)


def record_fetched(
    adapter: InboundAdapter,
    request: WebhookRequest,
    inbox: InboxWriter,
    *,
    event_id: str,
    topic: str,
) -> WebhookReceipt:
    """Store an item a poller fetched or a queue handed over, exactly as `record` stores a
    webhook. One its adapter cannot map (or too large for an item) is stored as malformed under
    the id its source gave it (`event_id`, e.g. the journal's event id or the SQS message id),
    with the reason and, when they fit, the bytes: kept for a person, deduplicated like any
    delivery, never routed. Raising instead would stop the poll at this item forever."""
    try:
        return record(adapter, request, inbox)
    except MalformedWebhook as error:
        reason, raw_body = str(error), request.raw_body
    except PayloadTooLarge as error:
        reason, raw_body = str(error), b""
    key = storable_id(event_id)
    stored = inbox.record(
        InboxEntry(
            source=adapter.source,
            event_id=key,
            topic=topic[:200],
            received_at=request.received_at,
            status=InboxStatus.MALFORMED,
            raw_body=raw_body,
            ignored_reason=reason[:300],
            headers=dict(request.headers),
        )
    )
    return WebhookReceipt(Receipt.MALFORMED if stored else Receipt.DUPLICATE, key, topic)


def storable_id(candidate: str) -> str:
    """`candidate` if it can be part of a key, else a digest of it (same id, same key)."""
    try:
        return str(parse_value(EventId, candidate, "event id"))
    except MalformedWebhook:
        return "sha256-" + hashlib.sha256(candidate.encode()).hexdigest()


def event_of(adapter: InboundAdapter, item: Mapping[str, Any], raw_body: bytes) -> InboundEvent:
    """The canonical event of a stored delivery, derived again from the exact bytes received
    (the same mapping the webhook ran before acknowledging, so it cannot fail differently)."""
    request = WebhookRequest(
        Headers(item.get("headers") or {}),
        raw_body,
        received_at=datetime.fromisoformat(item["received_at"]),
    )
    event = adapter.parse(request).event
    if event is None:
        raise MalformedWebhook(f"{adapter.source} delivery {item['event_id']} maps to no event")
    return event
