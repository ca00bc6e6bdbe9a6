"""GET /api/v1/orders and GET /api/v1/orders/{order_id}."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

from functions.api.contract import requires, responses
from functions.api.settings import blobs, cursor_key, platform
from shared.kernel.errors import OrderNotFound
from shared.kernel.time import utc_iso
from shared.orders.domain import OrderStatus
from shared.orders.store import OrderRepository
from shared.orders.views import (
    OrderPage,
    OrderView,
    issue_cursor,
    list_row,
    order_view,
    read_cursor,
)
from shared.orders.wiring import order_store
from shared.platform.http import HttpResponse, json_response

router = APIGatewayHttpRouter()
MAX_PAGES_PER_REQUEST = 5
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")
# Every key built from a parameter stays far below DynamoDB's limits (partition key 2048 bytes,
# sort key 1024): an id or channel that cannot be a key is refused here, never sent.
ORDER_ID_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"
CHANNEL_PATTERN = r"^[a-z0-9_]{1,64}$"
MAX_EXTERNAL_ID = 200  # as Order.external_id
MAX_CURSOR = 2048


class InvalidParameter(ValueError):
    """A parameter that is well-formed alone but not with the others (a 400 naming it)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(problem)
        self.field = field


def _day_or_moment(value: object) -> object:
    # "2026-11-26" is a whole day; anything longer is a moment (pydantic would otherwise read
    # a bare date as midnight, and created_to=<today> would exclude today). Only ISO 8601:
    # pydantic would also read "0.5" as seconds since 1970.
    if isinstance(value, str):
        if _DAY.fullmatch(value):
            return date.fromisoformat(value)
        if not _MOMENT.match(value):
            raise ValueError("expected a date (2026-11-26) or an ISO 8601 timestamp")
    return value


def _storable(value: datetime | date) -> datetime | date:
    # 9999-12-31T23:00:00-05:00 is a valid moment that is year 10000 in UTC: refused here.
    if isinstance(value, datetime):
        try:
            (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
        except (OverflowError, ValueError) as error:
            raise ValueError("the moment is outside the years 1-9999 in UTC") from error
    return value


Moment = Annotated[datetime | date, BeforeValidator(_day_or_moment), AfterValidator(_storable)]
_MOMENT_HELP = (
    "A date (`2026-11-26`, the whole UTC day) or a timestamp (`2026-11-26T10:00:00+01:00`; "
    "without an offset it is UTC)."
)


class ListOrdersQuery(BaseModel):
    """The validated query; the filters a cursor is bound to."""

    model_config = ConfigDict(frozen=True)

    channel: str | None = None
    external_id: str | None = None
    status: OrderStatus | None = None
    created_from: datetime | date | None = None
    created_to: datetime | date | None = None

    def bounds(self) -> tuple[str | None, str | None]:
        """Inclusive UTC bounds; a bare date means the whole day (UTC)."""
        return (_bound(self.created_from, time.min), _bound(self.created_to, time.max))

    def filters(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def _bound(value: datetime | date | None, day_edge: time) -> str | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.combine(value, day_edge, tzinfo=UTC)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return utc_iso(value)


@router.get(
    "/api/v1/orders",
    summary="List orders, newest first",
    security=requires("orders:read"),
    responses=responses(OrderPage, "A page of orders", 400, 401, 403),
)
def list_orders(
    *,
    channel: Annotated[
        str | None, Query(pattern=CHANNEL_PATTERN, description="e.g. `shopify`")
    ] = None,
    external_id: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=MAX_EXTERNAL_ID,
            description="The channel's order id; needs `channel`.",
        ),
    ] = None,
    status: Annotated[OrderStatus | None, Query()] = None,
    created_from: Annotated[Moment | None, Query(description=_MOMENT_HELP)] = None,
    created_to: Annotated[Moment | None, Query(description=_MOMENT_HELP)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=MAX_CURSOR,
            description="`next_cursor` of the previous page, with the same filters.",
        ),
    ] = None,
) -> HttpResponse:
    query = ListOrdersQuery(
        channel=channel,
        external_id=external_id,
        status=status,
        created_from=created_from,
        created_to=created_to,
    )
    created_from_bound, created_to_bound = query.bounds()
    if created_from_bound and created_to_bound and created_from_bound > created_to_bound:
        raise InvalidParameter("created_from", "created_from is after created_to")
    orders = order_store(platform())
    if query.external_id is not None:
        return json_response(200, {"items": _by_external_id(orders, query), "next_cursor": None})
    start_key = read_cursor(cursor, query.filters(), cursor_key()) if cursor else None
    filters = {"channel": query.channel} if query.channel else {}
    items: list[dict[str, Any]] = []
    for _ in range(MAX_PAGES_PER_REQUEST):
        page, start_key = orders.list_page(
            status=query.status,
            created_from=created_from_bound,
            created_to=created_to_bound,
            filters=filters,
            limit=limit - len(items),
            start_key=start_key,
        )
        items.extend(list_row(item) for item in page)
        if start_key is None or len(items) >= limit:
            break
    next_cursor = issue_cursor(start_key, query.filters(), cursor_key()) if start_key else None
    return json_response(200, {"items": items, "next_cursor": next_cursor})


def _by_external_id(orders: OrderRepository, query: ListOrdersQuery) -> list[dict[str, Any]]:
    if query.channel is None:
        raise InvalidParameter(
            "external_id", "external_id needs channel: an external id is unique per channel"
        )
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


@router.get(
    "/api/v1/orders/<order_id>",
    summary="One order: lines, buyer, delivery, totals, payments, reservations, timeline",
    security=requires("orders:read"),
    responses=responses(
        OrderView, "The order", 400, 401, 403, 404, s404="`order_not_found`: no such order"
    ),
)
def get_order(
    order_id: Annotated[str, Path(pattern=ORDER_ID_PATTERN, description="e.g. `ord_01M8...`")],
) -> HttpResponse:
    view = order_view(order_store(platform()).partition(order_id), blobs())
    if view is None:
        raise OrderNotFound(order_id)
    return json_response(200, view)
