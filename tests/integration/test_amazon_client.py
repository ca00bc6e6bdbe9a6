"""Amazon's channel client (built by the registry) against the served simulator over
127.0.0.1: the confirmShipment request as Amazon documents it, and idempotency."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from shared import registry
from shared.channels.push import (
    ChannelRejected,
    ChannelUnavailable,
    ShipmentLine,
    ShipmentPush,
)
from shared.providers.channels.amazon.client import package_reference
from shared.providers.channels.amazon.simulator import AmazonSimulator, asin_of
from shared.providers.simulation import Line

AMAZON = registry.provider("amazon")
SHIPPED_AT = datetime(2026, 11, 30, 14, 5, 9, 123000, tzinfo=UTC)


@pytest.fixture
def secret() -> dict[str, str]:
    return {
        "lwa_client_id": "amzn1.application-oa2-client.shipments",
        "lwa_client_secret": "amzn1.oa2-cs.v1.shipments",
        "refresh_token": f"Atzr|{uuid.uuid4()}",
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


def client_for(secret: dict[str, str], http: httpx.Client) -> Any:
    return AMAZON.channel_client_factory().from_secret(secret, http)


def push_of(
    amazon: AmazonSimulator,
    order_id: str,
    *,
    shipment_id: str = "shp_01JD5Q7Z3N8W2X",
    carrier: str = "inpost",
    lines: list[ShipmentLine] | None = None,
) -> ShipmentPush:
    """Every item of the order in one shipment, named by its OrderItemId."""
    items = amazon.items(order_id)
    return ShipmentPush(
        shipment_id=shipment_id,
        order_id="ord_01JD5Q7Z3N8W2X",
        channel="amazon",
        external_id=order_id,
        channel_refs={"marketplace_id": amazon.order(order_id)["MarketplaceId"]},
        carrier=carrier,
        tracking_number="682000012345678901234567",
        shipped_at=SHIPPED_AT,
        lines=lines
        if lines is not None
        else [
            ShipmentLine(line_no=n, quantity=i["QuantityOrdered"], channel_line_id=i["OrderItemId"])
            for n, i in enumerate(items, start=1)
        ],
        complete=True,
    )


def confirmations(amazon: AmazonSimulator) -> list[dict[str, Any]]:
    return [r for r in amazon.requests if r["path"].endswith("/shipmentConfirmation")]


def test_a_shipment_is_confirmed_with_the_documented_request(
    amazon: AmazonSimulator, secret: dict[str, str], http: httpx.Client
) -> None:
    # Given a paid order of two items on Amazon.pl
    order_id = amazon.place_order(
        [Line("MUG-350", "Mug", 2, "49.99"), Line("TEA", "Tea", 1, "9.99")]
    )
    items = amazon.items(order_id)
    push = push_of(amazon, order_id)

    # When the shipment is pushed
    reference = client_for(secret, http).push_shipment(push)

    # Then one confirmShipment was sent, shaped as ConfirmShipmentRequest, with the LWA token
    assert reference == package_reference(push.shipment_id)
    [sent] = confirmations(amazon)
    assert sent["method"] == "POST"
    assert sent["path"] == f"/orders/v0/orders/{order_id}/shipmentConfirmation"
    assert sent["headers"]["x-amz-access-token"].startswith("Atza|")
    assert sent["json"] == {
        "marketplaceId": "A1C3SOZRARQ6R3",
        "packageDetail": {
            "packageReferenceId": reference,
            "carrierCode": "InPost",
            "trackingNumber": "682000012345678901234567",
            "shipDate": "2026-11-30T14:05:09.123Z",
            "orderItems": [
                {"orderItemId": items[0]["OrderItemId"], "quantity": 2},
                {"orderItemId": items[1]["OrderItemId"], "quantity": 1},
            ],
        },
    }
    # And Amazon now has the order shipped
    assert amazon.order(order_id)["OrderStatus"] == "Shipped"
    assert len(amazon.packages(order_id)) == 1


def test_pushing_the_same_shipment_again_sends_nothing(
    amazon: AmazonSimulator, secret: dict[str, str], http: httpx.Client
) -> None:
    order_id = amazon.place_order([Line("MUG-350", "Mug", 1, "49.99")])
    push = push_of(amazon, order_id)
    client = client_for(secret, http)
    first = client.push_shipment(push)

    again = client.push_shipment(push)

    # The order reads Shipped with nothing unshipped: the same reference, no second package
    assert again == first
    assert len(confirmations(amazon)) == 1
    assert len(amazon.packages(order_id)) == 1


def test_a_package_amazon_already_has_is_done_when_amazon_says_so(
    amazon: AmazonSimulator, secret: dict[str, str], http: httpx.Client
) -> None:
    # Given an order of two items whose first package was confirmed (the answer got lost)
    order_id = amazon.place_order(
        [Line("MUG-350", "Mug", 1, "49.99"), Line("TEA", "Tea", 1, "9.99")]
    )
    first_item = amazon.items(order_id)[0]["OrderItemId"]
    line = ShipmentLine(line_no=1, quantity=1, channel_line_id=first_item)
    push = push_of(amazon, order_id, lines=[line])
    client = client_for(secret, http)
    reference = client.push_shipment(push)
    assert amazon.order(order_id)["OrderStatus"] == "PartiallyShipped"

    # When the same package is pushed again, Amazon refuses it as already fulfilled
    again = client.push_shipment(push)

    # Then that refusal is the answer: done, one package
    assert again == reference
    assert len(confirmations(amazon)) == 2
    assert len(amazon.packages(order_id)) == 1


def test_an_unlisted_carrier_is_other_with_its_name(
    amazon: AmazonSimulator, secret: dict[str, str], http: httpx.Client
) -> None:
    order_id = amazon.place_order([Line("MUG-350", "Mug", 1, "49.99")])

    client_for(secret, http).push_shipment(push_of(amazon, order_id, carrier="poczta_polska"))

    [sent] = confirmations(amazon)
    detail = sent["json"]["packageDetail"]
    assert (detail["carrierCode"], detail["carrierName"]) == ("Other", "Poczta Polska")


def test_lines_without_an_order_item_id_are_found_by_asin_or_sku(
    amazon: AmazonSimulator, secret: dict[str, str], http: httpx.Client
) -> None:
    order_id = amazon.place_order(
        [Line("MUG-350", "Mug", 1, "49.99"), Line("TEA", "Tea", 2, "9.99")]
    )
    items = {i["SellerSKU"]: i["OrderItemId"] for i in amazon.items(order_id)}
    lines = [
        ShipmentLine(line_no=1, quantity=1, listing_id=asin_of("MUG-350")),
        ShipmentLine(line_no=2, quantity=2, sku="TEA"),
    ]

    client_for(secret, http).push_shipment(push_of(amazon, order_id, lines=lines))

    [sent] = confirmations(amazon)
    assert sent["json"]["packageDetail"]["orderItems"] == [
        {"orderItemId": items["MUG-350"], "quantity": 1},
        {"orderItemId": items["TEA"], "quantity": 2},
    ]


def test_a_shipment_without_lines_ships_every_unit_left(
    amazon: AmazonSimulator, secret: dict[str, str], http: httpx.Client
) -> None:
    order_id = amazon.place_order([Line("MUG-350", "Mug", 3, "49.99")])

    client_for(secret, http).push_shipment(push_of(amazon, order_id, lines=[]))

    assert amazon.order(order_id)["OrderStatus"] == "Shipped"


def test_a_cancelled_order_is_refused_for_good(
    amazon: AmazonSimulator, secret: dict[str, str], http: httpx.Client
) -> None:
    order_id = amazon.place_order([Line("MUG-350", "Mug", 1, "49.99")])
    push = push_of(amazon, order_id)
    amazon.cancel(order_id)

    with pytest.raises(ChannelRejected, match="cancelled"):
        client_for(secret, http).push_shipment(push)
    assert confirmations(amazon) == []


def test_an_unknown_order_or_item_is_refused(
    amazon: AmazonSimulator, secret: dict[str, str], http: httpx.Client
) -> None:
    order_id = amazon.place_order([Line("MUG-350", "Mug", 1, "49.99")])
    client = client_for(secret, http)
    stranger = ShipmentLine(line_no=1, quantity=1, channel_line_id="00000000000000")

    with pytest.raises(ChannelRejected, match="404"):
        client.push_shipment(
            push_of(amazon, order_id).model_copy(update={"external_id": "123-0000000-0000000"})
        )
    with pytest.raises(ChannelRejected, match="OrderItemId"):
        client.push_shipment(push_of(amazon, order_id, lines=[stranger]))


def test_rate_limits_and_outages_are_retried_later(
    amazon: AmazonSimulator, secret: dict[str, str], http: httpx.Client
) -> None:
    order_id = amazon.place_order([Line("MUG-350", "Mug", 1, "49.99")])
    push = push_of(amazon, order_id)
    client = client_for(secret, http)
    amazon.rate_limit(1, operation="confirmShipment")

    with pytest.raises(ChannelUnavailable) as raised:
        client.push_shipment(push)
    assert raised.value.retry_after == 0.5  # confirmShipment: 2 requests a second

    assert client.push_shipment(push) == package_reference(push.shipment_id)
    amazon.stop()
    with pytest.raises(ChannelUnavailable):
        client.push_shipment(push)


def test_credentials_amazon_refuses_are_a_rejection(
    amazon: AmazonSimulator, secret: dict[str, str], http: httpx.Client
) -> None:
    order_id = amazon.place_order([Line("MUG-350", "Mug", 1, "49.99")])
    client = client_for({**secret, "lwa_client_secret": "wrong"}, http)

    with pytest.raises(ChannelRejected, match="invalid_client"):
        client.push_shipment(push_of(amazon, order_id))
