"""Shopify fulfilments over real HTTP on 127.0.0.1: the channel client (built by the registry)
against the simulator's served GraphQL Admin API, asserting the documented request shapes
(shopify.dev/docs/api/admin-graphql/2025-10/mutations/fulfillmentCreate)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from shared import registry
from shared.channels.push import ChannelRejected, ChannelUnavailable, ShipmentLine, ShipmentPush
from shared.providers.channels.shopify.simulator import ShopifySimulator
from shared.providers.simulation import Line

SHOPIFY = registry.provider("shopify")
SECRET = {
    "webhook_secret": "hush",
    "shop_domain": "orderhub-demo.myshopify.com",
    "admin_access_token": "shpat_0123456789abcdef0123456789abcdef",
}
GRAPHQL_PATH = "/admin/api/2025-10/graphql.json"


@pytest.fixture
def shop() -> Iterator[ShopifySimulator]:
    simulator: ShopifySimulator = SHOPIFY.simulator_class().from_secret(SECRET)
    simulator.start()
    try:
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as client:
        yield client


def client_for(shop: ShopifySimulator, http: httpx.Client, **secret: str) -> Any:
    document = {**SECRET, "api_url": shop.base_url, **secret}
    return SHOPIFY.channel_client_factory().from_secret(document, http)


def placed(shop: ShopifySimulator, order_id: int = 7001) -> dict[str, Any]:
    return shop.order(
        order_id, [Line("MUG-1", "Mug", 2, "49.00"), Line("TEA-7", "Tea", 1, "19.00")]
    )


def push_of(
    order: dict[str, Any],
    *,
    tracking: str = "620000000000000000000001",
    lines: list[tuple[int, int]] | None = None,  # (line index, quantity)
    complete: bool = True,
) -> ShipmentPush:
    items = order["line_items"]
    chosen = lines if lines is not None else [(i, item["quantity"]) for i, item in enumerate(items)]
    return ShipmentPush(
        shipment_id=f"shp_{tracking}",
        order_id="ord_1",
        channel="shopify",
        external_id=str(order["id"]),
        external_number=order["name"],
        channel_refs={"admin_graphql_api_id": order["admin_graphql_api_id"]},
        carrier="inpost",
        tracking_number=tracking,
        tracking_url=f"https://inpost.pl/sledzenie-przesylek?number={tracking}",
        shipped_at=datetime(2026, 11, 27, 9, 0, tzinfo=UTC),
        lines=[
            ShipmentLine(
                line_no=index + 1,
                quantity=quantity,
                sku=items[index]["sku"],
                listing_id=str(items[index]["variant_id"]),
                channel_line_id=str(items[index]["id"]),
            )
            for index, quantity in chosen
        ],
        complete=complete,
    )


def graphql_calls(shop: ShopifySimulator) -> list[dict[str, Any]]:
    return [r for r in shop.requests if r["path"] == GRAPHQL_PATH]


def test_a_shipment_becomes_one_fulfillment_with_its_tracking(
    shop: ShopifySimulator, http: httpx.Client
) -> None:
    # Given an order in the shop with one open fulfillment order
    order = placed(shop)
    fulfillment_order = shop.fulfillment_orders(order["id"])[0]
    # When the shipment is pushed
    reference = client_for(shop, http).push_shipment(push_of(order))
    # Then Shopify holds one fulfillment with the tracking number, and the reference names it
    [fulfillment] = shop.fulfillments(order["id"])
    assert reference == fulfillment["id"] and reference.startswith("gid://shopify/Fulfillment/")
    assert fulfillment["trackingInfo"] == [
        {
            "company": "InPost",
            "number": "620000000000000000000001",
            "url": "https://inpost.pl/sledzenie-przesylek?number=620000000000000000000001",
        }
    ]
    assert shop.fulfillment_orders(order["id"])[0]["status"] == "CLOSED"
    # And the calls were the documented ones: the order query, then fulfillmentCreate
    query, mutation = graphql_calls(shop)
    for call in (query, mutation):
        assert call["method"] == "POST"
        assert call["headers"]["X-Shopify-Access-Token"] == SECRET["admin_access_token"]
        assert call["headers"]["Content-Type"].startswith("application/json")
    assert query["json"]["variables"] == {"id": f"gid://shopify/Order/{order['id']}"}
    assert "fulfillmentOrders" in query["json"]["query"]
    assert "remainingQuantity" in query["json"]["query"]
    assert "trackingInfo" in query["json"]["query"]
    assert "fulfillmentCreate(fulfillment: $fulfillment)" in mutation["json"]["query"]
    assert "userErrors" in mutation["json"]["query"]
    by_line = {n["lineItem"]["id"]: n["id"] for n in fulfillment_order["lineItems"]["nodes"]}
    first, second = (f"gid://shopify/LineItem/{item['id']}" for item in order["line_items"])
    assert mutation["json"]["variables"] == {
        "fulfillment": {
            "lineItemsByFulfillmentOrder": [
                {
                    "fulfillmentOrderId": fulfillment_order["id"],
                    "fulfillmentOrderLineItems": [
                        {"id": by_line[first], "quantity": 2},
                        {"id": by_line[second], "quantity": 1},
                    ],
                }
            ],
            "trackingInfo": {
                "company": "InPost",
                "number": "620000000000000000000001",
                "url": "https://inpost.pl/sledzenie-przesylek?number=620000000000000000000001",
            },
            "notifyCustomer": True,
        }
    }


def test_the_same_push_again_creates_nothing(shop: ShopifySimulator, http: httpx.Client) -> None:
    order = placed(shop)
    client = client_for(shop, http)
    first = client.push_shipment(push_of(order))
    # When the push queue retries (the first answer was lost, say)
    second = client.push_shipment(push_of(order))
    # Then the existing fulfillment is the answer and nothing was created
    assert second == first
    assert len(shop.fulfillments(order["id"])) == 1
    assert ["fulfillmentCreate" in c["json"]["query"] for c in graphql_calls(shop)] == [
        False,
        True,
        False,
    ]


def test_two_partial_shipments_fulfil_what_each_carries(
    shop: ShopifySimulator, http: httpx.Client
) -> None:
    order = placed(shop)
    client = client_for(shop, http)
    client.push_shipment(push_of(order, tracking="T-1", lines=[(0, 1)], complete=False))
    assert shop.fulfillment_orders(order["id"])[0]["status"] == "IN_PROGRESS"
    client.push_shipment(push_of(order, tracking="T-2", lines=[(0, 1), (1, 1)]))
    numbers = [f["trackingInfo"][0]["number"] for f in shop.fulfillments(order["id"])]
    assert numbers == ["T-1", "T-2"]
    assert shop.fulfillment_orders(order["id"])[0]["status"] == "CLOSED"


def test_a_shipment_without_line_ids_fulfils_the_whole_order(
    shop: ShopifySimulator, http: httpx.Client
) -> None:
    order = placed(shop)
    push = push_of(order)
    bare = push.model_copy(
        update={"lines": [line.model_copy(update={"channel_line_id": None}) for line in push.lines]}
    )
    client_for(shop, http).push_shipment(bare)
    mutation = graphql_calls(shop)[-1]["json"]["variables"]["fulfillment"]
    assert mutation["lineItemsByFulfillmentOrder"] == [
        {"fulfillmentOrderId": shop.fulfillment_orders(order["id"])[0]["id"]}
    ]
    assert shop.fulfillment_orders(order["id"])[0]["status"] == "CLOSED"


def test_the_order_id_falls_back_to_the_external_id(
    shop: ShopifySimulator, http: httpx.Client
) -> None:
    order = placed(shop)
    push = push_of(order).model_copy(update={"channel_refs": {}})
    client_for(shop, http).push_shipment(push)
    assert graphql_calls(shop)[0]["json"]["variables"] == {
        "id": f"gid://shopify/Order/{order['id']}"
    }


def test_a_throttled_call_is_unavailable_with_the_time_to_refill(
    shop: ShopifySimulator, http: httpx.Client
) -> None:
    order = placed(shop)
    shop.throttle_next(1)
    with pytest.raises(ChannelUnavailable, match="Throttled") as raised:
        client_for(shop, http).push_shipment(push_of(order))
    # The bucket is empty, the query costs 10 points, Shopify restores 100 a second
    assert raised.value.retry_after == 1.0
    assert shop.fulfillments(order["id"]) == []
    # And once the bucket refills the retry goes through
    client_for(shop, http).push_shipment(push_of(order))
    assert len(shop.fulfillments(order["id"])) == 1


def test_user_errors_are_a_rejection_with_shopifys_words(
    shop: ShopifySimulator, http: httpx.Client
) -> None:
    # Given an order the shop cancelled after the shipment was booked here
    order = placed(shop)
    shop.cancelled(order)
    # Then no fulfillment order is open: refused for good, nothing created
    with pytest.raises(ChannelRejected, match="nothing left to fulfil"):
        client_for(shop, http).push_shipment(push_of(order))
    assert shop.fulfillments(order["id"]) == []


def test_more_units_than_remain_are_refused_by_shopify_user_errors(
    shop: ShopifySimulator, http: httpx.Client
) -> None:
    order = placed(shop)
    client = client_for(shop, http)
    client.push_shipment(push_of(order, tracking="T-1", lines=[(0, 2)], complete=False))
    with pytest.raises(ChannelRejected, match="units left to fulfil"):
        client.push_shipment(push_of(order, tracking="T-2", lines=[(0, 1)]))
    assert len(shop.fulfillments(order["id"])) == 1


def test_a_fulfillment_create_user_error_is_rejected(
    shop: ShopifySimulator, http: httpx.Client
) -> None:
    # Given a fulfillment order that closes between the client's query and its mutation
    order = placed(shop)
    client = client_for(shop, http)
    original = shop.answer

    def closing_before_the_mutation(method: str, path: str, headers: Any, raw: bytes) -> Any:
        if b"fulfillmentCreate" in raw:
            shop.cancelled(order)
        return original(method, path, headers, raw)

    shop.answer = closing_before_the_mutation  # type: ignore[method-assign]
    with pytest.raises(ChannelRejected, match="unfulfillable status"):
        client.push_shipment(push_of(order))


def test_an_unknown_order_is_rejected(shop: ShopifySimulator, http: httpx.Client) -> None:
    order = placed(shop)
    push = push_of(order).model_copy(update={"external_id": "999", "channel_refs": {}})
    with pytest.raises(ChannelRejected, match="has no order 999"):
        client_for(shop, http).push_shipment(push)


def test_a_wrong_token_is_rejected(shop: ShopifySimulator, http: httpx.Client) -> None:
    order = placed(shop)
    client = client_for(shop, http, admin_access_token="shpat_revoked")
    with pytest.raises(ChannelRejected, match="HTTP 401"):
        client.push_shipment(push_of(order))


def test_an_unreachable_shop_is_unavailable(http: httpx.Client) -> None:
    gone = ShopifySimulator("hush")
    gone.start()
    url = gone.base_url
    gone.stop()
    document = {**SECRET, "api_url": url}
    client = SHOPIFY.channel_client_factory().from_secret(document, http)
    order = ShopifySimulator("hush").order(7002, [Line("MUG-1", "Mug", 1, "49.00")])
    with pytest.raises(ChannelUnavailable):
        client.push_shipment(push_of(order))
