"""The repair poll: orders modified since the cursor, oldest first, through the REST API v3.

GET {store}/wp-json/wc/v3/orders?modified_after=<GMT>&dates_are_gmt=true&orderby=modified
&order=asc&per_page=100&page=<n> (woocommerce-rest-api-docs, wp-api-v3 _orders.md "List all
orders"; orderby=modified is accepted by WooCommerce's CRUD controller, though the docs' list
of options stops at slug). Totals come in X-WP-Total and
X-WP-TotalPages (_introduction.md "Pagination").

Each order fetched is stored exactly as the webhook of the same version would be: the same event
id (order id and date_modified_gmt) and topic order.updated, so whichever of the two arrives
second is a duplicate. The cursor is the last date_modified_gmt seen (GMT, whole seconds);
each poll re-reads a few seconds before it, since orders modified in the same second as the
cursor may not all have been seen. When a whole page shares the cursor's second or the
overlap (a bulk edit), the cursor keeps its time and names the next page ("...#page=2").
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from shared.inbox.contract import Delivery, PollResult
from shared.providers.channels.woocommerce.resources import WooOrderVersion, order_event_id
from shared.providers.channels.woocommerce.rest import StoreApi
from shared.providers.channels.woocommerce.webhook import FETCHED_HEADER, POLLED_TOPIC

if TYPE_CHECKING:
    import httpx

ORDERS_PATH = "/orders"
PAGE_SIZE = 100  # the API's maximum per_page
OVERLAP = timedelta(seconds=5)
FIRST_LOOKBACK = timedelta(hours=24)
_GMT_FORMAT = "%Y-%m-%dT%H:%M:%S"
_PAGE_MARK = "#page="


class UnexpectedAnswer(RuntimeError):
    """The store answered 2xx with something that is not a page of orders (a maintenance
    page, a security plugin's HTML): the run fails and the cursor stays."""


@dataclass(frozen=True)
class Cursor:
    since: datetime  # the last date_modified_gmt seen
    page: int = 1

    @classmethod
    def parse(cls, text: str) -> Cursor:
        moment, _, page = text.partition(_PAGE_MARK)
        since = datetime.fromisoformat(moment)
        return cls(since if since.tzinfo else since.replace(tzinfo=UTC), int(page or 1))

    def text(self) -> str:
        moment = self.since.astimezone(UTC).strftime(_GMT_FORMAT)
        return moment if self.page == 1 else f"{moment}{_PAGE_MARK}{self.page}"


def poll_orders(
    secrets: Mapping[str, Any],
    cursor: str | None,
    http: httpx.Client,
    *,
    now: Callable[[], datetime],
) -> PollResult:
    if not StoreApi.configured(secrets):
        # The REST keys are optional (webhooks alone work): without them there is no repair
        # poll, and nothing failed.
        return PollResult((), cursor=cursor)
    api = StoreApi.from_secret(secrets)
    position = Cursor.parse(cursor) if cursor else Cursor(now() - FIRST_LOOKBACK)
    response = http.get(
        api.url(ORDERS_PATH),
        params={
            "modified_after": (position.since - OVERLAP).astimezone(UTC).strftime(_GMT_FORMAT),
            "dates_are_gmt": "true",
            "orderby": "modified",
            "order": "asc",
            "per_page": PAGE_SIZE,
            "page": position.page,
        },
        auth=api.auth,
        headers={"Accept": "application/json"},
    )
    response.raise_for_status()  # 401, 429, 5xx (and redirects): the run fails, cursor unmoved
    items = _orders(response)
    deliveries = tuple(_delivery(item) for item in items)
    seen = [moment for moment in map(_modified_at, items) if moment is not None]
    latest = max(seen, default=None)
    more = position.page < _total_pages(response)
    if latest is None:
        following = position if cursor else None
    elif not more:
        following = Cursor(max(latest, position.since))
    elif latest > position.since:
        following = Cursor(latest)
    else:
        following = Cursor(position.since, position.page + 1)
    return PollResult(
        deliveries, cursor=following.text() if following else cursor, more=more and bool(items)
    )


def _orders(response: httpx.Response) -> list[dict[str, Any]]:
    try:
        page = json.loads(response.content)
    except ValueError as error:
        raise UnexpectedAnswer(f"GET orders answered {response.status_code}, not JSON") from error
    if not isinstance(page, list) or not all(isinstance(item, dict) for item in page):
        raise UnexpectedAnswer(f"GET orders answered {response.status_code}, not a list of orders")
    return page


def _total_pages(response: httpx.Response) -> int:
    try:
        return int(response.headers.get("X-WP-TotalPages") or 1)
    except ValueError:
        return 1


def _modified_at(item: Mapping[str, Any]) -> datetime | None:
    try:
        return WooOrderVersion.model_validate(item).modified_at
    except ValidationError:
        return None


def _delivery(item: dict[str, Any]) -> Delivery:
    raw = json.dumps(item, ensure_ascii=False).encode()
    try:
        version = WooOrderVersion.model_validate(item)
    except ValidationError:
        version = None
    if version is not None and version.modified_at is not None:
        event_id = order_event_id(version.id, version.modified_at)
    else:
        # Kept as malformed under a stable key: parse will refuse it too.
        event_id = f"order-unreadable-{hashlib.sha256(raw).hexdigest()[:40]}"
    return Delivery(event_id, POLLED_TOPIC, raw, {FETCHED_HEADER: "poll"})
