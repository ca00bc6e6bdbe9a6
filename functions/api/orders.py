"""The order history: GET /api/v1/orders (filtered, newest first, signed cursors), its CSV
export GET /api/v1/orders/export.csv, and GET /api/v1/orders/{order_id}."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

from functions.api.contract import requires, responses
from functions.api.settings import blobs, cursor_key, platform
from shared.kernel.errors import OrderNotFound
from shared.kernel.money import Money
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
from shared.platform.table import Item

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
MAX_TOTAL = 10**15  # minor units, as the largest order total orderhub stores
MAX_EMAIL = 320
# The export reads page after page up to these bounds, then hands out a cursor for the rest:
# rows, DynamoDB pages (a selective filter reads many items per row) and bytes (a Lambda
# response is at most 6 MB; the bytes are checked before each page of at most EXPORT_PAGE rows).
MAX_EXPORT_ROWS = 10_000
MAX_EXPORT_PAGES = 40
MAX_EXPORT_BYTES = 4_000_000
EXPORT_PAGE = 500
CSV = "text/csv; charset=utf-8"
EXPORT_COLUMNS = (
    "order_id",
    "created_at",
    "status",
    "channel",
    "external_id",
    "external_number",
    "currency",
    "total",
    "total_minor",
    "payment_method",
    "buyer_email",
)
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


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
    total_min: int | None = None
    total_max: int | None = None
    currency: str | None = None
    email: str | None = None  # lowercased, as the order item keeps the buyer's

    def bounds(self) -> tuple[str | None, str | None]:
        """Inclusive UTC bounds; a bare date means the whole day (UTC)."""
        return (_bound(self.created_from, time.min), _bound(self.created_to, time.max))

    def filters(self) -> dict[str, Any]:
        """What a cursor is bound to (a filter added or changed makes it another query)."""
        return self.model_dump(mode="json", exclude_none=True)

    def attribute_filters(self) -> dict[str, str]:
        """The text attributes the order item must equal (a FilterExpression)."""
        wanted = {"channel": self.channel, "currency": self.currency, "buyer_email": self.email}
        return {name: value for name, value in wanted.items() if value is not None}

    def check(self) -> None:
        """The filters that contradict each other: a 400 naming the first one."""
        created_from, created_to = self.bounds()
        if created_from and created_to and created_from > created_to:
            raise InvalidParameter("created_from", "created_from is after created_to")
        if (
            self.total_min is not None
            and self.total_max is not None
            and self.total_min > self.total_max
        ):
            raise InvalidParameter("total_min", "total_min is above total_max")

    def matches(self, item: Item) -> bool:
        """Whether one order item passes every filter (the lookup by external id)."""
        created_from, created_to = self.bounds()
        total = item["total"]
        return not (
            (self.status is not None and item["status"] != self.status.value)
            or (created_from is not None and item["created_at"] < created_from)
            or (created_to is not None and item["created_at"] > created_to)
            or (self.total_min is not None and total < self.total_min)
            or (self.total_max is not None and total > self.total_max)
            or any(item.get(name) != value for name, value in self.attribute_filters().items())
        )


def _bound(value: datetime | date | None, day_edge: time) -> str | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.combine(value, day_edge, tzinfo=UTC)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return utc_iso(value)


ChannelFilter = Annotated[
    str | None, Query(pattern=CHANNEL_PATTERN, description="e.g. `shopify`, `store`")
]
ExternalIdFilter = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=MAX_EXTERNAL_ID,
        description="The channel's order id; needs `channel`.",
    ),
]
TotalBound = Annotated[
    int | None,
    Query(ge=0, le=MAX_TOTAL, description="The order's total, minor units, inclusive."),
]
CurrencyFilter = Annotated[
    str | None, Query(pattern=r"^[A-Z]{3}$", description="ISO 4217, e.g. `PLN`.")
]
EmailFilter = Annotated[
    str | None,
    Query(
        min_length=3,
        max_length=MAX_EMAIL,
        pattern=r"^[^@\s]+@[^@\s]+$",
        description="The buyer's email, any case (orders compare it lowercased).",
    ),
]
CursorParameter = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=MAX_CURSOR,
        description="`next_cursor` of the previous page (`X-Next-Cursor` of a cut export), "
        "with the same filters.",
    ),
]


def _query(
    *,
    channel: str | None,
    external_id: str | None,
    status: OrderStatus | None,
    created_from: datetime | date | None,
    created_to: datetime | date | None,
    total_min: int | None,
    total_max: int | None,
    currency: str | None,
    email: str | None,
) -> ListOrdersQuery:
    query = ListOrdersQuery(
        channel=channel,
        external_id=external_id,
        status=status,
        created_from=created_from,
        created_to=created_to,
        total_min=total_min,
        total_max=total_max,
        currency=currency,
        email=email.lower() if email is not None else None,
    )
    query.check()
    return query


def _page(
    orders: OrderRepository, query: ListOrdersQuery, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[Item], dict[str, Any] | None]:
    created_from, created_to = query.bounds()
    return orders.list_page(
        status=query.status,
        created_from=created_from,
        created_to=created_to,
        filters=query.attribute_filters(),
        total_min=query.total_min,
        total_max=query.total_max,
        limit=limit,
        start_key=start_key,
    )


@router.get(
    "/api/v1/orders",
    summary="List orders, newest first",
    description="Filters combine (AND). A page may hold fewer than `limit` orders and still "
    "have a `next_cursor`: follow it until it is null.",
    security=requires("orders:read"),
    responses=responses(OrderPage, "A page of orders", 400, 401, 403),
)
def list_orders(
    *,
    channel: ChannelFilter = None,
    external_id: ExternalIdFilter = None,
    status: Annotated[OrderStatus | None, Query()] = None,
    created_from: Annotated[Moment | None, Query(description=_MOMENT_HELP)] = None,
    created_to: Annotated[Moment | None, Query(description=_MOMENT_HELP)] = None,
    total_min: TotalBound = None,
    total_max: TotalBound = None,
    currency: CurrencyFilter = None,
    email: EmailFilter = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: CursorParameter = None,
) -> HttpResponse:
    query = _query(
        channel=channel,
        external_id=external_id,
        status=status,
        created_from=created_from,
        created_to=created_to,
        total_min=total_min,
        total_max=total_max,
        currency=currency,
        email=email,
    )
    orders = order_store(platform())
    if query.external_id is not None:
        found = _by_external_id(orders, query)
        return json_response(200, {"items": [list_row(i) for i in found], "next_cursor": None})
    start_key = read_cursor(cursor, query.filters(), cursor_key()) if cursor else None
    items: list[dict[str, Any]] = []
    for _ in range(MAX_PAGES_PER_REQUEST):
        page, start_key = _page(orders, query, limit - len(items), start_key)
        items.extend(list_row(item) for item in page)
        if start_key is None or len(items) >= limit:
            break
    next_cursor = issue_cursor(start_key, query.filters(), cursor_key()) if start_key else None
    return json_response(200, {"items": items, "next_cursor": next_cursor})


def _by_external_id(orders: OrderRepository, query: ListOrdersQuery) -> list[Item]:
    if query.channel is None:
        raise InvalidParameter(
            "external_id", "external_id needs channel: an external id is unique per channel"
        )
    order_id = orders.find_by_channel(query.channel, query.external_id or "")
    item = orders.get_item(order_id) if order_id else None
    return [item] if item is not None and query.matches(item) else []


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # Prefixed with ' so a spreadsheet shows the text instead of running it.
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def export_row(item: Item) -> list[str]:
    total = Money(amount=item["total"], currency=item["currency"])
    return [
        _cell(value)
        for value in (
            item["order_id"],
            item["created_at"],
            item["status"],
            item["channel"],
            item["external_id"],
            item.get("external_number"),
            item["currency"],
            f"{total.to_decimal():f}",
            item["total"],
            item.get("payment_method"),
            item.get("buyer_email"),
        )
    ]


class _CsvText:
    """The export's body as it grows (rows are written as their pages arrive)."""

    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\r\n")
        self._writer.writerow(EXPORT_COLUMNS)

    def add(self, items: Iterable[Item]) -> None:
        self._writer.writerows(export_row(item) for item in items)

    @property
    def size(self) -> int:
        return self._buffer.tell()  # characters: a bound that is close enough to bytes

    def text(self) -> str:
        return self._buffer.getvalue()


