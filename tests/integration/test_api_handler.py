"""The management API handler: bearer keys with scopes, orders, stock, error bodies."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest

from shared.orders.store import OrderRepository
from shared.platform import aws
from shared.platform.api_keys import ApiKeyRepository, generate_key
from shared.platform.clock import utc_now
from shared.platform.table import Table
from tests.builders import FakeContext, HttpEvent, an_order, json_body


@pytest.fixture
def api(table: Table, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("TABLE_NAME", table.name)
    monkeypatch.setenv("DOCUMENTS_BUCKET", "orderhub-test-documents")
    cursor_secret = aws.secretsmanager().create_secret(
        Name="orderhub-test/api-cursor", SecretString=json.dumps({"key": secrets.token_hex(32)})
    )
    monkeypatch.setenv("CURSOR_SECRET_ID", cursor_secret["ARN"])
    keys = ApiKeyRepository(table)
    everything, reader = generate_key(), generate_key()
    keys.create(
        everything,
        name="admin",
        scopes=frozenset({"orders:read", "stock:read", "stock:write"}),
        at=utc_now(),
    )
    keys.create(reader, name="reader", scopes=frozenset({"orders:read"}), at=utc_now())
    return {"admin": everything, "reader": reader}


def call(
    method: str,
    path: str,
    *,
    key: str | None,
    body: Any = None,
    query: dict[str, str] | None = None,
    route: str | None = None,
    params: dict[str, str] | None = None,
) -> dict[str, Any]:
    from functions.api.handler import lambda_handler

    headers = {"Authorization": f"Bearer {key}"} if key else {}
    raw = json.dumps(body).encode() if body is not None else b""
    event = HttpEvent(
        method, path, raw, headers, query or {}, params or {}, route_key=route
    ).build()
    return lambda_handler(event, FakeContext())  # type: ignore[arg-type]


def test_no_key_or_a_wrong_key_is_401_with_a_json_error(api: dict[str, str]) -> None:
    for key in (None, "ohk_not_a_key"):
        response = call("GET", "/api/v1/orders", key=key)
        assert response["statusCode"] == 401
        assert json_body(response)["error"]["code"] == "unauthorized"
        assert response["headers"]["WWW-Authenticate"].startswith("Bearer")


def test_a_key_without_the_scope_is_403(api: dict[str, str]) -> None:
    response = call(
        "PUT", "/api/v1/stock/MUG", key=api["reader"], body={"warehouse": "WAW-1", "on_hand": 5}
    )
    assert response["statusCode"] == 403


def test_stock_is_set_per_warehouse_and_read_back(api: dict[str, str]) -> None:
    call("PUT", "/api/v1/stock/MUG", key=api["admin"], body={"warehouse": "WAW-1", "on_hand": 5})
    put = call(
        "PUT", "/api/v1/stock/MUG", key=api["admin"], body={"warehouse": "KRK-1", "on_hand": 2}
    )
    got = call("GET", "/api/v1/stock/MUG", key=api["admin"])

    assert put["statusCode"] == got["statusCode"] == 200
    assert json_body(got) == {
        "sku": "MUG",
        "on_hand": 7,
        "reserved": 0,
        "available": 7,
        "warehouses": [
            {"warehouse": "KRK-1", "on_hand": 2, "reserved": 0, "available": 2},
            {"warehouse": "WAW-1", "on_hand": 5, "reserved": 0, "available": 5},
        ],
    }


def test_invalid_stock_input_is_400_naming_the_field_and_changes_nothing(
    api: dict[str, str],
) -> None:
    for body in (
        {"warehouse": "WAW-1", "on_hand": -1},
        {"warehouse": "WAW-1"},
        {"warehouse": "WAW-1", "on_hand": "5"},
        {"warehouse": "W A W", "on_hand": 1},
        {"warehouse": "WAW-1", "on_hand": 1, "extra": True},
    ):
        response = call("PUT", "/api/v1/stock/MUG", key=api["admin"], body=body)
        assert response["statusCode"] == 400, body
        assert json_body(response)["error"]["code"] == "invalid_request"
        assert json_body(response)["error"]["fields"]
    assert call("GET", "/api/v1/stock/MUG", key=api["admin"])["statusCode"] == 404


def test_orders_are_listed_with_filters_and_read_whole(api: dict[str, str], table: Table) -> None:
    orders = OrderRepository(table)
    order = an_order(("MUG", 2, 4900), external_id="5770010001")
    order_id = orders.create("ord_01", order, received_at=utc_now(), actor="test")

    listed = json_body(
        call(
            "GET",
            "/api/v1/orders",
            key=api["reader"],
            query={"channel": "shopify", "status": "received"},
        )
    )
    by_external = json_body(
        call(
            "GET",
            "/api/v1/orders",
            key=api["reader"],
            query={"channel": "shopify", "external_id": "5770010001"},
        )
    )
    other_channel = json_body(
        call("GET", "/api/v1/orders", key=api["reader"], query={"channel": "allegro"})
    )
    whole = call(
        "GET",
        f"/api/v1/orders/{order_id}",
        key=api["reader"],
        route="GET /api/v1/orders/{order_id}",
        params={"order_id": order_id},
    )

    assert [i["order_id"] for i in listed["items"]] == [order_id]
    assert listed["items"][0]["total"] == {"amount": 9800, "currency": "PLN"}
    assert by_external["items"][0]["order_id"] == order_id
    assert other_channel == {"items": [], "next_cursor": None}
    view = json_body(whole)
    assert view["status"] == "received"
    assert view["lines"][0]["sku"] == "MUG"
    assert view["payment"]["status"] == "unpaid"
    assert [e["type"] for e in view["timeline"]] == ["OrderReceived"]


def test_pages_follow_the_cursor_and_a_forged_cursor_is_400(
    api: dict[str, str], table: Table
) -> None:
    orders = OrderRepository(table)
    for n in range(3):
        orders.create(f"ord_{n}", an_order(), received_at=utc_now(), actor="test")

    first = json_body(call("GET", "/api/v1/orders", key=api["reader"], query={"limit": "2"}))
    rest = json_body(
        call(
            "GET",
            "/api/v1/orders",
            key=api["reader"],
            query={"limit": "2", "cursor": first["next_cursor"]},
        )
    )
    forged = call(
        "GET", "/api/v1/orders", key=api["reader"], query={"limit": "2", "cursor": "eyJrIjoxfQ"}
    )
    mismatched = call(
        "GET",
        "/api/v1/orders",
        key=api["reader"],
        query={"limit": "2", "status": "paid", "cursor": first["next_cursor"]},
    )

    assert len(first["items"]) == 2 and first["next_cursor"]
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    assert {i["order_id"] for i in first["items"] + rest["items"]} == {"ord_0", "ord_1", "ord_2"}
    assert forged["statusCode"] == mismatched["statusCode"] == 400


def test_bad_queries_and_unknown_orders_are_clear_errors(api: dict[str, str]) -> None:
    bad_status = call("GET", "/api/v1/orders", key=api["reader"], query={"status": "lost"})
    unknown_param = call("GET", "/api/v1/orders", key=api["reader"], query={"colour": "red"})
    lonely_external = call("GET", "/api/v1/orders", key=api["reader"], query={"external_id": "1"})
    missing = call(
        "GET",
        "/api/v1/orders/ord_nope",
        key=api["reader"],
        route="GET /api/v1/orders/{order_id}",
        params={"order_id": "ord_nope"},
    )

    assert bad_status["statusCode"] == unknown_param["statusCode"] == 400
    assert lonely_external["statusCode"] == 400
    assert "needs channel" in json_body(lonely_external)["error"]["message"]
    assert (missing["statusCode"], json_body(missing)["error"]["code"]) == (404, "order_not_found")


def test_the_key_is_checked_before_the_request_is_validated(api: dict[str, str]) -> None:
    for key in (None, "ohk_not_a_key", "ohk_é€"):
        response = call("GET", "/api/v1/orders", key=key, query={"limit": "abc", "colour": "red"})
        assert (response["statusCode"], json_body(response)["error"]["code"]) == (
            401,
            "unauthorized",
        )
    forbidden = call("PUT", "/api/v1/stock/MUG", key=api["reader"], body={"on_hand": "x"})
    assert forbidden["statusCode"] == 403


def test_decoded_paths_with_control_characters_or_edge_spaces_are_refused(
    api: dict[str, str],
) -> None:
    # API Gateway hands the function the path percent-decoded: "%01" arrives as "\x01".
    for path in ("/api/v1/stock/A\x01B", "/api/v1/stock/MUG ", "/api/v1/orders/ord\x00"):
        for method in ("GET", "PUT"):
            if method == "PUT" and "orders" in path:
                continue
            body = {"warehouse": "WAW-1", "on_hand": 1} if method == "PUT" else None
            response = call(method, path, key=api["admin"], body=body)
            assert 400 <= response["statusCode"] < 500, (method, path)
            assert json_body(response)["error"]["code"]
    assert call("GET", "/api/v1/stock/MUG", key=api["admin"])["statusCode"] == 404


def test_a_cursor_signed_with_another_deployments_key_is_400_invalid_cursor(
    api: dict[str, str], table: Table
) -> None:
    from shared.orders.views import issue_cursor

    other = issue_cursor({"PK": {"S": "ORDER#ord_1"}}, {}, secrets.token_bytes(32))
    response = call("GET", "/api/v1/orders", key=api["reader"], query={"cursor": other})
    assert (response["statusCode"], json_body(response)["error"]["code"]) == (
        400,
        "invalid_cursor",
    )


def test_created_from_after_created_to_and_unstorable_moments_are_400_naming_the_field(
    api: dict[str, str],
) -> None:
    for query, field in (
        ({"created_from": "2026-11-27", "created_to": "2026-11-26"}, "created_from"),
        ({"created_from": "9999-12-31T23:00:00-05:00"}, "created_from"),
        ({"created_to": "0001-01-01T00:00:00+05:00"}, "created_to"),
    ):
        response = call("GET", "/api/v1/orders", key=api["reader"], query=query)
        assert response["statusCode"] == 400, query
        assert field in [f["field"] for f in json_body(response)["error"]["fields"]], query
    same_day = call(
        "GET",
        "/api/v1/orders",
        key=api["reader"],
        query={"created_from": "2026-11-26", "created_to": "2026-11-26"},
    )
    assert same_day["statusCode"] == 200
