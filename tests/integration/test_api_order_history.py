"""The order history through the API handler: filters, signed cursors with filters, and the
CSV export (content, quoting, CSV injection, the bound and its cursor)."""

from __future__ import annotations

import csv
import io
import json
import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from functions.api import orders as orders_api
from shared.kernel.money import Money
from shared.orders.domain import Buyer, Order, OrderLine, Totals
from shared.orders.store import OrderRepository
from shared.platform import aws
from shared.platform.api_keys import ApiKeyRepository, generate_key
from shared.platform.clock import utc_now
from shared.platform.table import Table
from tests.builders import FakeContext, HttpEvent, an_order, json_body

DAY_ONE = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def reader(table: Table, monkeypatch: pytest.MonkeyPatch) -> str:
    """An API key with orders:read, on a deployment with its cursor key."""
    monkeypatch.setenv("TABLE_NAME", table.name)
    monkeypatch.setenv("DOCUMENTS_BUCKET", "orderhub-test-documents")
    cursor_secret = aws.secretsmanager().create_secret(
        Name="orderhub-test/api-cursor", SecretString=json.dumps({"key": secrets.token_hex(32)})
    )
    monkeypatch.setenv("CURSOR_SECRET_ID", cursor_secret["ARN"])
    key = generate_key()
    ApiKeyRepository(table).create(
        key, name="reader", scopes=frozenset({"orders:read"}), at=utc_now()
    )
    return key


def call(path: str, *, key: str | None, query: dict[str, str] | None = None) -> dict[str, Any]:
    from functions.api.handler import lambda_handler

    headers = {"Authorization": f"Bearer {key}"} if key else {}
    event = HttpEvent("GET", path, b"", headers, query or {}).build()
    return lambda_handler(event, FakeContext())  # type: ignore[arg-type]


def listed(key: str, **query: str) -> list[str]:
    response = call("/api/v1/orders", key=key, query=query)
    assert response["statusCode"] == 200, response["body"]
    return [row["order_id"] for row in json_body(response)["items"]]


def an_order_of(
    total: int,
    *,
    currency: str = "PLN",
    email: str | None = "anna@example.pl",
    placed_at: datetime,
    external_id: str | None = None,
    external_number: str | None = None,
    channel: str = "shopify",
) -> Order:
    """One line priced `total` in `currency`, bought by `email`."""
    base = an_order(("MUG", 1, total), external_id=external_id, channel=channel)

    def money(amount: int) -> Money:
        return Money(amount=amount, currency=currency)

    return Order.model_validate(
        {
            **base.model_dump(),
            "currency": currency,
            "placed_at": placed_at,
            "external_number": external_number or base.external_number,
            "buyer": Buyer(name="A", email=email).model_dump(),
            "lines": [
                OrderLine(
                    line_no=1,
                    sku="MUG",
                    name="Mug",
                    quantity=1,
                    unit_price=money(total),
                    vat_rate=Decimal(23),
                ).model_dump()
            ],
            "totals": Totals(
                items=money(total),
                shipping=money(0),
                discount=money(0),
                tax=money(0),
                total=money(total),
            ).model_dump(),
        }
    )


@pytest.fixture
def history(table: Table) -> dict[str, str]:
    """Five orders a day apart (ord_1 oldest): totals, currencies, buyers and channels differ."""
    repository = OrderRepository(table)
    given = {
        "ord_1": an_order_of(5_000, placed_at=DAY_ONE, email="Anna@Example.PL"),
        "ord_2": an_order_of(12_345, placed_at=DAY_ONE + timedelta(days=1), currency="EUR"),
        "ord_3": an_order_of(20_000, placed_at=DAY_ONE + timedelta(days=2), email="jan@firma.pl"),
        "ord_4": an_order_of(
            30_000, placed_at=DAY_ONE + timedelta(days=3), channel="allegro", email=None
        ),
        "ord_5": an_order_of(12_345, placed_at=DAY_ONE + timedelta(days=4)),
    }
    for order_id, order in given.items():
        repository.create(order_id, order, received_at=utc_now(), actor="test")
    return {order_id: order.external_id for order_id, order in given.items()}


