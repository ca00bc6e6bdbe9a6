"""What every inbound adapter provides (webhook, poller, queue), and the errors it may raise.

Every source ends in the same `parse`: a webhook's request, an item a poller fetched and a
queue message are each a `WebhookRequest` (headers and the exact bytes), mapped to the same
`ParsedWebhook` and stored as the same inbox record; the stream router maps it again later with
the same adapter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Protocol, TypeVar

from pydantic import BaseModel, StringConstraints, TypeAdapter, ValidationError

if TYPE_CHECKING:
    import httpx

    from shared.inbox.events import InboundEvent

# A provider's delivery or event id becomes part of a DynamoDB key (2,048 bytes at most):
# printable ASCII, short. Real ids are UUIDs or "evt_..." strings of a few dozen characters.
EventId = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$")]


class WebhookRejected(Exception):
    """The request is refused before anything is stored."""

    status_code = 400
    code = "rejected"


class SignatureMismatch(WebhookRejected):
    status_code = 401
    code = "invalid_signature"


class MalformedWebhook(WebhookRejected):
    status_code = 400
    code = "malformed_body"


class PayloadTooLarge(WebhookRejected):
    status_code = 413
    code = "payload_too_large"


class ProviderNotConfigured(WebhookRejected):
    """The provider's secret is not set yet: refuse rather than verify against an empty key."""

    status_code = 503
    code = "provider_not_configured"


class Headers(Mapping[str, str]):
    """Case-insensitive header lookup (API Gateway lowercases, providers document mixed case)."""

    def __init__(self, raw: Mapping[str, str] | None) -> None:
        self._items = {key.lower(): value for key, value in (raw or {}).items()}

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def require(self, name: str) -> str:
        value = self._items.get(name.lower(), "").strip()
        if not value:
            raise MalformedWebhook(f"missing header {name}")
        return value


@dataclass(frozen=True)
class WebhookRequest:
    headers: Headers
    raw_body: bytes
    received_at: datetime


@dataclass(frozen=True)
class ParsedWebhook:
    """A verified webhook: its dedupe key, its type, and its canonical event (None = ignored).

    A screened delivery (an adapter's `screen`) has no event but names the `kind` it will map
    to: the adapter has proved it maps, and the stream router maps it (decision 65)."""

    event_id: str
    topic: str
    event: InboundEvent | None
    ignored_reason: str | None = None
    audit_headers: dict[str, str] = field(default_factory=dict)
    kind: str | None = None

    @property
    def event_kind(self) -> str | None:
        return self.event.kind if self.event is not None else self.kind

    @classmethod
    def screened(
        cls, event_id: str, topic: str, kind: str, audit_headers: dict[str, str]
    ) -> ParsedWebhook:
        """A delivery its adapter has proved maps to `kind`, left for the router to map."""
        return cls(
            event_id=event_id, topic=topic, event=None, audit_headers=audit_headers, kind=kind
        )


class InboundAdapter(Protocol):
    """Maps one delivery to its dedupe key and canonical event (MalformedWebhook if it cannot).

    A queue provider's adapter is exactly this: the queue's policy is its authenticity."""

    source: str

    def parse(self, request: WebhookRequest) -> ParsedWebhook: ...


class WebhookAdapter(InboundAdapter, Protocol):
    """A provider's webhook contract: `verify` on the raw bytes first, then `parse`."""

    def verify(self, request: WebhookRequest, secrets: Mapping[str, Any]) -> None: ...


@dataclass(frozen=True)
class Delivery:
    """One item a poller fetched: the provider's own id and topic, the item's bytes as the
    provider sent them, and headers kept for audit (what `parse` reads besides the body)."""

    event_id: str
    topic: str
    raw_body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PollResult:
    """One page from the provider. `cursor`: where the next poll starts (None: where this one
    did); `more`: the provider has more now, so the same run fetches the next page."""

    deliveries: tuple[Delivery, ...]
    cursor: str | None
    more: bool = False
    # Fields of the provider's secret to store back before the cursor moves (Allegro rotates
    # its refresh token on every refresh: the new one must be kept, or the next run is locked
    # out). None: nothing changed.
    secret_update: dict[str, str] | None = None


class Poller(InboundAdapter, Protocol):
    """A pull provider's contract: fetch what is new since `cursor` with the provider's
    credentials (`secrets`) over `http`; each delivery is then `parse`d like a webhook.
    HTTP failures raise (the run is retried; the cursor has not moved)."""

    def poll(
        self, secrets: Mapping[str, Any], cursor: str | None, http: httpx.Client
    ) -> PollResult: ...


class FetchingQueueAdapter(InboundAdapter, Protocol):
    """A queue provider whose notification only names what changed (Amazon's ORDER_CHANGE):
    `fetch` reads the resource from the provider's API with its credentials and returns what to
    store (the notification together with the fetched resource, under the notification's id),
    so `parse` stays pure and the stream router maps the stored bytes without calling anyone.
    None: store the message as it came (a notification type nothing reacts to). HTTP failures
    raise: the message becomes visible again and is retried, then dead-lettered."""

    def fetch(
        self, secrets: Mapping[str, Any], message: WebhookRequest, http: httpx.Client
    ) -> Delivery | None: ...


def not_a_boolean(value: Any) -> Any:
    """For a provider model's integer ids: pydantic reads JSON `true` as 1 even in lax mode,
    so a hostile `"id": true` would become order 1 instead of a 400."""
    if isinstance(value, bool):
        raise ValueError("must be an integer, not true or false")  # noqa: TRY004 - pydantic reports ValueError
    return value


def validation_message(error: ValidationError) -> str:
    """A short, field-naming summary of a pydantic error for a 400 body."""
    parts = []
    for issue in error.errors()[:5]:
        where = ".".join(str(loc) for loc in issue["loc"]) or "body"
        parts.append(f"{where}: {issue['msg']}")
    return "; ".join(parts)


M = TypeVar("M", bound=BaseModel)


def parse_json_model(model: type[M], raw_body: bytes) -> M:
    """Validate a JSON body straight into a model (faster than json.loads, then validate)."""
    try:
        return model.model_validate_json(raw_body)
    except ValidationError as error:
        if error.errors()[0]["type"] == "json_invalid":
            raise MalformedWebhook(f"body is not valid JSON: {error.errors()[0]['msg']}") from error
        if error.errors()[0]["type"] == "model_type":
            raise MalformedWebhook("body is not a JSON object") from error
        raise MalformedWebhook(validation_message(error)) from error


_adapters: dict[int, TypeAdapter[Any]] = {}


def parse_value(kind: Any, value: Any, what: str) -> Any:
    """Validate one value (a header, an id) against an annotated type; 400 naming `what`."""
    adapter = _adapters.get(id(kind))
    if adapter is None:
        adapter = _adapters[id(kind)] = TypeAdapter(kind)
    try:
        return adapter.validate_python(value)
    except ValidationError as error:
        raise MalformedWebhook(f"{what}: {error.errors()[0]['msg']}") from error


def parse_model(model: type[M], document: Any) -> M:
    try:
        return model.model_validate(document)
    except ValidationError as error:
        raise MalformedWebhook(validation_message(error)) from error
