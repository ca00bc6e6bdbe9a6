"""Allegro's order journal, pulled (Allegro pushes nothing about orders).

developer.allegro.pl/tutorials/jak-obslugiwac-zamowienia-GRaj0qyvwtR and the reference
(developer.allegro.pl/documentation, "Get order events", "Get order events statistics"):
- the first poll (no cursor) reads GET /order/event-stats and starts from its latestEvent.id:
  orders placed before orderhub was connected are not imported (the journal keeps ~60 days,
  and those orders were handled without it); a journal with no event at all yet gets the
  cursor FROM_THE_START, and is then read from its first event;
- then GET /order/events?from=<last event id>&type=...&limit=100; `from` is exclusive, ids
  only grow; a full page means more is waiting;
- each event names its checkout form: GET /order/checkout-forms/{id}, once per form per page
  (a page often holds BOUGHT, FILLED_IN and READY_FOR_PROCESSING of one form), stored with the
  event as {"event": ..., "checkoutForm": ...} under the event's id, so `parse` stays pure.
Replaying from an old cursor yields the same event ids (the inbox dedupes them) and forms
with the same `updatedAt` revision (intake ignores a revision it has seen).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, ValidationError

from shared.inbox.contract import Delivery, ParsedWebhook, PollResult, WebhookRequest
from shared.providers.channels.allegro.api import AllegroApi, Pacer, unavailable
from shared.providers.channels.allegro.checkout import SOURCE, parse_item
from shared.providers.channels.allegro.oauth import AllegroUnavailable

if TYPE_CHECKING:
    import httpx

M = TypeVar("M", bound=BaseModel)

PAGE_SIZE = 100
# The cursor of a journal that had no event yet when first polled: read it from its start.
FROM_THE_START = "start"
EVENT_TYPES = (
    "BOUGHT",
    "FILLED_IN",
    "READY_FOR_PROCESSING",
    "BUYER_CANCELLED",
    "FULFILLMENT_STATUS_CHANGED",
    "AUTO_CANCELLED",
    "BUYER_MODIFIED",
)


class _Latest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str


class _Stats(BaseModel):
    model_config = ConfigDict(extra="ignore")
    latestEvent: _Latest | None = None  # Allegro's field name


class _Page(BaseModel):
    """Only the envelope: each event is stored as sent and mapped by `parse`."""

    model_config = ConfigDict(extra="ignore")
    events: list[dict[str, Any]]


def _form_id(event: Mapping[str, Any]) -> str | None:
    order = event.get("order")
    form = order.get("checkoutForm") if isinstance(order, dict) else None
    value = form.get("id") if isinstance(form, dict) else None
    return value if isinstance(value, str) and value else None


def _compact(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


class AllegroOrderJournal:
    source = SOURCE
    page_size = PAGE_SIZE

    def __init__(self, *, pacer: Pacer | None = None) -> None:
        # one per process: the adapter is built once (registry.adapter_for)
        self._pacer = pacer or Pacer()

    def poll(
        self, secrets: Mapping[str, Any], cursor: str | None, http: httpx.Client
    ) -> PollResult:
        api = AllegroApi.from_secret(secrets, http, pacer=self._pacer)
        if cursor is None:
            # Start from now: what happened before orderhub was connected is not imported.
            latest = self._latest_event(api) or FROM_THE_START
            return PollResult((), cursor=latest, secret_update=api.secret_update())
        params: list[tuple[str, str | int]] = [("limit", self.page_size)]
        if cursor != FROM_THE_START:
            params.insert(0, ("from", cursor))
        params += [("type", kind) for kind in EVENT_TYPES]
        response = api.call("GET", "/order/events", "Allegro order events", params=params)
        page = _model(_Page, _ok(response, "Allegro order events"), "Allegro order events")
        deliveries = self._deliveries(api, page.events)
        last = next(
            (str(e["id"]) for e in reversed(page.events) if isinstance(e.get("id"), str | int)),
            None,
        )
        return PollResult(
            deliveries,
            cursor=last if last is not None else cursor,
            more=len(page.events) >= self.page_size,
            secret_update=api.secret_update(),
        )

    def parse(self, request: WebhookRequest) -> ParsedWebhook:
        return parse_item(request)

    @staticmethod
    def _latest_event(api: AllegroApi) -> str | None:
        what = "Allegro order event stats"
        response = _ok(api.call("GET", "/order/event-stats", what), what)
        stats = _model(_Stats, response, what)
        return stats.latestEvent.id if stats.latestEvent and stats.latestEvent.id else None

    @staticmethod
    def _deliveries(api: AllegroApi, events: list[dict[str, Any]]) -> tuple[Delivery, ...]:
        forms: dict[str, Any] = {}
        deliveries = []
        for event in events:
            form_id = _form_id(event)
            if form_id is not None and form_id not in forms:
                forms[form_id] = _checkout_form(api, form_id)
            deliveries.append(
                Delivery(
                    # an unusable id is stored as malformed under a digest (record_fetched)
                    event_id=str(event.get("id") or "missing-event-id"),
                    topic=str(event.get("type") or "unknown"),
                    raw_body=_compact({"event": event, "checkoutForm": forms.get(form_id or "")}),
                )
            )
        return tuple(deliveries)


def _checkout_form(api: AllegroApi, form_id: str) -> Any:
    what = f"Allegro checkout form {form_id}"
    response = api.call("GET", f"/order/checkout-forms/{quote(form_id, safe='')}", what)
    if response.status_code == 404:
        return None  # stored as such: parse ignores it with the reason
    try:
        return _ok(response, what).json()
    except ValueError as error:
        raise AllegroUnavailable(f"{what}: the answer is not JSON") from error


def _ok(response: httpx.Response, what: str) -> httpx.Response:
    """2xx passes; anything else fails the run (the cursor stays; the next run retries)."""
    if 200 <= response.status_code < 300:
        return response
    raise unavailable(response, what)


def _model(model: type[M], response: httpx.Response, what: str) -> M:
    try:
        return model.model_validate_json(response.content)
    except ValidationError as error:
        raise AllegroUnavailable(
            f"{what}: unexpected answer: {error.errors()[0]['msg']}"
        ) from error