# -- filters ------------------------------------------------------------------------------------
def test_each_filter_narrows_the_history_and_they_combine_newest_first(
    reader: str, history: dict[str, str]
) -> None:
    assert listed(reader) == ["ord_5", "ord_4", "ord_3", "ord_2", "ord_1"]
    assert listed(reader, total_min="12345") == ["ord_5", "ord_4", "ord_3", "ord_2"]
    assert listed(reader, total_max="12345") == ["ord_5", "ord_2", "ord_1"]
    assert listed(reader, total_min="12345", total_max="12345") == ["ord_5", "ord_2"]
    assert listed(reader, currency="EUR") == ["ord_2"]
    # the buyer's email in any case finds the order stored in any case
    assert listed(reader, email="ANNA@example.pl") == ["ord_5", "ord_2", "ord_1"]
    assert listed(reader, email="anna@example.pl", currency="PLN", total_max="6000") == ["ord_1"]
    assert listed(reader, channel="allegro", total_min="1") == ["ord_4"]
    assert listed(reader, status="received", currency="PLN", total_min="20000") == [
        "ord_4",
        "ord_3",
    ]
    assert listed(
        reader, created_from="2026-11-21", created_to="2026-11-23", total_max="20000"
    ) == ["ord_3", "ord_2"]
    assert listed(reader, status="paid", currency="PLN") == []


def test_the_lookup_by_external_id_honours_the_other_filters(
    reader: str, history: dict[str, str]
) -> None:
    external = history["ord_2"]

    assert listed(reader, channel="shopify", external_id=external, currency="EUR") == ["ord_2"]
    assert listed(reader, channel="shopify", external_id=external, currency="PLN") == []
    assert listed(reader, channel="shopify", external_id=external, total_min="20000") == []
    assert listed(reader, channel="shopify", external_id=external, email="jan@firma.pl") == []


def test_contradicting_or_malformed_filters_are_400_naming_the_field(
    reader: str, history: dict[str, str]
) -> None:
    for query, field in (
        ({"total_min": "200", "total_max": "100"}, "total_min"),
        ({"total_min": "-1"}, "total_min"),
        ({"total_max": "1.5"}, "total_max"),
        ({"total_max": "12e3"}, "total_max"),
        ({"currency": "pln"}, "currency"),
        ({"currency": "PLNX"}, "currency"),
        ({"email": "not an email"}, "email"),
        ({"email": "a@" + "b" * 400}, "email"),
    ):
        response = call("/api/v1/orders", key=reader, query=query)
        assert response["statusCode"] == 400, query
        error = json_body(response)["error"]
        assert error["code"] == "invalid_request", query
        assert [f["field"] for f in error["fields"]] == [field], query


