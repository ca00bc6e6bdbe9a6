"""The webhook inbox: one conditional put per delivery, keyed by the provider's event id.

The put is the acknowledgement's durability point and the dedupe: a second delivery of the same
event id finds the item and changes nothing. The item's INSERT on the table stream is what
drives processing, so a webhook function does exactly one AWS write on its hot path.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from shared.kernel.time import utc_iso
from shared.platform.table import ConditionFailed, Item, Table

if TYPE_CHECKING:
    from shared.inbox.events import InboundEnvelope

INBOX_SK = "INBOX"
# Compressed raw bodies above this go to S3 so the item stays far below DynamoDB's 400 KB limit
# (and a stream batch far below Lambda's 6 MB payload limit).
MAX_INLINE_RAW_BYTES = 64 * 1024
MAX_READABLE_ENVELOPE_BYTES = 96 * 1024
# DynamoDB refuses items over 400 KB; keep a margin for attribute names and the stream.
MAX_ITEM_BYTES = 350 * 1024
FAILED_PK = "INBOX#FAILED"
FAILURE_RETENTION = timedelta(days=30)


class BodyTooLargeToStore(ValueError):
    """Even with the raw body in S3 the item would not fit in DynamoDB."""


class InboxStatus(StrEnum):
    ACCEPTED = "accepted"
    IGNORED = "ignored"
    # A polled item or queue message its adapter could not map: nobody can be answered 400,
    # so it is kept (bytes and reason) instead of lost; the stream router never sees it.
    MALFORMED = "malformed"


def inbox_pk(source: str, event_id: str) -> str:
    return f"INBOX#{source}#{event_id}"


@dataclass(frozen=True)
class InboxEntry:
    source: str
    event_id: str
    topic: str
    received_at: datetime
    status: InboxStatus
    raw_body: bytes
    # A webhook's canonical event is derived again from the raw body by the stream router (the
    # webhook only proves it can be): one copy of the payload per item, not two. Sources
    # without a signed raw form (internal producers, tests) may store the event itself.
    envelope: InboundEnvelope | None = None
    ignored_reason: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    event_kind: str | None = None

    @property
    def kind(self) -> str | None:
        return self.envelope.event.kind if self.envelope else self.event_kind


BlobWriter = Callable[[str, bytes], None]


class InboxRepository:
    def __init__(
        self, table: Table, *, retention_days: int = 90, blob_writer: BlobWriter | None = None
    ) -> None:
        self._table = table
        self._retention = timedelta(days=retention_days)
        self._blob_writer = blob_writer

    def record(self, entry: InboxEntry) -> bool:
        """Store the delivery once. False: this event id was stored before (a duplicate)."""
        item: dict[str, Any] = {
            "PK": inbox_pk(entry.source, entry.event_id),
            "SK": INBOX_SK,
            "type": "inbox",
            "source": entry.source,
            "event_id": entry.event_id,
            "topic": entry.topic,
            "status": entry.status.value,
            "kind": entry.kind,
            "received_at": utc_iso(entry.received_at),
            "expires_at": int((entry.received_at + self._retention).timestamp()),
            "headers": entry.headers or None,
            "ignored_reason": entry.ignored_reason,
        }
        if entry.envelope is not None:
            canonical = entry.envelope.model_dump_json()
            # Kept readable in the console; compressed only when a very large order would
            # otherwise push the item towards DynamoDB's 400 KB limit.
            if len(canonical) > MAX_READABLE_ENVELOPE_BYTES:
                item["envelope_zlib"] = zlib.compress(canonical.encode(), level=1)
            else:
                item["envelope"] = canonical
        compressed = compress(entry.raw_body)
        inline = len(compressed) <= MAX_INLINE_RAW_BYTES or self._blob_writer is None
        if inline:
            item["raw_zlib"] = compressed
        else:
            item["raw_blob_key"] = blob_key = _blob_key(entry.source, compressed)
        if _may_not_fit(item, compressed if inline else b"") and (
            approximate_item_size(item) > MAX_ITEM_BYTES
        ):
            raise BodyTooLargeToStore(
                f"a {len(entry.raw_body)}-byte delivery does not fit in one inbox item"
            )
        if not inline and self._blob_writer is not None:
            # Written only once the item is known to fit, under a key named after the content:
            # the delivery id is not signed (Shopify), so a key named after it would let a
            # second body with the same id overwrite the bytes of the one we stored. A retry
            # rewrites the same object.
            self._blob_writer(blob_key, compressed)
        try:
            self._table.put(item, condition="attribute_not_exists(PK)")
        except ConditionFailed:
            return False
        return True

    def get(self, source: str, event_id: str) -> Item | None:
        return self._table.get(inbox_pk(source, event_id), INBOX_SK, consistent=True)

    # -- failures and replay -------------------------------------------------------------------
    def record_failure(
        self, source: str, event_id: str, error: str, *, at: datetime, kind: str = "error"
    ) -> None:
        """Remember that processing a stored delivery failed (each attempt). Written only on
        failure, so it costs nothing on the happy path; stream records expire after 24 hours,
        this list keeps them for FAILURE_RETENTION, and `replay` works from it.

        `error` names what went wrong (an error class, a reason we wrote); it never carries
        the payload: buyer data stays in the inbox item, which has its own retention."""
        self._table.update(
            FAILED_PK,
            f"{source}#{event_id}",
            "SET #type = :type, #source = :source, event_id = :event, last_error = :error, "
            "failed_at = :at, failure = :kind, expires_at = :expires ADD attempts :one",
            values={
                ":type": "inbox_failure",
                ":source": source,
                ":event": event_id,
                ":error": error[:300],
                ":at": utc_iso(at),
                ":kind": kind,
                ":expires": int((at + FAILURE_RETENTION).timestamp()),
                ":one": 1,
            },
            names={"#type": "type", "#source": "source"},
        )

    def clear_failure(self, source: str, event_id: str) -> None:
        self._table.delete(FAILED_PK, f"{source}#{event_id}")

    def failures(self) -> list[Item]:
        return self._table.query_all(
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": FAILED_PK}},
        )

    def replay(self, source: str, event_id: str) -> bool:
        """Process a stored delivery again: delete the item and put it back unchanged, so the
        stream sees a new INSERT. Every effect downstream is idempotent, so replaying something
        that already took effect changes nothing. False: no such delivery (expired)."""
        item = self.get(source, event_id)
        if item is None:
            return False
        self._table.delete(inbox_pk(source, event_id), INBOX_SK)
        self._table.put(item, condition="attribute_not_exists(PK)")
        self._table.delete(FAILED_PK, f"{source}#{event_id}")
        return True


def compress(data: bytes) -> bytes:
    """zlib level 1 (within ~7% of the best ratio on webhook JSON at half the CPU), with a
    window no larger than the body: setting up a 32 KB window for a 3 KB body is most of
    the cost. Any zlib reader decompresses it (a smaller window is always readable)."""
    window_bits = min(15, max(9, len(data).bit_length()))
    # memLevel 4, which zlib.compress() cannot set: the bytes name a large body's S3 blob
    # (_blob_key), so they stay the same from one release to the next.
    compressor = zlib.compressobj(1, zlib.DEFLATED, window_bits, 4)
    return compressor.compress(data) + compressor.flush()


def _blob_key(source: str, compressed: bytes) -> str:
    return f"inbox/{source}/{hashlib.sha256(compressed).hexdigest()}.json.z"


# Everything in an inbox item but the raw body and the headers is a few hundred bytes: the key
# (an event id is at most 2,048 bytes), the topic, the status words, the reason (300).
_SMALL_PARTS_BYTES = 8 * 1024


def _may_not_fit(item: Item, inline_body: bytes) -> bool:
    """A cheap bound first: an ordinary delivery is far below the limit, and walking every
    attribute to prove it cost a webhook about 10 us."""
    headers = item.get("headers") or {}
    header_bytes = sum(len(k) + len(v) for k, v in headers.items())
    envelope = item.get("envelope") or item.get("envelope_zlib") or b""
    bound = len(inline_body) + 4 * (header_bytes + len(envelope)) + _SMALL_PARTS_BYTES
    return bound > MAX_ITEM_BYTES


def approximate_item_size(item: Item) -> int:
    """DynamoDB's item size: attribute names plus values (UTF-8 text, bytes, ~numbers)."""
    size = 0
    for name, value in item.items():
        size += len(name.encode())
        if isinstance(value, bytes | bytearray):
            size += len(value)
        elif isinstance(value, str):
            size += len(value.encode())
        elif isinstance(value, dict):
            size += sum(len(str(k).encode()) + len(str(v).encode()) for k, v in value.items())
        else:
            size += len(str(value))
    return size


def envelope_of(item: Item) -> InboundEnvelope:
    """The canonical event of an inbox item (as read from the table or its stream)."""
    from shared.inbox.events import InboundEnvelope  # every kind's models: the router only

    if "envelope_zlib" in item:
        return InboundEnvelope.model_validate_json(zlib.decompress(item["envelope_zlib"]))
    return InboundEnvelope.model_validate_json(item["envelope"])


def raw_body_of(item: Item, blob_reader: Callable[[str], bytes] | None = None) -> bytes | None:
    """The exact bytes the provider sent; from S3 (`blob_reader`) when they were large."""
    data = item.get("raw_zlib")
    if data is None and "raw_blob_key" in item and blob_reader is not None:
        data = blob_reader(item["raw_blob_key"])
    return zlib.decompress(data) if data is not None else None
