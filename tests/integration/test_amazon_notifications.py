"""Amazon end to end over real HTTP on 127.0.0.1: the queue adapter (built by the registry)
fetches ORDER_CHANGE orders from the served simulator, and its stored bytes map to events."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from shared import registry
from shared.inbox.contract import Delivery, Headers, ParsedWebhook, WebhookRequest
from shared.orders.domain import ChannelStatus
from shared.orders.inbound import OrderReported
from shared.providers.channels.amazon.api import SpApiRejected, SpApiUnavailable
from shared.providers.channels.amazon.simulator import AmazonSimulator
from shared.providers.simulation import Line

AMAZON = registry.provider("amazon")
SQS_HEADERS = {"X-Sqs-Message-Id": "0f6c5d3e-2f5e-4b1a-9d7c-1a2b3c4d5e6f"}
LINES = [
    Line("MUG-350", "Kubek 350 ml", 2, "49.99"),
    Line("TEA-EARL", "Herbata", 1, "18.50", "0.08"),
    Line("SPOON", "Łyżeczka", 3, "4.99"),
]


@pytest.fixture
def secret() -> dict[str, str]:
    return {
        "lwa_client_id": "amzn1.application-oa2-client.integration",
        "lwa_client_secret": "amzn1.oa2-cs.v1.integration",
        "refresh_token": f"Atzr|{uuid.uuid4()}",
        "seller_id": "A3TH9S8BH6GOGM",
    }


@pytest.fixture
def amazon(secret: dict[str, str]) -> Iterator[AmazonSimulator]:
    simulator: AmazonSimulator = AMAZON.simulator_class().from_secret(secret)
    secret["api_url"] = simulator.start()
    try:
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as client:
        yield client


def fetch(secret: dict[str, str], body: str, http: httpx.Client) -> Delivery | None:
    message = WebhookRequest(Headers(SQS_HEADERS), body.encode(), received_at=datetime.now(UTC))
    delivery: Delivery | None = AMAZON.load_adapter().fetch(secret, message, http)
    return delivery


def parsed(delivery: Delivery) -> ParsedWebhook:
    request = WebhookRequest(Headers(delivery.headers), delivery.raw_body, datetime.now(UTC))
    result: ParsedWebhook = AMAZON.load_adapter().parse(request)
    return result


def served(amazon: AmazonSimulator, path_end: str = "") -> list[dict[str, Any]]:
    return [r for r in amazon.requests if r["path"].endswith(path_end)]


def test_the_order_is_read_with_a_restricted_data_token_and_its_items_paged(
    amazon: AmazonSimulator, secret: dict[str, str], http: httpx.Client
) -> None:
    # Given an order of three items on Amazon.pl (one item per getOrderItems page)
    amazon.items_per_page = 1
    order_id = amazon.place_order(LINES)

    # When its ORDER_CHANGE is fetched
    delivery = fetch(secret, amazon.notification(order_id), http)

    # Then one LWA token was asked for, with the refresh token grant
    assert delivery is not None
    [login] = served(amazon, "/auth/o2/token")
    assert login["form"] == {
        "grant_type": "refresh_token",
        "refresh_token": secret["refresh_token"],
        "client_id": secret["lwa_client_id"],
        "client_secret": secret["lwa_client_secret"],
    }
    # And an RDT for exactly this order's buyer and address, asked for with the LWA token
    [grant] = served(amazon, "/tokens/2021-03-01/restrictedDataToken")
    assert grant["method"] == "POST"
    assert grant["json"] == {
        "restrictedResources": [
            {
                "method": "GET",
                "path": f"/orders/v0/orders/{order_id}",
                "dataElements": ["buyerInfo", "shippingAddress"],
            }
        ]
    }
    lwa_token = grant["headers"]["x-amz-access-token"]
    assert lwa_token.startswith("Atza|")
    # And getOrder was called with the RDT, getOrderItems with the LWA token, page by page
    [get_order] = served(amazon, f"/orders/v0/orders/{order_id}")
    assert get_order["headers"]["x-amz-access-token"].startswith("Atz.sprdt|")
    pages = served(amazon, "/orderItems")
    assert [page["query"] for page in pages] == [
        {},
        {"NextToken": f"{order_id}:1"},
        {"NextToken": f"{order_id}:2"},
    ]
    assert {page["headers"]["x-amz-access-token"] for page in pages} == {lwa_token}
    # And the stored order carries every item and the restricted data
    stored = json.loads(delivery.raw_body)
    assert [item["SellerSKU"] for item in stored["orderItems"]] == ["MUG-350", "TEA-EARL", "SPOON"]
    assert stored["order"]["BuyerInfo"]["BuyerName"] == "Jan Kowalski"
    assert stored["order"]["ShippingAddress"]["AddressLine1"]
    event = parsed(delivery).event
    assert isinstance(event, OrderReported)
    assert [line.sku for line in event.order.lines] == ["MUG-350", "TEA-EARL", "SPOON"]
    assert [str(line.vat_rate) for line in event.order.lines] == ["23", "8", "23"]
    assert event.order.totals.total.amount == 2 * 4999 + 1850 + 3 * 499


def test_the_lwa_token_serves_the_next_notifications_too(
    amazon: AmazonSimulator, secret: dict[str, str], http: httpx.Client
) -> None:
    first, second = amazon.place_order(LINES[:1]), amazon.place_order(LINES[1:])

    assert fetch(secret, amazon.notification(first), http) is not None
    assert fetch(secret, amazon.notification(second), http) is not None

    assert len(served(amazon, "/auth/o2/token")) == 1
    assert len(served(amazon, "/restrictedDataToken")) == 2  # one RDT per order


def test_amazon_shows_no_personal_data_without_a_restricted_data_token(
    amazon: AmazonSimulator, secret: dict[str, str], http: httpx.Client
) -> None:
    # Given an LWA token (as the simulator checks what Amazon documents)
    order_id = amazon.place_order(LINES[:1])
    token = http.post(
        f"{secret['api_url']}/auth/o2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": secret["refresh_token"],
            "client_id": secret["lwa_client_id"],
            "client_secret": secret["lwa_client_secret"],
        },
    ).json()["access_token"]

    # When getOrder is called with it
    answer = http.get(
        f"{secret['api_url']}/orders/v0/orders/{order_id}",
        headers={"x-amz-access-token": token},
    )

    # Then the order comes without BuyerInfo and with only the address's public fields
    payload = answer.json()["payload"]
    assert "BuyerInfo" not in payload
    assert set(payload["ShippingAddress"]) == {"City", "PostalCode", "CountryCode"}


def test_a_rate_limited_call_raises_so_sqs_retries_the_message(
    amazon: AmazonSimulator, secret: dict[str, str], http: httpx.Client
) -> None:
    # Given Amazon throttling getOrder once
    order_id = amazon.place_order(LINES)
    body = amazon.notification(order_id)
    amazon.rate_limit(1, operation="getOrder")

    # When the message is fetched, it fails as retryable (getOrder: 0.5 requests a second)
    with pytest.raises(SpApiUnavailable) as raised:
        fetch(secret, body, http)
    assert raised.value.status == 429
    assert raised.value.retry_after == 2.0

    # And the same message fetched again (SQS makes it visible again) succeeds
    assert fetch(secret, body, http) is not None


def test_wrong_credentials_raise_for_a_person_to_fix(
    amazon: AmazonSimulator, secret: dict[str, str], http: httpx.Client
) -> None:
    order_id = amazon.place_order(LINES[:1])

    with pytest.raises(SpApiRejected, match="invalid_grant"):
        fetch({**secret, "refresh_token": "Atzr|revoked"}, amazon.notification(order_id), http)


def test_each_change_of_an_order_is_a_higher_revision(
    amazon: AmazonSimulator, secret: dict[str, str], http: httpx.Client
) -> None:
    # Given an order placed but not paid yet
    order_id = amazon.place_order(LINES[:1], status="Pending")
    pending = fetch(secret, amazon.notification(order_id), http)
    assert pending is not None
    assert parsed(pending).event is None  # Amazon: do not ship before payment

    # When it is paid, then cancelled
    amazon.update(order_id, OrderStatus="Unshipped")
    paid = fetch(secret, amazon.notification(order_id), http)
    amazon.cancel(order_id)
    cancelled = fetch(secret, amazon.notification(order_id), http)

    # Then the paid one is open, the cancelled one cancelled, at a higher revision
    assert paid is not None and cancelled is not None
    open_event, cancel_event = parsed(paid).event, parsed(cancelled).event
    assert isinstance(open_event, OrderReported) and isinstance(cancel_event, OrderReported)
    assert open_event.order.channel_status is ChannelStatus.OPEN
    assert cancel_event.order.channel_status is ChannelStatus.CANCELLED
    assert cancel_event.order.revision > open_event.order.revision
    assert cancel_event.order.delivery is None  # no address for a cancelled order


MARKETPLACES = [
    ("A1PA6795UKMFR9", "EUR", "19.99", "19"),
    ("A1F83G8C2ARO7P", "GBP", "12.50", "20"),
    ("A2NODRKZP88ZB9", "SEK", "249.00", "25"),
]


@pytest.mark.parametrize("case", MARKETPLACES, ids=[case[1] for case in MARKETPLACES])
def test_orders_from_other_marketplaces_keep_their_currency(
    amazon: AmazonSimulator,
    secret: dict[str, str],
    http: httpx.Client,
    case: tuple[str, str, str, str],
) -> None:
    marketplace, currency, price, rate = case
    vat = f"0.{int(rate):02d}"
    order_id = amazon.place_order(
        [Line("MUG-350", "Mug", 1, price, vat)], marketplace=marketplace, currency=currency
    )

    delivery = fetch(secret, amazon.notification(order_id), http)

    assert delivery is not None
    event = parsed(delivery).event
    assert isinstance(event, OrderReported)
    assert event.order.currency == currency
    assert str(event.order.lines[0].vat_rate) == rate
    assert event.order.channel_refs == {"marketplace_id": marketplace}


def test_business_and_cash_on_delivery_orders(
    amazon: AmazonSimulator, secret: dict[str, str], http: httpx.Client
) -> None:
    order_id = amazon.place_order(LINES[:1], business_vat="PL5260250274", cod=True)

    delivery = fetch(secret, amazon.notification(order_id), http)

    assert delivery is not None
    event = parsed(delivery).event
    assert isinstance(event, OrderReported)
    assert event.order.buyer.tax_id == "PL5260250274"
    assert event.order.invoice_requested is True
    assert event.order.payment_method.value == "cash_on_delivery"
    assert event.order.channel_payment is None