def test_the_cursor_pages_through_filtered_results_and_only_with_its_filters(
    reader: str, history: dict[str, str]
) -> None:
    seen: list[str] = []
    cursor: str | None = None
    query = {"currency": "PLN", "total_min": "5000", "limit": "1"}
    for _ in range(10):
        params = {**query, "cursor": cursor} if cursor else query
        page = json_body(call("/api/v1/orders", key=reader, query=params))
        seen.extend(row["order_id"] for row in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["ord_5", "ord_4", "ord_3", "ord_1"]

    first = json_body(call("/api/v1/orders", key=reader, query=query))
    for other in (
        {"currency": "EUR", "total_min": "5000"},
        {"currency": "PLN", "total_min": "5001"},
        {"currency": "PLN", "total_min": "5000", "email": "anna@example.pl"},
        {"currency": "PLN"},
    ):
        reused = call("/api/v1/orders", key=reader, query={**other, "cursor": first["next_cursor"]})
        assert (reused["statusCode"], json_body(reused)["error"]["code"]) == (
            400,
            "invalid_cursor",
        ), other
    # The same email in another case is the same query (the filter is lowercased).
    by_email = {"email": "anna@example.pl", "limit": "1"}
    page = json_body(call("/api/v1/orders", key=reader, query=by_email))
    again = call(
        "/api/v1/orders",
        key=reader,
        query={"email": "ANNA@EXAMPLE.PL", "limit": "1", "cursor": page["next_cursor"]},
    )
    assert again["statusCode"] == 200


def test_list_rows_keep_their_shape(reader: str, history: dict[str, str]) -> None:
    rows = json_body(call("/api/v1/orders", key=reader, query={"currency": "EUR"}))["items"]

    assert set(rows[0]) == {
        "order_id",
        "status",
        "channel",
        "external_id",
        "external_number",
        "created_at",
        "payment_method",
        "total",
    }
    assert rows[0]["total"] == {"amount": 12345, "currency": "EUR"}


# -- the CSV export -----------------------------------------------------------------------------
def exported(key: str, **query: str) -> tuple[dict[str, Any], list[dict[str, str]]]:
    response = call("/api/v1/orders/export.csv", key=key, query=query)
    assert response["statusCode"] == 200, response["body"]
    return response, list(csv.DictReader(io.StringIO(response["body"], newline="")))


def test_the_export_is_a_csv_attachment_of_the_filtered_history_newest_first(
    reader: str, history: dict[str, str]
) -> None:
    response, rows = exported(reader, total_min="12345")

    assert response["headers"]["Content-Type"] == "text/csv; charset=utf-8"
    assert response["headers"]["Content-Disposition"] == 'attachment; filename="orders.csv"'
    assert "X-Next-Cursor" not in response["headers"]
    assert response["body"].splitlines()[0] == (
        "order_id,created_at,status,channel,external_id,external_number,currency,total,"
        "total_minor,payment_method,buyer_email"
    )
    assert response["body"].endswith("\r\n")
    assert [r["order_id"] for r in rows] == ["ord_5", "ord_4", "ord_3", "ord_2"]
    assert rows[3] == {
        "order_id": "ord_2",
        "created_at": "2026-11-21T09:00:00.000Z",
        "status": "received",
        "channel": "shopify",
        "external_id": history["ord_2"],
        "external_number": f"#{history['ord_2'][-4:]}",
        "currency": "EUR",
        "total": "123.45",
        "total_minor": "12345",
        "payment_method": "prepaid",
        "buyer_email": "anna@example.pl",
    }
    assert rows[1]["buyer_email"] == ""  # the allegro order has no email


def test_the_export_takes_the_same_filters_and_the_same_refusals(
    reader: str, history: dict[str, str]
) -> None:
    _, by_email = exported(reader, email="Anna@example.PL", currency="PLN")
    _, single = exported(reader, channel="shopify", external_id=history["ord_3"])
    refused = call(
        "/api/v1/orders/export.csv", key=reader, query={"total_min": "2", "total_max": "1"}
    )
    unknown = call("/api/v1/orders/export.csv", key=reader, query={"limit": "5"})
    anonymous = call("/api/v1/orders/export.csv", key=None)

    assert [r["order_id"] for r in by_email] == ["ord_5", "ord_1"]
    assert [r["order_id"] for r in single] == ["ord_3"]
    assert refused["statusCode"] == 400
    assert json_body(refused)["error"]["fields"][0]["field"] == "total_min"
    assert unknown["statusCode"] == 400  # the export has no pages to size
    assert anonymous["statusCode"] == 401


def test_totals_are_written_in_each_currencys_major_units(reader: str, table: Table) -> None:
    repository = OrderRepository(table)
    for order_id, total, currency in (
        ("ord_a", 5, "PLN"),
        ("ord_b", 1200, "JPY"),
        ("ord_c", 12345, "KWD"),
        ("ord_d", 100, "EUR"),
    ):
        repository.create(
            order_id,
            an_order_of(total, currency=currency, placed_at=DAY_ONE),
            received_at=utc_now(),
            actor="test",
        )

    _, rows = exported(reader)

    assert {r["order_id"]: (r["total"], r["total_minor"]) for r in rows} == {
        "ord_a": ("0.05", "5"),
        "ord_b": ("1200", "1200"),
        "ord_c": ("12.345", "12345"),
        "ord_d": ("1.00", "100"),
    }


def test_cells_are_quoted_and_formulas_are_defused(reader: str, table: Table) -> None:
    repository = OrderRepository(table)
    hostile = {
        "ord_eq": ('=HYPERLINK("http://evil","x")', '#1, "quoted"'),
        "ord_plus": ("+48123", "line\nbreak"),
        "ord_minus": ("-2+3", "@SUM(A1)"),
        "ord_at": ("@cmd", "\tTAB"),
        "ord_cr": ("\rCR", "plain"),
    }
    for n, (order_id, (external_id, number)) in enumerate(hostile.items()):
        repository.create(
            order_id,
            an_order_of(
                100,
                placed_at=DAY_ONE + timedelta(hours=n),
                external_id=external_id,
                external_number=number,
                email="=cmd@evil.example",
            ),
            received_at=utc_now(),
            actor="test",
        )

    _, rows = exported(reader)
    by_id = {r["order_id"]: r for r in rows}

    assert by_id["ord_eq"]["external_id"] == '\'=HYPERLINK("http://evil","x")'
    assert by_id["ord_eq"]["external_number"] == '#1, "quoted"'  # quoted, read back whole
    assert by_id["ord_plus"]["external_id"] == "'+48123"
    assert by_id["ord_plus"]["external_number"] == "line\nbreak"
    assert by_id["ord_minus"]["external_id"] == "'-2+3"
    assert by_id["ord_minus"]["external_number"] == "'@SUM(A1)"
    assert by_id["ord_at"]["external_id"] == "'@cmd"
    assert by_id["ord_at"]["external_number"] == "'\tTAB"
    assert by_id["ord_cr"]["external_id"] == "'\rCR"
    assert {r["buyer_email"] for r in rows} == {"'=cmd@evil.example"}
    for row in rows:
        for column, value in row.items():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), (column, value)


