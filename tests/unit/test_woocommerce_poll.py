"""The repair poll against the simulated store's API, in process (httpx.MockTransport into the
simulator's request handler: no sockets). Served over 127.0.0.1 in
tests/integration/test_woocommerce_client.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from shared.inbox.contract import Headers, WebhookRequest
from shared.inbox.events import OrderReported
from shared.providers.channels.woocommerce.poll import Cursor, UnexpectedAnswer
from shared.providers.channels.woocommerce.rest import StoreNotConfigured
from shared.providers.channels.woocommerce.simulator import WooCommerceSimulator
from shared.providers.channels.woocommerce.webhook import WooCommerceOrders
from shared.providers.simulation import Line

NOW = datetime(2026, 5, 4, 12, 0, 0, tzinfo=UTC)
MUGS = [Line("MUG-350", "Kubek", 1, "49.99")]


class Clock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW - timedelta(hours=2))


@pytest.fixture
def simulator(clock: Clock) -> WooCommerceSimulator:
    return WooCommerceSimulator("whsec", "ck_test", "cs_test", clock=clock)


@pytest.fixture
def http(simulator: WooCommerceSimulator) -> Iterator[httpx.Client]:
    def handle(request: httpx.Request) -> httpx.Response:
        answer = simulator.answer(
            request.method, request.url.raw_path.decode(), dict(request.headers), request.content
        )
        return httpx.Response(answer.status, json=answer.body, headers=answer.headers)

    with httpx.Client(transport=httpx.MockTransport(handle)) as client:
        yield client


SECRETS = {
    "webhook_secret": "whsec",
    "consumer_key": "ck_test",
    "consumer_secret": "cs_test",
    "api_url": "http://127.0.0.1:8999/",
}
ADAPTER = WooCommerceOrders(clock=lambda: NOW)


def stored(simulator: WooCommerceSimulator, clock: Clock, count: int, start: int = 1) -> None:
    for order_id in range(start, start + count):
        simulator.put(simulator.order(order_id, MUGS, paid=True))
        clock.advance(7)


def test_the_first_poll_looks_back_a_day_with_the_documented_query(
    simulator: WooCommerceSimulator, http: httpx.Client
) -> None:
    ADAPTER.poll(SECRETS, None, http)
    (served,) = simulator.requests
    assert served["method"] == "GET"
    assert served["path"] == "/wp-json/wc/v3/orders"
    assert served["query"] == {
        "modified_after": "2026-05-03T11:59:55",  # 24 h back, and the overlap
        "dates_are_gmt": "true",
        "orderby": "modified",
        "order": "asc",
        "per_page": "100",
        "page": "1",
    }
    # HTTP Basic with the REST key, never the key in the query string
    assert served["headers"]["authorization"] == httpx.BasicAuth("ck_test", "cs_test")._auth_header


def test_each_order_is_the_delivery_its_webhook_would_be(
    simulator: WooCommerceSimulator, clock: Clock, http: httpx.Client
) -> None:
    # Given an order whose webhook was dropped
    order = simulator.put(simulator.order(3001, MUGS, paid=True))
    webhook = simulator.webhook("order.updated", order)
    # When the poll finds it
    page = ADAPTER.poll(SECRETS, None, http)
    (delivery,) = page.deliveries
    from_webhook = ADAPTER.parse(
        WebhookRequest(Headers(webhook.headers), webhook.body, received_at=NOW)
    )
    from_poll = ADAPTER.parse(
        WebhookRequest(Headers(delivery.headers), delivery.raw_body, received_at=NOW)
    )
    # Then both are the same inbox item: same key, same order
    assert delivery.event_id == from_webhook.event_id == from_poll.event_id
    assert delivery.topic == "order.updated"
    assert delivery.headers == {"X-Orderhub-Fetched": "poll"}
    assert json.loads(delivery.raw_body) == order
    assert isinstance(from_poll.event, OrderReported)
    assert from_poll.event == from_webhook.event
    assert page.cursor == order["date_modified_gmt"]
    assert page.more is False


def test_pages_follow_the_cursor_and_reread_the_overlap(
    simulator: WooCommerceSimulator, clock: Clock, http: httpx.Client
) -> None:
    # Given 150 orders modified 7 s apart
    stored(simulator, clock, 150)
    # When the poll runs page by page, as the poll function does while `more`
    first = ADAPTER.poll(SECRETS, None, http)
    assert len(first.deliveries) == 100
    assert first.more is True
    assert first.cursor == simulator.stored(100)["date_modified_gmt"]
    second = ADAPTER.poll(SECRETS, first.cursor, http)
    # Then the next page starts 5 s before the last order seen (its second, re-read)
    assert simulator.requests[-1]["query"]["modified_after"] == "2026-05-04T10:11:28"
    assert simulator.requests[-1]["query"]["page"] == "1"
    ids = [json.loads(d.raw_body)["id"] for d in second.deliveries]
    assert ids == list(range(100, 151))  # order 100 again: the inbox dedupes it
    assert second.more is False
    assert second.cursor == simulator.stored(150)["date_modified_gmt"]
    # And with nothing new, the cursor stays
    third = ADAPTER.poll(SECRETS, second.cursor, http)
    assert [json.loads(d.raw_body)["id"] for d in third.deliveries] == [150]
    assert third.cursor == second.cursor


def test_a_full_page_within_the_overlap_moves_to_the_next_page(
    simulator: WooCommerceSimulator, clock: Clock, http: httpx.Client
) -> None:
    # Given a bulk edit: 250 orders modified in the same second
    for order_id in range(1, 251):
        simulator.put(simulator.order(order_id, MUGS))
    seconds = simulator.stored(1)["date_modified_gmt"]
    first = ADAPTER.poll(SECRETS, seconds, http)
    # Then the cursor cannot move by time: it keeps the second and names page 2
    assert first.cursor == f"{seconds}#page=2"
    assert first.more is True
    second = ADAPTER.poll(SECRETS, first.cursor, http)
    assert simulator.requests[-1]["query"]["page"] == "2"
    assert second.cursor == f"{seconds}#page=3"
    third = ADAPTER.poll(SECRETS, second.cursor, http)
    assert third.more is False
    assert third.cursor == seconds
    seen = {json.loads(d.raw_body)["id"] for p in (first, second, third) for d in p.deliveries}
    assert seen == set(range(1, 251))


def test_the_cursor_reads_back_what_it_wrote() -> None:
    cursor = Cursor(datetime(2026, 5, 4, 10, 0, 1, tzinfo=UTC), page=3)
    assert cursor.text() == "2026-05-04T10:00:01#page=3"
    assert Cursor.parse(cursor.text()) == cursor
    assert Cursor.parse("2026-05-04T10:00:01") == Cursor(cursor.since)


def test_without_rest_keys_there_is_no_repair_poll(http: httpx.Client) -> None:
    page = ADAPTER.poll({"webhook_secret": "whsec"}, "2026-05-04T10:00:01", http)
    assert page.deliveries == ()
    assert page.cursor == "2026-05-04T10:00:01"


def test_keys_are_not_sent_over_plain_http_to_a_store(http: httpx.Client) -> None:
    with pytest.raises(StoreNotConfigured, match="https"):
        ADAPTER.poll({**SECRETS, "api_url": "http://sklep.example"}, None, http)


def test_an_http_error_raises_and_the_cursor_is_the_callers(
    simulator: WooCommerceSimulator, http: httpx.Client
) -> None:
    simulator.fail_next(503)
    with pytest.raises(httpx.HTTPStatusError):
        ADAPTER.poll(SECRETS, None, http)
    with pytest.raises(httpx.HTTPStatusError, match="401"):
        ADAPTER.poll({**SECRETS, "consumer_secret": "wrong"}, None, http)
    assert simulator.requests[-1]["headers"]["authorization"].startswith("Basic ")


def test_an_answer_that_is_not_a_list_of_orders_raises() -> None:
    def handle(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>Maintenance</html>")

    with (
        httpx.Client(transport=httpx.MockTransport(handle)) as http,
        pytest.raises(UnexpectedAnswer),
    ):
        ADAPTER.poll(SECRETS, None, http)


def test_an_unreadable_order_is_kept_under_a_stable_key(
    simulator: WooCommerceSimulator, http: httpx.Client
) -> None:
    def handle(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[{"id": "x"}], headers={"X-WP-TotalPages": "1"})

    with httpx.Client(transport=httpx.MockTransport(handle)) as broken:
        first = ADAPTER.poll(SECRETS, None, broken).deliveries[0]
        again = ADAPTER.poll(SECRETS, None, broken).deliveries[0]
    assert first.event_id == again.event_id
    assert first.event_id.startswith("order-unreadable-")
