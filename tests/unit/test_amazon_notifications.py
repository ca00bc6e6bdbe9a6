"""Amazon ORDER_CHANGE queue messages: `parse` of what is stored (Amazon's reference
notification, fetched orders, hostile bodies) and `fetch` against the simulator's API,
answered in-process (no socket)."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared import registry
from shared.inbox.contract import (
    EventId,
    Headers,
    MalformedWebhook,
    ParsedWebhook,
    WebhookRequest,
    parse_value,
)
from shared.orders.domain import ChannelStatus
from shared.orders.inbound import OrderReported
from shared.providers.channels.amazon.api import SpApiRejected
from shared.providers.channels.amazon.notifications import AmazonOrderNotifications
from shared.providers.channels.amazon.simulator import AmazonSimulator
from shared.providers.simulation import Line
from tests.unit.conftest import fixture_bytes, fixture_json

ADAPTER = AmazonOrderNotifications()
REFERENCE = "amazon/order_change_notification_schema_example.json"
REFERENCE_ID = "d0e9e693-c3ad-4373-979f-ed4ec98dd746"
SQS_HEADERS = {
    "X-Sqs-Message-Id": "5fea7756-0ea4-451a-a703-a558b933e274",
    "X-Sqs-Sent-Timestamp": "1700000000000",
}
SECRET = {
    "lwa_client_id": "amzn1.application-oa2-client.unit",
    "lwa_client_secret": "amzn1.oa2-cs.v1.unit-secret",
    "refresh_token": "Atzr|unit-refresh-token",
    "seller_id": "A3TH9S8BH6GOGM",
}


def message(body: bytes | str, headers: dict[str, str] | None = None) -> WebhookRequest:
    raw = body.encode() if isinstance(body, str) else body
    return WebhookRequest(
        Headers(SQS_HEADERS if headers is None else headers), raw, datetime.now(UTC)
    )


def parse(body: bytes | str) -> ParsedWebhook:
    return ADAPTER.parse(message(body))


def fetched_body(notification: dict[str, Any], order: dict[str, Any], items: list[Any]) -> bytes:
    return json.dumps({"notification": notification, "order": order, "orderItems": items}).encode()


def reference_fetched() -> dict[str, Any]:
    """The reference notification with Amazon's sandbox order and items, as `fetch` stores it."""
    notification = fixture_json(REFERENCE)
    order = fixture_json("amazon/get_order_sandbox_test_case_200.json")["payload"]
    order["AmazonOrderId"] = notification["Payload"]["OrderChangeNotification"]["AmazonOrderId"]
    items = fixture_json("amazon/get_order_items_sandbox_test_case_200.json")["payload"][
        "OrderItems"
    ]
    return {"notification": notification, "order": order, "orderItems": items}


# -- the simulator's API, answered in-process ----------------------------------------------------
@pytest.fixture
def amazon() -> AmazonSimulator:
    # A refresh token of its own: LWA tokens are cached per process by client and refresh token
    return AmazonSimulator.from_secret({**SECRET, "refresh_token": f"Atzr|{uuid.uuid4()}"})


@pytest.fixture
def http(amazon: AmazonSimulator) -> Iterator[httpx.Client]:
    def handle(request: httpx.Request) -> httpx.Response:
        answer = amazon.answer(
            request.method, request.url.raw_path.decode(), dict(request.headers), request.content
        )
        if answer.body is None:
            return httpx.Response(answer.status, headers=answer.headers)
        return httpx.Response(answer.status, json=answer.body, headers=answer.headers)

    with httpx.Client(transport=httpx.MockTransport(handle)) as client:
        yield client


def secret_for(amazon: AmazonSimulator, **changes: str) -> dict[str, str]:
    own = {"refresh_token": amazon.refresh_token, "api_url": amazon.base_url}
    return {**SECRET, **own, **changes}


# -- parse ---------------------------------------------------------------------------------------
def test_the_registry_names_this_adapter() -> None:
    assert isinstance(registry.provider("amazon").load_adapter(), AmazonOrderNotifications)