def test_the_export_stops_at_its_bound_and_its_cursor_gives_the_rest(
    reader: str, history: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(orders_api, "MAX_EXPORT_ROWS", 3)
    monkeypatch.setattr(orders_api, "EXPORT_PAGE", 2)

    first, head = exported(reader, currency="PLN")
    cursor = first["headers"]["X-Next-Cursor"]
    rest, tail = exported(reader, currency="PLN", cursor=cursor)
    elsewhere = call(
        "/api/v1/orders/export.csv", key=reader, query={"currency": "EUR", "cursor": cursor}
    )

    assert [r["order_id"] for r in head] == ["ord_5", "ord_4", "ord_3"]
    assert [r["order_id"] for r in tail] == ["ord_1"]
    assert "X-Next-Cursor" not in rest["headers"]
    assert (elsewhere["statusCode"], json_body(elsewhere)["error"]["code"]) == (
        400,
        "invalid_cursor",
    )


def test_the_export_reads_every_page(
    reader: str, history: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(orders_api, "EXPORT_PAGE", 1)  # one order per DynamoDB page

    response, rows = exported(reader)

    assert [r["order_id"] for r in rows] == ["ord_5", "ord_4", "ord_3", "ord_2", "ord_1"]
    assert "X-Next-Cursor" not in response["headers"]


def test_export_csv_is_not_taken_for_an_order_id(reader: str, history: dict[str, str]) -> None:
    # Deployed, API Gateway may hand it to the function under the {order_id} route.
    from functions.api.handler import lambda_handler

    event = HttpEvent(
        "GET",
        "/api/v1/orders/export.csv",
        headers={"Authorization": f"Bearer {reader}"},
        path_parameters={"order_id": "export.csv"},
        route_key="GET /api/v1/orders/{order_id}",
    ).build()
    response = lambda_handler(event, FakeContext())  # type: ignore[arg-type]

    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"].startswith("text/csv")
