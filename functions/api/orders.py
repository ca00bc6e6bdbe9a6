"""GET /api/v1/orders and GET /api/v1/orders/{order_id}."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, ConfigDict, Field, field_validator

from functions.api.auth import require
from functions.api.settings import table
from shared.domain.errors import OrderNotFound
from shared.domain.order import OrderStatus, utc_iso
from shared.http import HttpResponse, json_response
from shared.services.order_views import decode_cursor, encode_cursor, list_row, order_view
from shared.store.orders import OrderRepository

router = APIGatewayHttpRouter()
MAX_PAGES_PER_REQUEST = 5
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class ListOrdersQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    channel: str | None = None
    external_id: str | None = None
    status: OrderStatus | None = None
    created_from: datetime | date | None = None
    created_to: datetime | date | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 50
    cursor: str | None = None

    @field_validator("created_from", "created_to", mode="before")
    @classmethod
    def _day_or_moment(cls, value: object) -> object:
        # "2026-11-26" is a whole day; anything longer is a moment (pydantic would otherwise
        # read a bare date as midnight, and created_to=<today> would exclude today).
        if isinstance(value, str) and _DAY.fullmatch(value):
            return date.fromisoformat(value)
        return value

    def bounds(self) -> tuple[str | None, str | None]:
        """Inclusive UTC bounds; a bare date means the whole day (UTC)."""
        return (_bound(self.created_from, time.min), _bound(self.created_to, time.max))

    def filters(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"cursor", "limit"}, exclude_none=True)


def _bound(value: datetime | date | None, day_edge: time) -> str | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.combine(value, day_edge, tzinfo=UTC)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return utc_iso(value)


@router.get("/api/v1/orders", middlewares=[require("orders:read")])
def list_orders() -> HttpResponse:
    query = ListOrdersQuery.model_validate(router.current_event.query_string_parameters or {})
    orders = OrderRepository(table())
    if query.external_id is not None:
        return json_response(200, {"items": _by_external_id(orders, query), "next_cursor": None})
    created_from, created_to = query.bounds()
    start_key = decode_cursor(query.cursor, query.filters()) if query.cursor else None
    filters = {"channel": query.channel} if query.channel else {}
    items: list[dict[str, Any]] = []
    for _ in range(MAX_PAGES_PER_REQUEST):
        page, start_key = orders.list_page(
            status=query.status,
            created_from=created_from,
            created_to=created_to,
            filters=filters,
            limit=query.limit - len(items),
            start_key=start_key,
        )
        items.extend(list_row(item) for item in page)
        if start_key is None or len(items) >= query.limit:
            break
    cursor = encode_cursor(start_key, query.filters()) if start_key else None
    return json_response(200, {"items": items, "next_cursor": cursor})


def _by_external_id(orders: OrderRepository, query: ListOrdersQuery) -> list[dict[str, Any]]:
    if query.channel is None:
        raise ValueError("external_id needs channel: an external id is unique per channel")
    order_id = orders.find_by_channel(query.channel, query.external_id or "")
    item = orders.get_item(order_id) if order_id else None
    if item is None or (query.status is not None and item["status"] != query.status.value):
        return []
    created_from, created_to = query.bounds()
    if (created_from and item["created_at"] < created_from) or (
        created_to and item["created_at"] > created_to
    ):
        return []
    return [list_row(item)]


@router.get("/api/v1/orders/<order_id>", middlewares=[require("orders:read")])
def get_order(order_id: str) -> HttpResponse:
    view = order_view(OrderRepository(table()).partition(order_id))
    if view is None:
        raise OrderNotFound(order_id)
    return json_response(200, view)
