"""AcmeMarket's order journal, pulled: `GET /v1/order-events?since=<sequence>&limit=<n>` with a
bearer token. Acme documents `since` as inclusive (the event at the cursor comes again) and
delivery as at-least-once: the inbox's dedupe on the event id absorbs both."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict

from shared.inbox.contract import (
    Delivery,
    EventId,
    ParsedWebhook,
    PollResult,
    WebhookRequest,
    parse_json_model,
)
from tests.fictional.acme.webhook import IGNORED

PRODUCTION_URL = "https://api.acme-market.example"
PAGE_SIZE = 100
REQUEST_ID_HEADER = "X-Request-Id"
SEQUENCE_HEADER = "Acme-Event-Sequence"


class _Page(BaseModel):
    """Only the envelope: each event is kept as sent and mapped by `parse`, one at a time,
    so one malformed event is recorded as such instead of failing the page."""

    model_config = ConfigDict(extra="ignore")
    events: list[dict[str, Any]]
    hasMore: bool = False  # Acme's field name


class OrderRef(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    revision: int


class JournalEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: EventId
    sequence: int
    type: str
    occurredAt: datetime  # Acme's field name
    order: OrderRef


class AcmeMarketJournal:
    source = "acmemarket"
    page_size = PAGE_SIZE

    def poll(
        self, secrets: Mapping[str, Any], cursor: str | None, http: httpx.Client
    ) -> PollResult:
        base = str(secrets.get("api_url") or PRODUCTION_URL).rstrip("/")
        params: dict[str, str | int] = {"limit": self.page_size}
        if cursor is not None:
            params["since"] = cursor
        response = http.get(
            f"{base}/v1/order-events",
            params=params,
            headers={
                "Authorization": f"Bearer {secrets['api_token']}",
                "Accept": "application/json",
            },
        )
        response.raise_for_status()  # 401, 429, 5xx: the run fails and is retried
        page = _Page.model_validate_json(response.content)
        audit = {REQUEST_ID_HEADER: response.headers.get(REQUEST_ID_HEADER, "")}
        deliveries = []
        for event in page.events:
            sequence = str(event.get("sequence", ""))
            deliveries.append(
                Delivery(
                    event_id=str(event.get("id") or f"sequence-{sequence}"),
                    topic=str(event.get("type") or "unknown"),
                    raw_body=json.dumps(event, separators=(",", ":")).encode(),
                    headers={**audit, SEQUENCE_HEADER: sequence},
                )
            )
        last = page.events[-1].get("sequence") if page.events else None
        return PollResult(
            tuple(deliveries),
            cursor=str(last) if last is not None else cursor,
            more=page.hasMore,
        )

    def parse(self, request: WebhookRequest) -> ParsedWebhook:
        event = parse_json_model(JournalEvent, request.raw_body)
        return ParsedWebhook(
            event_id=event.id,
            topic=event.type,
            event=None,
            ignored_reason=IGNORED,
            audit_headers={
                name: request.headers[name]
                for name in (REQUEST_ID_HEADER, SEQUENCE_HEADER)
                if request.headers.get(name)
            },
        )