def test_the_reference_notification_alone_is_recorded_ignored() -> None:
    # Given Amazon's own ORDER_CHANGE example, stored as it came (not fetched)
    parsed = parse(fixture_bytes(REFERENCE))

    # Then it is deduplicated on its NotificationId and ignored, saying why
    assert parsed.event_id == REFERENCE_ID
    assert parsed.topic == "ORDER_CHANGE"
    assert parsed.event is None
    assert parsed.ignored_reason is not None
    assert "903-8868176-2219830" in parsed.ignored_reason
    assert "A3TH9S8BH6GOGM" in parsed.ignored_reason
    assert parsed.audit_headers == SQS_HEADERS


def test_a_fetched_order_change_is_an_order_reported() -> None:
    # Given the reference notification stored with the order fetched for it
    parsed = parse(json.dumps(reference_fetched()))

    # Then the order is reported under the notification's id
    assert parsed.event_id == REFERENCE_ID
    assert isinstance(parsed.event, OrderReported)
    assert parsed.event.order.external_id == "903-8868176-2219830"
    assert parsed.event.order.channel_status is ChannelStatus.OPEN


def test_a_fetched_order_that_is_not_the_notifications_is_malformed() -> None:
    stored = reference_fetched()
    stored["order"]["AmazonOrderId"] = "111-2222222-3333333"

    with pytest.raises(MalformedWebhook, match="111-2222222-3333333"):
        parse(json.dumps(stored))


def test_a_pending_fetched_order_is_ignored_under_its_notification_id() -> None:
    stored = reference_fetched()
    stored["order"]["OrderStatus"] = "Pending"

    parsed = parse(json.dumps(stored))

    assert (parsed.event_id, parsed.event) == (REFERENCE_ID, None)
    assert "Pending" in (parsed.ignored_reason or "")


def test_another_notification_type_is_ignored() -> None:
    notification = fixture_json(REFERENCE)
    notification["NotificationType"] = "ANY_OFFER_CHANGED"
    notification["Payload"] = {"AnyOfferChangedNotification": {"SellerId": "A3TH9S8BH6GOGM"}}

    parsed = parse(json.dumps(notification))

    assert parsed.event is None
    assert parsed.ignored_reason == "notification type ANY_OFFER_CHANGED is not handled"


@pytest.mark.parametrize(
    "damage",
    [
        lambda n: n.pop("NotificationMetadata"),
        lambda n: n["NotificationMetadata"].pop("NotificationId"),
        lambda n: n["NotificationMetadata"].update(NotificationId="has spaces"),
        lambda n: n["NotificationMetadata"].update(NotificationId="x" * 256),
        lambda n: n["Payload"].pop("OrderChangeNotification"),
        lambda n: n["Payload"]["OrderChangeNotification"].update(AmazonOrderId="../../tokens"),
    ],
)
def test_a_notification_missing_what_it_must_name_is_malformed(damage: Any) -> None:
    notification = fixture_json(REFERENCE)
    damage(notification)

    with pytest.raises(MalformedWebhook):
        parse(json.dumps(notification))


JSON_LEAVES = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(deadline=None, max_examples=150)
@given(raw=st.binary(max_size=400))
def test_any_bytes_parse_or_are_malformed(raw: bytes) -> None:
    with contextlib.suppress(MalformedWebhook):
        parse(raw)


