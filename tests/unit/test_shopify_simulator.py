"""The Shopify simulator's builders (orders/updated and orders/cancelled bodies) and its served
Admin API's documented refusals, called in-process (no sockets)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from shared.providers.channels.shopify.client import FULFILLMENT_CREATE
from shared.providers.channels.shopify.simulator import ShopifySimulator
from shared.providers.simulation import Line

GRAPHQL = "/admin/api/2025-10/graphql.json"
ORDER_QUERY = "query($id: ID!) { order(id: $id) { id } }"
TOKEN = "shpat_good"


@pytest.fixture
def shop() -> ShopifySimulator:
    return ShopifySimulator("hush", access_token=TOKEN)


def call(shop: ShopifySimulator, body: Any, token: str = TOKEN, path: str = GRAPHQL) -> Any:
    raw = json.dumps(body).encode()
    return shop.answer("POST", path, {"X-Shopify-Access-Token": token}, raw)


def a_placed_order(shop: ShopifySimulator) -> dict[str, Any]:
    return shop.order(9001, [Line("MUG-1", "Mug", 2, "49.00")])


def test_updated_applies_changes_and_moves_updated_at_on(shop: ShopifySimulator) -> None:
    order = a_placed_order(shop)
    later = shop.updated(order, note="ring twice")
    assert later["note"] == "ring twice"
    assert datetime.fromisoformat(later["updated_at"]) > datetime.fromisoformat(order["updated_at"])
    assert order.get("note") is None  # the original is left as it was


def test_cancelled_sets_the_cancel_and_closes_the_fulfillment_orders(
    shop: ShopifySimulator,
) -> None:
    order = a_placed_order(shop)
    cancelled = shop.cancelled(order, reason="fraud")
    assert cancelled["cancel_reason"] == "fraud"
    assert cancelled["cancelled_at"] == cancelled["updated_at"]
    assert datetime.fromisoformat(cancelled["updated_at"]) > datetime.fromisoformat(
        order["updated_at"]
    )
    assert [fo["status"] for fo in shop.fulfillment_orders(order["id"])] == ["CANCELLED"]
    with pytest.raises(ValueError, match="cancel_reason"):
        shop.cancelled(order, reason="bored")


def test_placed_orders_have_one_open_fulfillment_order_with_every_line(
    shop: ShopifySimulator,
) -> None:
    order = a_placed_order(shop)
    [fulfillment_order] = shop.fulfillment_orders(order["id"])
    assert fulfillment_order["status"] == "OPEN"
    assert [
        (n["lineItem"]["id"], n["remainingQuantity"])
        for n in fulfillment_order["lineItems"]["nodes"]
    ] == [(f"gid://shopify/LineItem/{order['line_items'][0]['id']}", 2)]


def test_a_wrong_token_is_shopifys_401(shop: ShopifySimulator) -> None:
    answer = call(shop, {"query": ORDER_QUERY}, token="shpat_bad")
    assert answer.status == 401
    assert answer.body == {
        "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
    }


def test_an_unknown_order_is_a_null_node(shop: ShopifySimulator) -> None:
    answer = call(shop, {"query": ORDER_QUERY, "variables": {"id": "gid://shopify/Order/1"}})
    assert (answer.status, answer.body["data"]) == (200, {"order": None})


def test_other_paths_are_not_found_and_every_request_is_recorded(shop: ShopifySimulator) -> None:
    assert call(shop, {}, path="/admin/api/2025-10/orders.json").status == 404
    assert call(shop, {"nope": 1}).status == 400
    assert [(r["method"], r["path"]) for r in shop.requests] == [
        ("POST", "/admin/api/2025-10/orders.json"),
        ("POST", GRAPHQL),
    ]
    assert shop.requests[1]["json"] == {"nope": 1}


def test_throttle_next_answers_the_documented_throttled_error(shop: ShopifySimulator) -> None:
    shop.throttle_next(2)
    answers = [call(shop, {"query": ORDER_QUERY, "variables": {"id": "x"}}) for _ in range(3)]
    assert [a.body.get("errors", [{}])[0].get("extensions", {}).get("code") for a in answers] == [
        "THROTTLED",
        "THROTTLED",
        None,
    ]
    throttled = answers[0].body
    assert "data" not in throttled
    assert throttled["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 0


def test_fulfillment_create_refuses_unknown_and_excess_lines(shop: ShopifySimulator) -> None:
    order = a_placed_order(shop)
    [fo] = shop.fulfillment_orders(order["id"])
    line_id = fo["lineItems"]["nodes"][0]["id"]
    mutation = FULFILLMENT_CREATE

    def create(groups: Any) -> Any:
        body = {
            "query": mutation,
            "variables": {"fulfillment": {"lineItemsByFulfillmentOrder": groups}},
        }
        return call(shop, body).body["data"]["fulfillmentCreate"]

    assert create([{"fulfillmentOrderId": "gid://shopify/FulfillmentOrder/0"}])["userErrors"] == [
        {"field": ["fulfillment"], "message": "Fulfillment order does not exist."}
    ]
    too_many = [
        {
            "fulfillmentOrderId": fo["id"],
            "fulfillmentOrderLineItems": [{"id": line_id, "quantity": 3}],
        }
    ]
    assert create(too_many)["userErrors"][0]["message"] == (
        "Invalid fulfillment order line item quantity requested."
    )
    assert create([])["userErrors"][0]["field"] == ["fulfillment", "lineItemsByFulfillmentOrder"]
    assert shop.fulfillments(order["id"]) == []
