"""The hardening defects, each reproduced over HTTP as a provider or an attacker would."""

from __future__ import annotations

import itertools
import json
import secrets
from typing import Any

import httpx
import pytest

from infra.local.stack import EmbeddedStack
from shared.providers.channels.shopify.simulator import ShopifySimulator
from shared.providers.payments.stripe.simulator import StripeSimulator
from shared.providers.simulation import Line
from tests.conftest import eventually

_ids = itertools.count(8300000001)
MUG = Line("MUG-KRAKOW-350", "Kubek Kraków 350 ml", 1, "49.00")


def listed(http: httpx.Client, external_id: int) -> list[dict[str, Any]]:
    params = {"channel": "shopify", "external_id": str(external_id)}
    items: list[dict[str, Any]] = http.get("/api/v1/orders", params=params).json()["items"]
    return items


def order_of(http: httpx.Client, external_id: int, ready: Any = bool) -> dict[str, Any]:
    found = eventually(lambda: listed(http, external_id))
    order_id = found[0]["order_id"]
    view: dict[str, Any] = eventually(lambda: http.get(f"/api/v1/orders/{order_id}").json(), ready)
    return view


def test_a_pending_order_replayed_as_orders_paid_stays_unpaid(
    http: httpx.Client, shopify: ShopifySimulator
) -> None:
    # GIVEN a pending Shopify order, captured in transit
    external_id = next(_ids)
    create = shopify.webhook("orders/create", shopify.order(external_id, [MUG]))
    assert create.send(http).status_code == 200
    waiting = order_of(http, external_id, lambda o: o["status"] == "awaiting_payment")
    # WHEN the same signed body is resent as orders/paid under a fresh webhook id
    replay = shopify.webhook("orders/paid", shopify.order(external_id, [MUG]))
    assert replay.body == create.body and replay.send(http).json()["status"] == "ignored"
    # THEN the order is still waiting for its money
    again = http.get(f"/api/v1/orders/{waiting['order_id']}").json()
    assert again["status"] == "awaiting_payment" and again["payment"]["payments"] == []


def test_orders_paid_before_orders_create_is_parked_then_pays_the_order(
    http: httpx.Client, shopify: ShopifySimulator
) -> None:
    # GIVEN Shopify delivers orders/paid before orders/create (it does not order deliveries)
    external_id = next(_ids)
    resource = shopify.order(external_id, [MUG])
    paid = shopify.webhook("orders/paid", {**resource, "financial_status": "paid"})
    assert paid.send(http).json()["status"] == "accepted"
    # WHEN the order arrives afterwards
    assert shopify.webhook("orders/create", resource).send(http).status_code == 200
    # THEN it is paid once and ready to ship, with no retry storm and no person
    done = order_of(http, external_id, lambda o: o["status"] == "ready_to_ship")
    assert [e["type"] for e in done["timeline"]].count("OrderPaid") == 1
    assert done["payment"]["status"] == "paid"


def test_a_stripe_payment_for_an_unknown_order_is_listed_for_operators(
    embedded: EmbeddedStack, http: httpx.Client, stripe: StripeSimulator
) -> None:
    intent = stripe.payment_intent("ord_01JZZZZZZZZZZZZZZZZZZZZZZZ", 4900)
    sent = stripe.event("payment_intent.succeeded", intent)
    assert sent.send(http).json()["status"] == "accepted"
    event_id = json.loads(sent.body)["id"]
    dynamodb = embedded.client("dynamodb")

    def listed_failure() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = dynamodb.query(
            TableName=embedded.table_name,
            KeyConditionExpression="PK = :pk AND SK = :sk",
            ExpressionAttributeValues={
                ":pk": {"S": "INBOX#FAILED"},
                ":sk": {"S": f"stripe#{event_id}"},
            },
        )["Items"]
        return items

    (failure,) = eventually(listed_failure)
    assert failure["failure"]["S"] == "unknown_order"
    assert "ord_01JZZZZZZZZZZZZZZZZZZZZZZZ" in failure["last_error"]["S"]


@pytest.mark.parametrize(
    "note",
    [
        lambda: secrets.token_hex(25_000),  # 50 KB: details compressed inline
        lambda: "Proszę dzwonić przed dostawą. " * 11_000,  # 320 KB, compressible
    ],
    ids=["50KB-random", "320KB-compressible"],
)
def test_an_order_with_a_mid_size_note_is_created(
    http: httpx.Client, shopify: ShopifySimulator, note: Any
) -> None:
    external_id = next(_ids)
    resource = shopify.order(external_id, [MUG])
    resource["note"] = note()
    assert shopify.webhook("orders/create", resource).send(http).status_code == 200
    done = order_of(http, external_id, lambda o: o["status"] == "awaiting_payment")
    assert done["lines"][0]["sku"] == "MUG-KRAKOW-350"


def test_a_large_order_is_acknowledged_and_really_created(
    http: httpx.Client, shopify: ShopifySimulator
) -> None:
    # GIVEN a buyer's note of 600 KB of text that does not compress (an item holds 400 KB)
    external_id = next(_ids)
    resource = shopify.order(external_id, [MUG])
    resource["note"] = secrets.token_hex(300_000)
    sent = shopify.webhook("orders/create", resource)
    assert 600_000 < len(sent.body) < 1024 * 1024
    # WHEN it is delivered, THEN it is acknowledged and becomes an order with its note
    assert sent.send(http).status_code == 200
    done = order_of(http, external_id, lambda o: o["status"] == "awaiting_payment")
    assert done["lines"][0]["sku"] == "MUG-KRAKOW-350"


def test_a_body_too_large_to_store_is_413_with_a_json_error(
    http: httpx.Client, shopify: ShopifySimulator
) -> None:
    resource = shopify.order(next(_ids), [MUG])
    resource["note"] = "x" * (1024 * 1024 + 1)
    response = shopify.webhook("orders/create", resource).send(http)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