@settings(deadline=None, max_examples=150)
@given(document=JSON_VALUES)
def test_any_json_parses_or_is_malformed(document: Any) -> None:
    with contextlib.suppress(MalformedWebhook):
        parse(json.dumps(document))


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _leaves(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _leaves(child, (*path, index))
    yield path


LEAF_PATHS = list(_leaves(reference_fetched()))


@settings(deadline=None, max_examples=400)
@given(
    changes=st.lists(
        st.tuples(st.sampled_from(LEAF_PATHS), JSON_VALUES | st.just("∞") | st.just("1e309")),
        min_size=1,
        max_size=4,
    )
)
def test_a_fetched_body_with_hostile_values_maps_or_is_malformed(
    changes: list[tuple[tuple[Any, ...], Any]],
) -> None:
    # Given the stored form of a real notification and order, any of its values replaced
    document: Any = reference_fetched()
    for path, value in changes:
        if not path:
            document = value
            continue
        target = document
        try:
            for step in path[:-1]:
                target = target[step]
            target[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue

    # Then it maps, or is malformed (400 for a person to look at), never another error
    try:
        parsed = parse(json.dumps(document))
    except MalformedWebhook:
        return
    assert parse_value(EventId, parsed.event_id, "event id") == parsed.event_id


# -- fetch ---------------------------------------------------------------------------------------
def test_fetch_stores_the_notification_with_its_order_and_items(
    amazon: AmazonSimulator, http: httpx.Client
) -> None:
    # Given an order on Amazon and its ORDER_CHANGE on the queue
    order_id = amazon.place_order(
        [Line("MUG-350", "Mug", 2, "49.99"), Line("TEA", "Tea", 1, "10.00")]
    )
    body = amazon.notification(order_id, notification_id="n-1")

    # When the consumer fetches it
    delivery = ADAPTER.fetch(secret_for(amazon), message(body), http)

    # Then the delivery is the notification, the order and every item, under its id
    assert delivery is not None
    assert (delivery.event_id, delivery.topic, delivery.headers) == (
        "n-1",
        "ORDER_CHANGE",
        SQS_HEADERS,
    )
    stored = json.loads(delivery.raw_body)
    assert stored["notification"] == json.loads(body)
    assert stored["order"]["AmazonOrderId"] == order_id
    assert [i["SellerSKU"] for i in stored["orderItems"]] == ["MUG-350", "TEA"]
    # And parse maps those bytes with the restricted data the RDT allowed
    parsed = ADAPTER.parse(message(delivery.raw_body, delivery.headers))
    assert isinstance(parsed.event, OrderReported)
    assert parsed.event.order.buyer.name == "Jan Kowalski"
    assert parsed.event.order.delivery is not None


@pytest.mark.parametrize("seller", ["A1OTHERSELLER", ""])
def test_a_notification_for_another_seller_is_not_fetched(
    amazon: AmazonSimulator, http: httpx.Client, seller: str
) -> None:
    order_id = amazon.place_order([Line("MUG-350", "Mug", 1, "49.99")])
    body = amazon.notification(order_id, seller_id=seller or "A1OTHERSELLER")
    secrets = secret_for(amazon) if seller else secret_for(amazon, seller_id="A3TH9S8BH6GOGM")

    assert ADAPTER.fetch(secrets, message(body), http) is None
    assert amazon.requests == []


def test_without_a_configured_seller_every_notification_is_fetched(
    amazon: AmazonSimulator, http: httpx.Client
) -> None:
    order_id = amazon.place_order([Line("MUG-350", "Mug", 1, "49.99")])
    body = amazon.notification(order_id, seller_id="A1OTHERSELLER")

    assert ADAPTER.fetch(secret_for(amazon, seller_id=""), message(body), http) is not None


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        json.dumps({"NotificationType": "ANY_OFFER_CHANGED"}).encode(),
        json.dumps(
            {**fixture_json(REFERENCE), "NotificationType": "FEED_PROCESSING_FINISHED"}
        ).encode(),
    ],
)
def test_what_is_not_an_order_change_is_stored_as_it_came(
    amazon: AmazonSimulator, http: httpx.Client, body: bytes
) -> None:
    assert ADAPTER.fetch(secret_for(amazon), message(body), http) is None
    assert amazon.requests == []


def test_an_order_amazon_does_not_know_raises(amazon: AmazonSimulator, http: httpx.Client) -> None:
    # The reference notification names an order the simulated seller never had: 404
    with pytest.raises(SpApiRejected, match="404"):
        ADAPTER.fetch(secret_for(amazon), message(fixture_bytes(REFERENCE)), http)