_EXPORT_RESPONSES: dict[int, Any] = {
    **responses(OrderPage, "", 400, 401, 403),
    # The JSON success `responses` describes, replaced by the CSV.
    200: {
        "description": "The orders as CSV (RFC 4180, UTF-8, a header row)",
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "headers": {
            "Content-Disposition": {
                "description": '`attachment; filename="orders.csv"`',
                "schema": {"type": "string"},
            },
            "X-Next-Cursor": {
                "description": "Only when the export stopped at its bound: the cursor of the rest.",
                "schema": {"type": "string"},
            },
        },
    },
}


# Declared before /api/v1/orders/<order_id>: `export.csv` is not an order id.
@router.get(
    "/api/v1/orders/export.csv",
    summary="The order history as CSV, newest first",
    description="The filters of `GET /api/v1/orders`. Every page is read, up to "
    f"{MAX_EXPORT_ROWS} rows (or {MAX_EXPORT_PAGES} index pages, or about "
    f"{MAX_EXPORT_BYTES // 1_000_000} MB): when there is more, the `X-Next-Cursor` header "
    "holds a cursor; pass it as `cursor`, with the same filters, for the next part. Columns: "
    + ", ".join(f"`{c}`" for c in EXPORT_COLUMNS)
    + " (`total` in major units, e.g. `123.45`; `total_minor` in minor units). A cell that "
    "starts with `=`, `+`, `-`, `@`, a tab or a carriage return is prefixed with `'`.",
    security=requires("orders:read"),
    responses=_EXPORT_RESPONSES,
)
def export_orders(
    *,
    channel: ChannelFilter = None,
    external_id: ExternalIdFilter = None,
    status: Annotated[OrderStatus | None, Query()] = None,
    created_from: Annotated[Moment | None, Query(description=_MOMENT_HELP)] = None,
    created_to: Annotated[Moment | None, Query(description=_MOMENT_HELP)] = None,
    total_min: TotalBound = None,
    total_max: TotalBound = None,
    currency: CurrencyFilter = None,
    email: EmailFilter = None,
    cursor: CursorParameter = None,
) -> HttpResponse:
    query = _query(
        channel=channel,
        external_id=external_id,
        status=status,
        created_from=created_from,
        created_to=created_to,
        total_min=total_min,
        total_max=total_max,
        currency=currency,
        email=email,
    )
    orders = order_store(platform())
    body = _CsvText()
    headers = {"Content-Disposition": 'attachment; filename="orders.csv"'}
    if query.external_id is not None:
        body.add(_by_external_id(orders, query))
        return _csv(body, headers)
    start_key = read_cursor(cursor, query.filters(), cursor_key()) if cursor else None
    rows = 0
    for _ in range(MAX_EXPORT_PAGES):
        page, start_key = _page(orders, query, min(EXPORT_PAGE, MAX_EXPORT_ROWS - rows), start_key)
        body.add(page)
        rows += len(page)
        if start_key is None or rows >= MAX_EXPORT_ROWS or body.size >= MAX_EXPORT_BYTES:
            break
    if start_key is not None:
        headers["X-Next-Cursor"] = issue_cursor(start_key, query.filters(), cursor_key())
    return _csv(body, headers)


def _csv(body: _CsvText, headers: dict[str, str]) -> HttpResponse:
    return Response(status_code=200, content_type=CSV, body=body.text(), headers=headers)


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
