"""POST /api/v1/orders through the API handler: the own store places orders through the same
intake as every channel, once per Idempotency-Key and once per external id."""

from __future__ import annotations

import copy
import json
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto.dynamodb.responses import DynamoHandler

from functions.api.openapi import document
from shared.channels.own_store import (
    OrderExists,
    StoreOrder,
    tax_of,
    to_order,
    vat_from_gross,
)
from shared.orders.domain import MAX_QUANTITY
from shared.platform import aws
from shared.platform.api_keys import ApiKeyRepository, generate_key
from shared.platform.clock import utc_now
from shared.platform.table import Table
from shared.stock.store import StockRepository
from tests.builders import FakeContext, HttpEvent, json_body

WRITE_SCOPE = "orders:write"


@pytest.fixture
def keys(table: Table, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A deployment with its state machine; a `writer` key (orders:write, orders:read) and a
    `reader` key (orders:read only)."""
    role = boto3.client("iam").create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")
    machine = boto3.client("stepfunctions").create_state_machine(
        name="fulfilment",
        roleArn=role["Role"]["Arn"],
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
    )
    monkeypatch.setenv("STATE_MACHINE_ARN", machine["stateMachineArn"])
    monkeypatch.setenv("TABLE_NAME", table.name)
    monkeypatch.setenv("DOCUMENTS_BUCKET", "orderhub-test-documents")
    cursor_secret = aws.secretsmanager().create_secret(
        Name="orderhub-test/api-cursor", SecretString=json.dumps({"key": secrets.token_hex(32)})
    )
    monkeypatch.setenv("CURSOR_SECRET_ID", cursor_secret["ARN"])
    # The shop keeps stock under the SKUs its checkout sells (intake resolves them).
    stock = StockRepository(table)
    for sku in ("MUG-KRAKOW-350", "BOOK-KRK", "A", "B"):
        stock.set_on_hand(sku, "WAW-1", 10, at=utc_now())
    repository = ApiKeyRepository(table)
    writer, reader = generate_key(), generate_key()
    repository.create(
        writer, name="checkout", scopes=frozenset({WRITE_SCOPE, "orders:read"}), at=utc_now()
    )
    repository.create(reader, name="reader", scopes=frozenset({"orders:read"}), at=utc_now())
    return {"writer": writer, "reader": reader}


@pytest.fixture
def atomic_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's DynamoDB is not thread-safe (a transaction copies the table while another thread
    writes it); DynamoDB itself is, per call. One lock per call restores that, and requests
    still interleave between their calls as they do on AWS."""
    lock = threading.Lock()
    call_action: Callable[[DynamoHandler], Any] = DynamoHandler.call_action

    def atomic(handler: DynamoHandler) -> Any:
        with lock:
            return call_action(handler)

    monkeypatch.setattr(DynamoHandler, "call_action", atomic)


def executions() -> list[dict[str, Any]]:
    sfn = boto3.client("stepfunctions")
    machine = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    return [dict(e) for e in sfn.list_executions(stateMachineArn=machine)["executions"]]


def a_store_order(**changes: Any) -> dict[str, Any]:
    """What the own store's checkout sends: two mugs at 23%, a book at 5%, courier delivery."""
    body: dict[str, Any] = {
        "external_id": "S-1001",
        "external_number": "1001",
        "currency": "PLN",
        "lines": [
            {"sku": "MUG-KRAKOW-350", "quantity": 2, "unit_price": 4900, "vat_rate": 23},
            {
                "sku": "BOOK-KRK",
                "quantity": 1,
                "unit_price": 5250,
                "vat_rate": 5,
                "name": "Kraków guide",
            },
        ],
        "shipping": 1599,
        "buyer": {"email": "Anna@Example.pl", "name": "Anna Nowak", "phone": "+48600100200"},
        "delivery": {
            "kind": "address",
            "name": "Anna Nowak",
            "line1": "ul. Floriańska 15",
            "city": "Kraków",
            "postal_code": "31-019",
            "country_code": "PL",
        },
        "payment_method": "prepaid",
        "placed_at": "2026-11-26T10:15:00+01:00",
    }
    body.update(changes)
    return body


def place(
    body: Any, *, key: str | None, idempotency_key: str | None = "checkout-S-1001-a"
) -> dict[str, Any]:
    from functions.api.handler import lambda_handler

    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    raw = json.dumps(body).encode()
    event = HttpEvent("POST", "/api/v1/orders", raw, headers).build()
    return lambda_handler(event, FakeContext())  # type: ignore[arg-type]


def read(order_id: str, key: str) -> dict[str, Any]:
    from functions.api.handler import lambda_handler

    event = HttpEvent(
        "GET",
        f"/api/v1/orders/{order_id}",
        headers={"Authorization": f"Bearer {key}"},
        path_parameters={"order_id": order_id},
        route_key="GET /api/v1/orders/{order_id}",
    ).build()
    view: dict[str, Any] = json_body(lambda_handler(event, FakeContext()))  # type: ignore[arg-type]
    return view


def error_of(response: dict[str, Any]) -> tuple[int, str]:
    return response["statusCode"], json_body(response)["error"]["code"]


def fields_of(response: dict[str, Any]) -> list[str]:
    return [f["field"] for f in json_body(response)["error"].get("fields", [])]


# -- placing ------------------------------------------------------------------------------------
def test_an_order_is_placed_answered_as_its_view_and_its_workflow_started(
    keys: dict[str, str],
) -> None:
    response = place(a_store_order(), key=keys["writer"])

    assert response["statusCode"] == 201, response["body"]
    view = json_body(response)
    order_id = view["order_id"]
    assert response["headers"]["Location"] == f"/api/v1/orders/{order_id}"
    assert view == read(order_id, keys["reader"])
    assert (view["channel"], view["external_id"], view["external_number"]) == (
        "store",
        "S-1001",
        "1001",
    )
    assert view["status"] == "received"
    assert view["created_at"] == "2026-11-26T09:15:00.000Z"
    assert [(line["sku"], line["quantity"], line["name"]) for line in view["lines"]] == [
        ("MUG-KRAKOW-350", 2, "MUG-KRAKOW-350"),
        ("BOOK-KRK", 1, "Kraków guide"),
    ]
    # items 2 * 49.00 + 52.50; VAT from gross: 23% of (98.00 + shipping 15.99), 5% of 52.50
    assert view["totals"] == {
        "items": {"amount": 15050, "currency": "PLN"},
        "shipping": {"amount": 1599, "currency": "PLN"},
        "discount": {"amount": 0, "currency": "PLN"},
        "tax": {"amount": 2132 + 250, "currency": "PLN"},
        "total": {"amount": 16649, "currency": "PLN"},
    }
    assert view["buyer"]["email"] == "Anna@Example.pl"
    assert view["delivery"]["kind"] == "address"
    assert view["payment"]["status"] == "unpaid"
    assert [e["type"] for e in view["timeline"]] == ["OrderReceived"]
    assert [e["name"] for e in executions()] == [order_id]
    # the history's email filter finds it (lowercased at creation)
    listed = json_body(
        _get("/api/v1/orders", keys["reader"], {"channel": "store", "total_min": "16649"})
    )
    assert [row["order_id"] for row in listed["items"]] == [order_id]


def _get(path: str, key: str, query: dict[str, str]) -> dict[str, Any]:
    from functions.api.handler import lambda_handler

    event = HttpEvent("GET", path, b"", {"Authorization": f"Bearer {key}"}, query).build()
    return lambda_handler(event, FakeContext())  # type: ignore[arg-type]


def test_a_locker_delivery_paid_on_delivery(keys: dict[str, str]) -> None:
    body = a_store_order(
        delivery={
            "kind": "pickup_point",
            "carrier": "inpost",
            "point_id": "KRA01M",
            "name": "Paczkomat KRA01M",
        },
        payment_method="cash_on_delivery",
        buyer={
            "email": "firma@example.pl",
            "name": "Jan Kowalski",
            "phone": "+48600100300",
            "tax_id": "PL5260250274",
            "company": "Firma sp. z o.o.",
        },
        invoice_requested=True,
        note="Proszę o fakturę",
    )

    response = place(body, key=keys["writer"])

    assert response["statusCode"] == 201, response["body"]
    view = json_body(response)
    assert view["delivery"] == {
        "kind": "pickup_point",
        "carrier": "inpost",
        "point_id": "KRA01M",
        "name": "Paczkomat KRA01M",
        "phone": "+48600100300",
    }
    assert view["payment_method"] == "cash_on_delivery"
    assert view["payment"]["status"] == "not_required"
    assert (view["buyer"]["tax_id"], view["buyer"]["company"]) == (
        "PL5260250274",
        "Firma sp. z o.o.",
    )


def test_a_sku_the_shop_does_not_stock_holds_the_order_like_any_channels(
    keys: dict[str, str],
) -> None:
    body = a_store_order(
        lines=[{"sku": "NOT-STOCKED", "quantity": 1, "unit_price": 100, "vat_rate": 23}]
    )

    view = json_body(place(body, key=keys["writer"]))

    assert view["held"] == "unknown_sku: line 1 (NOT-STOCKED)"
    assert [e["type"] for e in view["timeline"]] == ["OrderReceived", "OrderHeld"]


# -- idempotency --------------------------------------------------------------------------------
def test_the_same_key_and_body_answer_the_same_order(keys: dict[str, str]) -> None:
    first = place(a_store_order(), key=keys["writer"])
    # the same body spelled otherwise (key order, 23.0 for 23) is the same request
    again_body = json.loads(json.dumps(a_store_order()))
    again_body["lines"][0]["vat_rate"] = 23.0
    again = place(dict(reversed(list(again_body.items()))), key=keys["writer"])

    assert first["statusCode"] == again["statusCode"] == 201
    assert json_body(again)["order_id"] == json_body(first)["order_id"]
    assert again["headers"]["Location"] == first["headers"]["Location"]
    assert len(executions()) == 1


def test_the_same_key_with_another_body_is_409_and_places_nothing(keys: dict[str, str]) -> None:
    place(a_store_order(), key=keys["writer"])

    reused = place(a_store_order(shipping=0), key=keys["writer"])
    other_order = place(a_store_order(external_id="S-1002"), key=keys["writer"])

    assert error_of(reused) == (409, "idempotency_key_reused")
    assert error_of(other_order) == (409, "idempotency_key_reused")
    assert len(executions()) == 1


def test_the_same_external_id_under_another_key_is_409_naming_the_order(
    keys: dict[str, str],
) -> None:
    first = json_body(place(a_store_order(), key=keys["writer"]))

    duplicate = place(a_store_order(), key=keys["writer"], idempotency_key="another-key")
    replayed = place(a_store_order(), key=keys["writer"], idempotency_key="another-key")

    assert error_of(duplicate) == (409, "order_exists")
    assert json_body(duplicate)["error"]["order_id"] == first["order_id"]
    assert error_of(replayed) == (409, "order_exists")
    assert len(executions()) == 1


def placed_concurrently(body: dict[str, Any], keys: list[str]) -> list[tuple[int, str]]:
    """Race the placement itself, one thread per request, each with its own service as each
    Lambda invocation builds it. (Not through lambda_handler: one Lambda process never runs
    two invocations at once, and Powertools' resolver keeps the current event in a global,
    so threads calling it would read each other's headers.) -> (status, order id)."""
    from functions.api.store_orders import _own_store

    order = StoreOrder.model_validate(body)

    def place_one(idempotency_key: str) -> tuple[int, str]:
        try:
            return 201, _own_store().place(order, idempotency_key=idempotency_key)
        except OrderExists as exists:
            return 409, exists.order_id

    with ThreadPoolExecutor(max_workers=len(keys)) as pool:
        return list(pool.map(place_one, keys))


@pytest.mark.usefixtures("atomic_calls", "keys")
def test_concurrent_requests_with_one_key_place_one_order() -> None:
    outcomes = placed_concurrently(a_store_order(), ["checkout-S-1001-a"] * 6)

    assert [status for status, _ in outcomes] == [201] * 6, outcomes
    assert len({order_id for _, order_id in outcomes}) == 1
    assert len(executions()) == 1


@pytest.mark.usefixtures("atomic_calls", "keys")
def test_concurrent_requests_with_one_external_id_under_other_keys_place_one_order() -> None:
    outcomes = placed_concurrently(a_store_order(), [f"key-{n}" for n in range(4)])

    assert sorted(status for status, _ in outcomes) == [201, 409, 409, 409], outcomes
    assert len({order_id for _, order_id in outcomes}) == 1  # the 409s name the placed one
    assert len(executions()) == 1


# -- refusals -----------------------------------------------------------------------------------
def test_the_idempotency_key_is_required_and_checked(keys: dict[str, str]) -> None:
    for idempotency_key in (None, "", "k" * 256, "klucz-zażółć"):
        response = place(a_store_order(), key=keys["writer"], idempotency_key=idempotency_key)
        assert error_of(response) == (400, "invalid_request"), idempotency_key
        assert [f.lower() for f in fields_of(response)] == ["idempotency-key"], idempotency_key
    assert executions() == []


def test_invalid_bodies_are_400_naming_the_field_and_place_nothing(keys: dict[str, str]) -> None:
    def with_line(**line: Any) -> dict[str, Any]:
        body = a_store_order()
        body["lines"][0].update(line)
        return body

    without_buyer_email = copy.deepcopy(a_store_order())
    del without_buyer_email["buyer"]["email"]
    for body, field in (
        (with_line(unit_price=-1), "lines.0.unit_price"),
        (with_line(unit_price="49.00"), "lines.0.unit_price"),
        (with_line(unit_price=49.5), "lines.0.unit_price"),
        (with_line(quantity=0), "lines.0.quantity"),
        (with_line(quantity=MAX_QUANTITY + 1), "lines.0.quantity"),
        (with_line(sku=" MUG"), "lines.0.sku"),
        (with_line(sku="MUG\n1"), "lines.0.sku"),
        (with_line(vat_rate=101), "lines.0.vat_rate"),
        (with_line(vat_rate=-5), "lines.0.vat_rate"),
        (with_line(colour="red"), "lines.0.colour"),
        (a_store_order(currency="pln"), "currency"),
        (a_store_order(shipping=-100), "shipping"),
        (a_store_order(lines=[]), "lines"),
        (a_store_order(status="paid"), "status"),
        (a_store_order(order_id="ord_1"), "order_id"),
        (a_store_order(payment_method="card"), "payment_method"),
        (a_store_order(placed_at="2026-11-26T10:15:00"), "placed_at"),
        (a_store_order(external_id=" S-1"), "external_id"),
        (a_store_order(delivery={"kind": "drone", "line1": "x"}), "delivery"),
        (
            a_store_order(delivery={"kind": "pickup_point", "carrier": "inpost", "name": "P"}),
            "delivery.pickup_point.point_id",
        ),
        (without_buyer_email, "buyer.email"),
    ):
        response = place(body, key=keys["writer"])
        assert error_of(response) == (400, "invalid_request"), (field, response["body"])
        assert field in fields_of(response), (field, fields_of(response))
    assert executions() == []


def test_a_total_beyond_any_order_is_400_naming_the_lines(keys: dict[str, str]) -> None:
    huge = {"sku": "GOLD", "quantity": MAX_QUANTITY, "unit_price": 10**12, "vat_rate": 23}

    response = place(a_store_order(lines=[huge] * 2), key=keys["writer"])

    assert error_of(response) == (400, "invalid_request")
    assert fields_of(response) == ["lines"]
    # the key was not spent on it: a corrected body under the same key is placed
    assert place(a_store_order(), key=keys["writer"])["statusCode"] == 201


def test_placing_needs_the_orders_write_scope(keys: dict[str, str]) -> None:
    assert error_of(place(a_store_order(), key=keys["reader"])) == (403, "forbidden")
    assert error_of(place(a_store_order(), key=None)) == (401, "unauthorized")
    assert executions() == []


# -- the mapping --------------------------------------------------------------------------------
def test_vat_is_computed_from_gross_prices_per_rate_and_rounded_half_up() -> None:
    assert vat_from_gross(12300, Decimal(23)) == 2300
    assert vat_from_gross(100, Decimal(23)) == 19  # 18.699...
    assert vat_from_gross(1, Decimal("8")) == 0
    assert vat_from_gross(27, Decimal("8")) == 2  # exactly 2.0
    assert vat_from_gross(13, Decimal("8")) == 1  # 0.962...
    assert vat_from_gross(5000, Decimal(0)) == 0
    body = StoreOrder.model_validate(
        a_store_order(
            lines=[
                {"sku": "A", "quantity": 3, "unit_price": 333, "vat_rate": 23},
                {"sku": "B", "quantity": 1, "unit_price": 1080, "vat_rate": 8},
            ],
            shipping=1000,
            shipping_vat_rate=8,
        )
    )
    # 23%: 999 gross -> 186.80 -> 187; 8%: 1080 + 1000 gross -> 154.07 -> 154
    assert tax_of(body) == 187 + 154


def test_the_canonical_order_is_the_stores_at_revision_0_with_gross_prices() -> None:
    body = StoreOrder.model_validate(a_store_order(placed_at=None))
    order = to_order(body, placed_at=utc_now())

    assert (order.channel, order.revision, order.prices_include_vat) == ("store", 0, True)
    assert order.totals.total.amount == order.totals.items.amount + order.totals.shipping.amount
    assert [line.line_no for line in order.lines] == [1, 2]
    assert order.lines[0].unit_price.amount == 4900


def test_the_body_model_is_the_routes_documented_request_body() -> None:
    generated = document()
    operation = generated["paths"]["/api/v1/orders"]["post"]
    schema_ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = generated["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]

    assert schema["additionalProperties"] is False
    assert {"external_id", "currency", "lines", "buyer", "delivery", "payment_method"} <= set(
        schema["required"]
    )
    assert operation["security"] == [{"apiKey": [WRITE_SCOPE]}]
    assert {"201", "400", "409"} <= set(operation["responses"])
    assert any(
        p["name"].lower() == "idempotency-key" and p["in"] == "header" and p["required"]
        for p in operation["parameters"]
    )
