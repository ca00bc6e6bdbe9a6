"""Hostile requests to every /api/v1 route, over HTTP against the embedded stack: each gets a
4xx with the JSON error body, never a 5xx, and nothing is stored."""

from __future__ import annotations

import json
import secrets
from typing import Any

import httpx
import pytest

from infra.local.stack import EmbeddedStack
from shared.orders.views import encode_cursor, issue_cursor
from shared.platform.table import Table
from shared.stock.store import StockRepository

pytestmark = pytest.mark.e2e

SKU = "MUG-KRAKOW-350"  # in the demo catalogue every embedded stack is seeded with
ORDERS = "/api/v1/orders"
# A start key of the all-orders index, as a real page of GET /api/v1/orders ends.
LAST_KEY = {
    "PK": {"S": "ORDER#ord_1"},
    "SK": {"S": "ORDER"},
    "GSI2PK": {"S": "ORDERS"},
    "GSI2SK": {"S": "2026-01-01T00:00:00.000Z#ord_1"},
}
Params = list[tuple[str, str | int | float | bool | None]]


def assert_error(
    response: httpx.Response, status: int | None = None, code: str | None = None, field: str = ""
) -> dict[str, Any]:
    """A 4xx whose body is {"error": {"code", "message", ...}}; `field` must be named."""
    where = f"{response.request.method} {str(response.request.url)[:120]}"
    assert 400 <= response.status_code < 500, (where, response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/json"), where
    error = response.json()["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str), where
    if status is not None:
        assert response.status_code == status, (where, response.text[:300])
    if code is not None:
        assert error["code"] == code, (where, error)
    if field:
        assert field in [f["field"] for f in error.get("fields", [])], (where, error)
    return error  # type: ignore[no-any-return]


def cursor_key(embedded: EmbeddedStack) -> bytes:
    assert embedded.deployment is not None
    arn = next(
        arn for name, arn in embedded.deployment.secrets.items() if name.endswith("/api-cursor")
    )
    secret = embedded.client("secretsmanager").get_secret_value(SecretId=arn)
    return json.loads(secret["SecretString"])["key"].encode()  # type: ignore[no-any-return]


BAD_QUERIES: list[tuple[str, Params, str]] = [
    # (what, query, the field the error names)
    (
        "moment past year 9999 in UTC",
        [("created_from", "9999-12-31T23:00:00-05:00")],
        "created_from",
    ),
    ("moment before year 1 in UTC", [("created_to", "0001-01-01T00:00:00+05:00")], "created_to"),
    (
        "from after to",
        [("created_from", "2026-12-01"), ("created_to", "2026-01-01")],
        "created_from",
    ),
    (
        "from after to, by status",
        [
            ("status", "paid"),
            ("created_from", "2026-11-26T10:00:01Z"),
            ("created_to", "2026-11-26T10:00:00Z"),
        ],
        "created_from",
    ),
    ("seconds, not a date", [("created_from", "0.5")], "created_from"),
    ("no such month", [("created_to", "2026-13-01")], "created_to"),
    ("limit 0", [("limit", "0")], "limit"),
    ("limit 101", [("limit", "101")], "limit"),
    ("limit huge", [("limit", "9" * 40)], "limit"),
    ("limit not an integer", [("limit", "1.5")], "limit"),
    ("limit in exponent form", [("limit", "1e3")], "limit"),
    ("limit empty", [("limit", "")], "limit"),
    ("limit repeated", [("limit", "1"), ("limit", "2")], "limit"),
    ("status repeated", [("status", "paid"), ("status", "received")], "status"),
    ("unknown status", [("status", "lost")], "status"),
    ("unknown parameter", [("colour", "red")], "colour"),
    ("channel too long for a key", [("channel", "c" * 3000), ("external_id", "1")], "channel"),
    ("external id too long", [("channel", "shopify"), ("external_id", "e" * 5000)], "external_id"),
    ("channel with a NUL", [("channel", "\x00"), ("external_id", "\x01")], "channel"),
    ("external id without channel", [("external_id", "5770010001")], "external_id"),
    ("cursor too long", [("cursor", "x" * 5000)], "cursor"),
]


@pytest.mark.parametrize(("what", "query", "field"), BAD_QUERIES, ids=[c[0] for c in BAD_QUERIES])
def test_a_bad_list_query_is_400_naming_the_field(
    http: httpx.Client, what: str, query: Params, field: str
) -> None:
    assert_error(http.get(ORDERS, params=query), 400, "invalid_request", field)


def test_a_cursor_this_deployment_did_not_sign_is_400_invalid_cursor(
    http: httpx.Client, embedded: EmbeddedStack
) -> None:
    key = cursor_key(embedded)
    issued = issue_cursor(LAST_KEY, {}, key)
    payload, _, signature = issued.partition(".")
    forged_key = {"PK": {"S": "x" * 900}}  # not a start key of either index
    attempts: list[tuple[str, Params]] = [
        ("unsigned, as before", [("cursor", encode_cursor(forged_key, {}))]),
        (
            "signed with another key",
            [("cursor", issue_cursor(forged_key, {}, secrets.token_bytes(32)))],
        ),
        ("payload changed", [("cursor", encode_cursor(forged_key, {}) + "." + signature)]),
        ("signature changed", [("cursor", f"{payload}.{signature[::-1]}")]),
        ("signature cut", [("cursor", f"{payload}.")]),
        ("not ASCII", [("cursor", f"{payload}.ąę")]),
        ("garbage", [("cursor", "eyJrIjp7fX0")]),
        ("issued for other filters", [("status", "paid"), ("cursor", issued)]),
    ]
    for what, query in attempts:
        error = assert_error(http.get(ORDERS, params=query), 400, "invalid_cursor")
        assert "cursor" in error["message"], what
    # The genuine one still works (it pages from LAST_KEY, wherever that is).
    assert http.get(ORDERS, params={"cursor": issued}).status_code == 200


ORDER_IDS = ["o" * 5000, "ord_" + "A" * 200, "%00%ff%fe", "%2e%2e", "%E2%82%AC", "a%20b", "%25%25"]
SKUS = ["S" * 5000, "S" * 256, "A%01B%7F", "%ff%fe", "%20", "%00"]


@pytest.mark.parametrize("order_id", ORDER_IDS)
def test_an_order_id_that_cannot_be_one_is_a_4xx(http: httpx.Client, order_id: str) -> None:
    assert_error(http.get(f"{ORDERS}/{order_id}"))


@pytest.mark.parametrize("sku", SKUS)
def test_a_sku_that_cannot_be_one_is_a_4xx_to_read(http: httpx.Client, sku: str) -> None:
    assert_error(http.get(f"/api/v1/stock/{sku}"))


JSON = "application/json"
BAD_BODIES: list[tuple[str, bytes, str, int, str]] = [
    # (what, body, content type, status, field)
    ("not JSON", b"not json", JSON, 400, "body"),
    ("not UTF-8", b"\xff\xfe\x00{", JSON, 400, "body"),
    ("empty", b"", JSON, 400, "body"),
    ("null", b"null", JSON, 400, "body"),
    ("an array", b"[]", JSON, 400, "body"),
    ("nested 5000 deep", b"[" * 5000 + b"]" * 5000, JSON, 400, "body"),
    ("nested past the parser's limit", b"[" * 200_000, JSON, 400, "body"),
    (
        "a 5000-digit number",
        b'{"warehouse":"WAW-1","on_hand":1' + b"0" * 5000 + b"}",
        JSON,
        400,
        "body",
    ),
    ("a number past float", b'{"warehouse":"WAW-1","on_hand":1e400}', JSON, 400, "on_hand"),
    ("NaN", b'{"warehouse":"WAW-1","on_hand":NaN}', JSON, 400, "on_hand"),
    ("negative", b'{"warehouse":"WAW-1","on_hand":-1}', JSON, 400, "on_hand"),
    ("too many", b'{"warehouse":"WAW-1","on_hand":10000001}', JSON, 400, "on_hand"),
    ("a float", b'{"warehouse":"WAW-1","on_hand":5.0}', JSON, 400, "on_hand"),
    ("a string", b'{"warehouse":"WAW-1","on_hand":"5"}', JSON, 400, "on_hand"),
    ("a boolean", b'{"warehouse":"WAW-1","on_hand":true}', JSON, 400, "on_hand"),
    ("no quantity", b'{"warehouse":"WAW-1"}', JSON, 400, "on_hand"),
    ("an extra field", b'{"warehouse":"WAW-1","on_hand":1,"reserved":0}', JSON, 400, "reserved"),
    ("a bad warehouse", b'{"warehouse":"W A W","on_hand":1}', JSON, 400, "warehouse"),
    (
        "a nested warehouse",
        b'{"warehouse":' + b'{"a":[' * 100 + b"]}" * 100 + b',"on_hand":1}',
        JSON,
        400,
        "warehouse",
    ),
    ("text/plain", b'{"warehouse":"WAW-1","on_hand":1}', "text/plain", 415, ""),
    ("octet-stream", b'{"warehouse":"WAW-1","on_hand":1}', "application/octet-stream", 415, ""),
    ("a form", b"warehouse=WAW-1&on_hand=1", "application/x-www-form-urlencoded", 415, ""),
    ("multipart", b"--b\r\n\r\n--b--", "multipart/form-data; boundary=b", 415, ""),
    ("JSON's cousin", b'{"warehouse":"WAW-1","on_hand":1}', "application/jsonp", 415, ""),
]


@pytest.fixture
def stock_unchanged(http: httpx.Client) -> Any:
    """The demo SKU's stock is exactly the same after the test."""
    before = http.get(f"/api/v1/stock/{SKU}").json()
    yield
    assert http.get(f"/api/v1/stock/{SKU}").json() == before


@pytest.mark.parametrize("case", BAD_BODIES, ids=[c[0] for c in BAD_BODIES])
@pytest.mark.usefixtures("stock_unchanged")
def test_a_bad_stock_body_is_refused_and_changes_nothing(
    http: httpx.Client, case: tuple[str, bytes, str, int, str]
) -> None:
    _, body, content_type, status, field = case
    response = http.put(
        f"/api/v1/stock/{SKU}", content=body, headers={"content-type": content_type}
    )
    code = "invalid_request" if status == 400 else "unsupported_media_type"
    assert_error(response, status, code, field)


@pytest.mark.usefixtures("stock_unchanged")
def test_a_sku_that_cannot_be_a_key_is_refused_and_nothing_is_stored(
    http: httpx.Client, embedded: EmbeddedStack
) -> None:
    for sku in ("S" * 256, "S" * 5000):
        response = http.put(f"/api/v1/stock/{sku}", json={"warehouse": "WAW-1", "on_hand": 1})
        assert_error(response, 400, "invalid_request", "sku")
    assert StockRepository(Table(embedded.table_name)).levels("S" * 256) == []


AUTHORIZATIONS: list[dict[str, str]] = [
    {},
    {"Authorization": ""},
    {"Authorization": "Bearer"},
    {"Authorization": "Bearer  \t " + "ohk_"},
    {"Authorization": "Basic b3JkZXJodWI6b3JkZXJodWI="},
    {"Authorization": "Bearer ohk_" + "x" * 8000},
    {"Authorization": "bearer ohk_not_a_key, Bearer ohk_neither"},
]
ROUTES: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", ORDERS, {"params": {"limit": "abc"}}),  # a bad query too: the key is checked first
    ("GET", f"{ORDERS}/ord_1", {}),
    ("GET", f"/api/v1/stock/{SKU}", {}),
    ("PUT", f"/api/v1/stock/{SKU}", {"json": {"warehouse": "WAW-1", "on_hand": 999}}),
]


@pytest.mark.parametrize(
    ("method", "path", "request_args"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES]
)
@pytest.mark.usefixtures("stock_unchanged")
def test_without_a_valid_key_every_route_is_401(
    embedded: EmbeddedStack, method: str, path: str, request_args: dict[str, Any]
) -> None:
    with httpx.Client(base_url=embedded.url, timeout=20) as anonymous:
        for headers in AUTHORIZATIONS:
            response = anonymous.request(method, path, headers=headers, **request_args)
            assert_error(response, 401, "unauthorized")
            assert response.headers["www-authenticate"].startswith("Bearer")
