"""The Shopify fulfilment client's error policy, against canned HTTP answers (no sockets):
what is retried (429, 5xx, THROTTLED, timeouts) and what is refused for good (4xx, other
GraphQL errors, a secret that cannot call the API)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from shared.channels.push import ChannelRejected, ChannelUnavailable, ShipmentLine, ShipmentPush
from shared.providers.channels.shopify.client import ShopifyFulfilments

SECRET = {"shop_domain": "acme.myshopify.com", "admin_access_token": "shpat_x"}
PUSH = ShipmentPush(
    shipment_id="shp_1",
    order_id="ord_1",
    channel="shopify",
    external_id="450789469",
    carrier="DHL",
    tracking_number="JJD000390007",
    shipped_at=datetime(2026, 11, 27, tzinfo=UTC),
    lines=[ShipmentLine(line_no=1, quantity=1, channel_line_id="466157049")],
    complete=True,
)


def client(
    answer: Callable[[httpx.Request], httpx.Response], **secret: str
) -> tuple[ShopifyFulfilments, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request)

    http = httpx.Client(transport=httpx.MockTransport(record))
    return ShopifyFulfilments.from_secret({**SECRET, **secret}, http), seen


def graphql(body: dict[str, Any], status: int = 200, **headers: str) -> Callable[..., Any]:
    return lambda _request: httpx.Response(status, json=body, headers=headers)


def test_the_shop_domain_makes_the_graphql_url_and_the_token_its_header() -> None:
    shopify, seen = client(graphql({"data": {"order": None}}))
    with pytest.raises(ChannelRejected):
        shopify.push_shipment(PUSH)
    [request] = seen
    assert str(request.url) == "https://acme.myshopify.com/admin/api/2025-10/graphql.json"
    assert request.headers["X-Shopify-Access-Token"] == "shpat_x"
    assert json.loads(request.content)["variables"] == {"id": "gid://shopify/Order/450789469"}


@pytest.mark.parametrize(
    ("status", "headers", "retry_after"),
    [(429, {"Retry-After": "2.0"}, 2.0), (503, {}, None), (500, {"Retry-After": "soon"}, None)],
)
def test_rate_limits_and_server_errors_are_unavailable(
    status: int, headers: dict[str, str], retry_after: float | None
) -> None:
    shopify, _ = client(graphql({"errors": "busy"}, status, **headers))
    with pytest.raises(ChannelUnavailable) as raised:
        shopify.push_shipment(PUSH)
    assert raised.value.retry_after == retry_after


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 423])
def test_other_client_errors_are_rejected(status: int) -> None:
    shopify, _ = client(graphql({"errors": "[API] This action requires merchant approval"}, status))
    with pytest.raises(ChannelRejected, match=f"HTTP {status}"):
        shopify.push_shipment(PUSH)


def test_a_timeout_is_unavailable() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    shopify, _ = client(timeout)
    with pytest.raises(ChannelUnavailable, match="ReadTimeout"):
        shopify.push_shipment(PUSH)


def test_throttled_waits_for_the_bucket_to_refill_at_the_restore_rate() -> None:
    body = {
        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
        "extensions": {
            "cost": {
                "requestedQueryCost": 752,
                "actualQueryCost": None,
                "throttleStatus": {
                    "maximumAvailable": 1000.0,
                    "currentlyAvailable": 666,
                    "restoreRate": 50.0,
                },
            }
        },
    }
    shopify, _ = client(graphql(body))
    with pytest.raises(ChannelUnavailable, match="Throttled") as raised:
        shopify.push_shipment(PUSH)
    assert raised.value.retry_after == 2  # (752 - 666) / 50, rounded up


@pytest.mark.parametrize(
    "errors",
    [
        [{"message": "Access denied for order field.", "extensions": {"code": "ACCESS_DENIED"}}],
        [{"message": "Field 'nope' doesn't exist on type 'Order'"}],
        "[API] Invalid API key",
        [42, None],
    ],
)
def test_other_graphql_errors_are_rejected(errors: Any) -> None:
    shopify, _ = client(graphql({"errors": errors}))
    with pytest.raises(ChannelRejected):
        shopify.push_shipment(PUSH)


@pytest.mark.parametrize(
    "answer",
    [
        lambda _r: httpx.Response(200, text="<html>maintenance</html>"),
        graphql([1, 2]),  # type: ignore[arg-type]
        graphql({"data": {"order": {"id": "gid://shopify/Order/1", "fulfillments": "x"}}}),
    ],
    ids=["html", "array", "odd-order"],
)
def test_an_answer_that_is_not_shopifys_is_unavailable(answer: Any) -> None:
    shopify, _ = client(answer)
    with pytest.raises(ChannelUnavailable):
        shopify.push_shipment(PUSH)


@pytest.mark.parametrize(
    "secret",
    [{"admin_access_token": ""}, {"shop_domain": ""}],
    ids=["no-token", "no-shop"],
)
def test_a_secret_that_cannot_call_the_api_is_rejected_without_a_call(
    secret: dict[str, str],
) -> None:
    shopify, seen = client(graphql({}), **secret)
    with pytest.raises(ChannelRejected, match="admin_access_token"):
        shopify.push_shipment(PUSH)
    assert seen == []


def test_an_unknown_carrier_is_sent_as_the_shop_named_it() -> None:
    order = {
        "id": "gid://shopify/Order/450789469",
        "fulfillments": [],
        "fulfillmentOrders": {
            "nodes": [
                {
                    "id": "gid://shopify/FulfillmentOrder/1",
                    "status": "OPEN",
                    "lineItems": {
                        "nodes": [
                            {
                                "id": "gid://shopify/FulfillmentOrderLineItem/9",
                                "remainingQuantity": 1,
                                "lineItem": {"id": "gid://shopify/LineItem/466157049"},
                            }
                        ]
                    },
                }
            ]
        },
    }
    created = {
        "fulfillmentCreate": {
            "fulfillment": {"id": "gid://shopify/Fulfillment/5"},
            "userErrors": [],
        }
    }
    answers = iter([{"data": {"order": order}}, {"data": created}])
    shopify, seen = client(lambda _r: httpx.Response(200, json=next(answers)))
    assert shopify.push_shipment(PUSH) == "gid://shopify/Fulfillment/5"
    sent = json.loads(seen[1].content)["variables"]["fulfillment"]
    assert sent["trackingInfo"] == {"company": "DHL", "number": "JJD000390007"}
