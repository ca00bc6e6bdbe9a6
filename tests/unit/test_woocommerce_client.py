"""WooCommerceStatus: the push's requests and the error policy, in process (MockTransport into
the simulated store). The same over 127.0.0.1: tests/integration/test_woocommerce_client.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from shared.channels.http import retry_after
from shared.channels.push import ChannelRejected, ChannelUnavailable, ShipmentLine, ShipmentPush
from shared.providers.channels.woocommerce.client import (
    WooCommerceStatus,
    names_tracking_number,
)
from shared.providers.channels.woocommerce.simulator import WooCommerceSimulator
from shared.providers.simulation import Line

SECRETS = {
    "webhook_secret": "whsec",
    "consumer_key": "ck_test",
    "consumer_secret": "cs_test",
    "api_url": "http://127.0.0.1:8999",
}


def push(
    order_id: int = 4001, *, tracking: str = "620000000000001234567890", complete: bool = True
) -> ShipmentPush:
    return ShipmentPush(
        shipment_id="shp-1",
        order_id="ord-1",
        channel="woocommerce",
        external_id=str(order_id),
        carrier="inpost",
        tracking_number=tracking,
        tracking_url=f"https://inpost.pl/sledzenie-przesylek?number={tracking}",
        shipped_at=datetime(2026, 5, 4, 12, 0, tzinfo=UTC),
        lines=[ShipmentLine(line_no=1, quantity=1, channel_line_id="400101")],
        complete=complete,
    )


@pytest.fixture
def simulator() -> WooCommerceSimulator:
    simulator = WooCommerceSimulator("whsec", "ck_test", "cs_test")
    simulator.put(simulator.order(4001, [Line("MUG", "Kubek", 1, "49.99")], paid=True))
    return simulator


@pytest.fixture
def client(simulator: WooCommerceSimulator) -> Iterator[WooCommerceStatus]:
    def handle(request: httpx.Request) -> httpx.Response:
        answer = simulator.answer(
            request.method, request.url.raw_path.decode(), dict(request.headers), request.content
        )
        return httpx.Response(answer.status, json=answer.body, headers=answer.headers)

    with httpx.Client(transport=httpx.MockTransport(handle)) as http:
        yield WooCommerceStatus.from_secret(SECRETS, http)


def test_a_shipment_is_a_customer_note_and_completes_the_order(
    simulator: WooCommerceSimulator, client: WooCommerceStatus
) -> None:
    reference = client.push_shipment(push())
    (note,) = simulator.notes(4001)
    assert reference == str(note["id"])
    assert note["customer_note"] is True
    assert note["note"] == (
        "Shipped via inpost, tracking number 620000000000001234567890 "
        "https://inpost.pl/sledzenie-przesylek?number=620000000000001234567890"
    )
    assert simulator.stored(4001)["status"] == "completed"
    assert [(r["method"], r["path"]) for r in simulator.requests] == [
        ("GET", "/wp-json/wc/v3/orders/4001/notes"),
        ("POST", "/wp-json/wc/v3/orders/4001/notes"),
        ("GET", "/wp-json/wc/v3/orders/4001"),
        ("PUT", "/wp-json/wc/v3/orders/4001"),
    ]
    assert simulator.requests[3]["json"] == {"status": "completed"}


def test_a_partial_shipment_leaves_the_status(
    simulator: WooCommerceSimulator, client: WooCommerceStatus
) -> None:
    client.push_shipment(push(complete=False))
    assert simulator.stored(4001)["status"] == "processing"


def test_a_cancelled_order_keeps_its_status(
    simulator: WooCommerceSimulator, client: WooCommerceStatus
) -> None:
    simulator.put({**simulator.stored(4001), "status": "cancelled"})
    client.push_shipment(push())
    assert simulator.stored(4001)["status"] == "cancelled"
    assert len(simulator.notes(4001)) == 1


@pytest.mark.parametrize(
    ("note", "tracking", "found"),
    [
        ("Shipped via dpd, tracking number 1234 https://x", "1234", True),
        ("Nadano: 1234.", "1234", True),
        ("tracking 912345 sent", "1234", False),
        ("ABC1234", "1234", False),
    ],
)
def test_a_tracking_number_is_matched_as_a_whole_token(
    note: str, tracking: str, found: bool
) -> None:
    assert names_tracking_number(note, tracking) is found


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (404, ChannelRejected),
        (400, ChannelRejected),
        (429, ChannelUnavailable),
        (503, ChannelUnavailable),
    ],
)
def test_errors_follow_the_push_policy(
    simulator: WooCommerceSimulator, client: WooCommerceStatus, status: int, error: type[Exception]
) -> None:
    simulator.fail_next(status, retry_after="30")
    with pytest.raises(error) as raised:
        client.push_shipment(push())
    if isinstance(raised.value, ChannelUnavailable):
        assert raised.value.retry_after == 30.0


def test_an_unknown_order_is_rejected_with_woocommerces_code(client: WooCommerceStatus) -> None:
    with pytest.raises(ChannelRejected, match="woocommerce_rest_shop_order_invalid_id"):
        client.push_shipment(push(4999))


def test_wrong_keys_are_rejected() -> None:
    simulator = WooCommerceSimulator("whsec", "ck_test", "cs_other")

    def handle(request: httpx.Request) -> httpx.Response:
        answer = simulator.answer(
            request.method, request.url.raw_path.decode(), dict(request.headers), request.content
        )
        return httpx.Response(answer.status, json=answer.body, headers=answer.headers)

    with httpx.Client(transport=httpx.MockTransport(handle)) as http:
        client = WooCommerceStatus.from_secret(SECRETS, http)
        with pytest.raises(ChannelRejected, match="woocommerce_rest_authentication_error"):
            client.push_shipment(push())


def test_a_timeout_is_unavailable() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with httpx.Client(transport=httpx.MockTransport(handle)) as http:
        client = WooCommerceStatus.from_secret(SECRETS, http)
        with pytest.raises(ChannelUnavailable, match="ReadTimeout"):
            client.push_shipment(push())


def test_a_secret_without_keys_or_https_is_rejected() -> None:
    with httpx.Client() as http:
        with pytest.raises(ChannelRejected, match="consumer_key"):
            WooCommerceStatus.from_secret({"api_url": "https://sklep.example"}, http)
        with pytest.raises(ChannelRejected, match="https"):
            WooCommerceStatus.from_secret({**SECRETS, "api_url": "http://sklep.example"}, http)


def test_an_order_id_that_is_not_woocommerces_is_rejected(client: WooCommerceStatus) -> None:
    with pytest.raises(ChannelRejected):
        client.push_shipment(push().model_copy(update={"external_id": "../orders"}))


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("120", 120.0), ("-5", 0.0), ("nan", None), ("junk", None), ("999999", 3600.0)],
)
def test_retry_after_is_read_as_seconds(header: str, seconds: float | None) -> None:
    response = httpx.Response(429, headers={"Retry-After": header})
    assert retry_after(response) == seconds


def test_retry_after_as_an_http_date() -> None:
    response = httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    assert retry_after(response) == 0.0  # long past
