"""WooCommerce over real HTTP on 127.0.0.1: the channel client and the repair poll (both built
from the registry entry) against the simulated store's REST API, asserting the requests it
recorded against the documented shapes; and a dropped webhook repaired by the poll, deduplicated
with the delivered one in the inbox."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, cast

import httpx
import pytest

from shared import registry
from shared.channels.push import ChannelRejected, ChannelUnavailable, ShipmentLine, ShipmentPush
from shared.inbox.contract import Headers, WebhookRequest
from shared.inbox.cursors import CursorRepository
from shared.inbox.poll import pull
from shared.inbox.service import Receipt, authenticate, record
from shared.inbox.store import InboxEntry
from shared.providers.channels.woocommerce.simulator import WooCommerceSimulator
from shared.providers.simulation import Line

WOOCOMMERCE = registry.provider("woocommerce")
SECRET = {
    "webhook_secret": "wc_whsec_integration",
    "consumer_key": "ck_0123456789abcdef",
    "consumer_secret": "cs_0123456789abcdef",
}
MUGS = [Line("MUG-350", "Kubek", 2, "49.99")]
TRACKING = "620000000000001234567890"


@pytest.fixture
def simulator() -> Iterator[WooCommerceSimulator]:
    simulator = WOOCOMMERCE.simulator_class().from_secret(SECRET)
    simulator.start()
    try:
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture
def secret(simulator: WooCommerceSimulator) -> dict[str, str]:
    return {**SECRET, "api_url": simulator.base_url}


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0, follow_redirects=False) as client:
        yield client


def shipment(order_id: int, *, complete: bool = True) -> ShipmentPush:
    return ShipmentPush(
        shipment_id="shp-1",
        order_id="ord-1",
        channel="woocommerce",
        external_id=str(order_id),
        carrier="InPost",
        tracking_number=TRACKING,
        tracking_url=f"https://inpost.pl/sledzenie-przesylek?number={TRACKING}",
        shipped_at=datetime(2026, 5, 4, 12, 0, tzinfo=UTC),
        lines=[ShipmentLine(line_no=1, quantity=2, channel_line_id=f"{order_id}01")],
        complete=complete,
    )


def basic(secret: dict[str, str]) -> str:
    pair = f"{secret['consumer_key']}:{secret['consumer_secret']}".encode()
    return "Basic " + base64.b64encode(pair).decode()


# -- the channel client ----------------------------------------------------------------------


def test_a_shipment_is_told_with_the_documented_requests(
    simulator: WooCommerceSimulator, secret: dict[str, str], http: httpx.Client
) -> None:
    # Given a paid order in the store
    simulator.put(simulator.order(7001, MUGS, paid=True))
    client = WOOCOMMERCE.channel_client_factory().from_secret(secret, http)
    # When its only shipment is pushed
    reference = client.push_shipment(shipment(7001))
    # Then: notes looked at, one customer note added, the order completed, all with Basic auth
    calls = [(r["method"], r["path"], r["json"]) for r in simulator.requests]
    assert calls == [
        ("GET", "/wp-json/wc/v3/orders/7001/notes", None),
        (
            "POST",
            "/wp-json/wc/v3/orders/7001/notes",
            {
                "note": f"Shipped via InPost, tracking number {TRACKING} "
                f"https://inpost.pl/sledzenie-przesylek?number={TRACKING}",
                "customer_note": True,
            },
        ),
        ("GET", "/wp-json/wc/v3/orders/7001", None),
        ("PUT", "/wp-json/wc/v3/orders/7001", {"status": "completed"}),
    ]
    for served in simulator.requests:
        headers = {k.lower(): v for k, v in served["headers"].items()}
        assert headers["authorization"] == basic(secret)
        assert served["query"] == {}  # the keys never go in the query string
    assert reference == str(simulator.notes(7001)[0]["id"])
    assert simulator.stored(7001)["status"] == "completed"


def test_a_repeated_push_finds_its_note_and_creates_nothing(
    simulator: WooCommerceSimulator, secret: dict[str, str], http: httpx.Client
) -> None:
    simulator.put(simulator.order(7002, MUGS, paid=True))
    client = WOOCOMMERCE.channel_client_factory().from_secret(secret, http)
    first = client.push_shipment(shipment(7002))
    served = len(simulator.requests)
    # When the same push is retried
    again = client.push_shipment(shipment(7002))
    # Then the same note is named, no second one is made, and a completed order is left alone
    assert again == first
    assert len(simulator.notes(7002)) == 1
    assert [(r["method"], r["path"]) for r in simulator.requests[served:]] == [
        ("GET", "/wp-json/wc/v3/orders/7002/notes"),
        ("GET", "/wp-json/wc/v3/orders/7002"),
    ]


def test_a_push_that_failed_after_its_note_completes_on_retry(
    simulator: WooCommerceSimulator, secret: dict[str, str], http: httpx.Client
) -> None:
    simulator.put(simulator.order(7003, MUGS, paid=True))
    client = WOOCOMMERCE.channel_client_factory().from_secret(secret, http)
    # Given the note is added, then the store answers 503 with Retry-After
    original = simulator.answer
    calls = {"n": 0}

    def flaky(method: str, target: str, headers: Any, raw: bytes) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            simulator.fail_next(503, retry_after="7")
        return original(method, target, headers, raw)

    simulator.answer = flaky  # type: ignore[method-assign]
    with pytest.raises(ChannelUnavailable) as unavailable:
        client.push_shipment(shipment(7003))
    assert unavailable.value.retry_after == 7.0
    assert simulator.stored(7003)["status"] == "processing"
    # When the push is retried: the note is found, and the order completed
    reference = client.push_shipment(shipment(7003))
    assert len(simulator.notes(7003)) == 1
    assert reference == str(simulator.notes(7003)[0]["id"])
    assert simulator.stored(7003)["status"] == "completed"


def test_an_unknown_order_is_rejected(secret: dict[str, str], http: httpx.Client) -> None:
    client = WOOCOMMERCE.channel_client_factory().from_secret(secret, http)
    with pytest.raises(ChannelRejected, match="404 woocommerce_rest_shop_order_invalid_id"):
        client.push_shipment(shipment(7999))


def test_without_credentials_the_api_answers_401_as_woocommerce(
    simulator: WooCommerceSimulator, http: httpx.Client
) -> None:
    response = http.get(f"{simulator.base_url}/wp-json/wc/v3/orders")
    assert response.status_code == 401
    assert response.json() == {
        "code": "woocommerce_rest_cannot_view",
        "message": "Sorry, you cannot list resources.",
        "data": {"status": 401},
    }


# -- the repair poll -------------------------------------------------------------------------


class _Inbox:
    def __init__(self) -> None:
        self.entries: dict[str, InboxEntry] = {}

    def record(self, entry: InboxEntry) -> bool:
        if entry.event_id in self.entries:
            return False
        self.entries[entry.event_id] = entry
        return True


class _Cursors:
    def __init__(self) -> None:
        self.value: str | None = None
        self.moves: list[str] = []

    def get(self, source: str) -> str | None:
        return self.value

    def advance(self, source: str, *, start: str | None, to: str, at: datetime) -> bool:
        assert start == self.value
        self.value = to
        self.moves.append(to)
        return True


def test_a_dropped_webhook_is_repaired_by_the_poll_and_the_other_dedupes(
    simulator: WooCommerceSimulator, secret: dict[str, str], http: httpx.Client
) -> None:
    adapter = WOOCOMMERCE.load_adapter()
    inbox, cursors = _Inbox(), _Cursors()
    # Given one order whose webhook arrived, and one whose webhook was dropped
    delivered = simulator.put(simulator.order(8001, MUGS, paid=True))
    signed = simulator.webhook("order.created", delivered)
    arrived = WebhookRequest(Headers(signed.headers), signed.body, datetime.now(UTC))
    authenticate(adapter, arrived, secret)
    assert record(adapter, arrived, inbox).receipt is Receipt.ACCEPTED
    dropped = simulator.put(simulator.order(8002, MUGS, cash_on_delivery=True))
    # When the repair poll runs
    report = pull(
        adapter, secrets=secret, cursors=cast(CursorRepository, cursors), inbox=inbox, http=http
    )
    # Then the dropped one is in the inbox, the delivered one is a duplicate
    assert report.receipts == {"accepted": 1, "duplicate": 1}
    assert set(inbox.entries) == {
        signed_key(delivered),
        signed_key(dropped),
    }
    repaired = inbox.entries[signed_key(dropped)]
    assert repaired.event_kind == "order"
    assert repaired.topic == "order.updated"
    assert repaired.headers == {"X-Orderhub-Fetched": "poll"}
    assert cursors.value == dropped["date_modified_gmt"]
    (listing,) = [r for r in simulator.requests if r["path"] == "/wp-json/wc/v3/orders"]
    assert listing["query"]["orderby"] == "modified"
    assert listing["query"]["dates_are_gmt"] == "true"


def test_the_poll_pages_through_a_backlog(
    simulator: WooCommerceSimulator, secret: dict[str, str], http: httpx.Client
) -> None:
    adapter = WOOCOMMERCE.load_adapter()
    inbox, cursors = _Inbox(), _Cursors()
    for order_id in range(1, 206):  # a bulk edit: all in one second or two
        simulator.put(simulator.order(order_id, MUGS))
    report = pull(
        adapter, secrets=secret, cursors=cast(CursorRepository, cursors), inbox=inbox, http=http
    )
    assert len(inbox.entries) == 205
    assert report.pages >= 3
    assert report.receipts["accepted"] == 205
    assert all(r["query"]["per_page"] == "100" for r in simulator.requests)
    assert cursors.value is not None
    assert "#page=" not in cursors.value  # the run ended on the last page


def signed_key(order: dict[str, Any]) -> str:
    moment = datetime.fromisoformat(order["date_modified_gmt"]).replace(tzinfo=UTC)
    return f"order-{order['id']}-{int(moment.timestamp()) * 1000}"
