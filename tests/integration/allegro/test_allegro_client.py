"""Allegro's push client over real HTTP on 127.0.0.1: the registry's factory against the
simulator; the shipment and fulfillment requests asserted against Allegro's documented shape,
and the push idempotent."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from shared.channels.push import (
    ChannelRejected,
    ChannelUnavailable,
    ShipmentLine,
    ShipmentPush,
)
from shared.inbox.contract import Headers, WebhookRequest
from shared.orders.domain import Order
from shared.orders.inbound import OrderReported
from shared.providers.channels.allegro.api import MEDIA_TYPE, Pacer
from shared.providers.channels.allegro.client import AllegroFulfilment, carrier_id
from shared.providers.channels.allegro.journal import AllegroOrderJournal
from shared.providers.channels.allegro.simulator import AllegroSimulator
from shared.providers.simulation import Line
from tests.integration.allegro.conftest import ALLEGRO, MUG

TEA = Line("TEA-EARL-100", "Herbata Earl Grey", 1, "19.99")
WAYBILL = "620111222333444555666777"


@pytest.fixture
def saved(secret: dict[str, str]) -> list[dict[str, str]]:
    return []


@pytest.fixture
def client(
    secret: dict[str, str], http: httpx.Client, saved: list[dict[str, str]]
) -> AllegroFulfilment:
    def save_secret(fields: dict[str, str]) -> None:
        saved.append(fields)
        secret.update(fields)

    built: AllegroFulfilment = ALLEGRO.channel_client_factory().from_secret(
        secret, http, save_secret=save_secret
    )
    return built


def imported(simulator: AllegroSimulator, secret: dict[str, str], http: httpx.Client) -> Order:
    """The order as the journal imported it (its channel_refs carry Allegro's revision)."""
    journal = AllegroOrderJournal(pacer=Pacer(0))
    result = journal.poll(secret, "start", http)
    secret.update(result.secret_update or {})
    last = result.deliveries[-1]
    event = journal.parse(WebhookRequest(Headers({}), last.raw_body, datetime.now(UTC))).event
    assert isinstance(event, OrderReported)
    return event.order


def a_push(
    order: Order, *, carrier: str = "InPost", lines: list[int] | None = None, complete: bool = True
) -> ShipmentPush:
    chosen = [line for line in order.lines if lines is None or line.line_no in lines]
    return ShipmentPush(
        shipment_id="shp_01",
        order_id="ord_01",
        channel="allegro",
        external_id=order.external_id,
        channel_refs=order.channel_refs,
        carrier=carrier,
        tracking_number=WAYBILL,
        shipped_at=datetime.now(UTC),
        lines=[
            ShipmentLine(
                line_no=line.line_no,
                quantity=line.quantity,
                sku=line.sku,
                listing_id=line.listing_id,
                channel_line_id=line.channel_line_id,
            )
            for line in chosen
        ],
        complete=complete,
    )


def calls(simulator: AllegroSimulator, since: int = 0) -> list[tuple[str, str]]:
    return [
        (r["method"], r["path"])
        for r in simulator.requests[since:]
        if not r["path"].startswith("/auth/")
    ]


def the(simulator: AllegroSimulator, method: str, suffix: str) -> list[dict[str, Any]]:
    return [r for r in simulator.requests if r["method"] == method and r["path"].endswith(suffix)]


def test_a_shipment_adds_the_waybill_and_marks_the_order_sent(
    simulator: AllegroSimulator,
    secret: dict[str, str],
    http: httpx.Client,
    client: AllegroFulfilment,
) -> None:
    # Given an imported order for two lines
    form_id = simulator.buy([MUG, TEA])
    order = imported(simulator, secret, http)
    mark = len(simulator.requests)
    # When its one shipment is pushed
    reference = client.push_shipment(a_push(order))
    # Then Allegro was asked exactly what its docs describe
    form = f"/order/checkout-forms/{form_id}"
    assert calls(simulator, mark) == [
        ("GET", f"{form}/shipments"),
        ("POST", f"{form}/shipments"),
        ("PUT", f"{form}/fulfillment"),
    ]
    (post,) = the(simulator, "POST", "/shipments")
    assert post["headers"]["content-type"] == MEDIA_TYPE
    assert post["headers"]["accept"] == MEDIA_TYPE
    assert post["json"] == {
        "carrierId": "INPOST",
        "waybill": WAYBILL,
        "lineItems": [{"id": line.channel_line_id} for line in order.lines],
    }
    (put,) = the(simulator, "PUT", "/fulfillment")
    assert put["query"] == {"checkoutForm.revision": [order.channel_refs["revision"]]}
    assert put["json"] == {"status": "SENT", "shipmentSummary": {"lineItemsSent": "ALL"}}
    # and the reference is Allegro's shipment id
    (shipment,) = simulator.shipments(form_id)
    assert reference == shipment["id"]
    assert simulator.form(form_id)["fulfillment"] == {
        "status": "SENT",
        "shipmentSummary": {"lineItemsSent": "ALL"},
    }


def test_a_retried_push_finds_the_waybill_and_adds_nothing(
    simulator: AllegroSimulator,
    secret: dict[str, str],
    http: httpx.Client,
    client: AllegroFulfilment,
) -> None:
    form_id = simulator.buy([MUG])
    order = imported(simulator, secret, http)
    first = client.push_shipment(a_push(order))
    mark = len(simulator.requests)
    # When the same shipment is pushed again (the queue redelivered it)
    again = client.push_shipment(a_push(order))
    # Then the same reference, one shipment, and the status left as it is (already SENT)
    assert again == first
    assert len(simulator.shipments(form_id)) == 1
    assert calls(simulator, mark) == [
        ("GET", f"/order/checkout-forms/{form_id}/shipments"),
        ("GET", f"/order/checkout-forms/{form_id}"),
    ]


def test_a_retry_after_the_status_failed_sets_it(
    simulator: AllegroSimulator,
    secret: dict[str, str],
    http: httpx.Client,
    client: AllegroFulfilment,
) -> None:
    # Given the waybill was added but the status PUT never happened (the push failed there)
    form_id = simulator.buy([MUG])
    order = imported(simulator, secret, http)
    simulator.add_waybill(form_id, WAYBILL)
    # When the push is retried, Then the status follows, with the form's current revision
    client.push_shipment(a_push(order))
    assert len(simulator.shipments(form_id)) == 1
    assert simulator.form(form_id)["fulfillment"]["status"] == "SENT"


def test_a_form_changed_since_import_is_read_again_on_409(
    simulator: AllegroSimulator,
    secret: dict[str, str],
    http: httpx.Client,
    client: AllegroFulfilment,
) -> None:
    # Given the buyer changed the address after the order was imported (a new revision)
    form_id = simulator.buy([MUG])
    order = imported(simulator, secret, http)
    simulator.modify(form_id, street="Długa 5", city="Kraków", zip_code="31-147")
    mark = len(simulator.requests)
    # When the shipment is pushed with the imported revision
    client.push_shipment(a_push(order))
    # Then Allegro's 409 made the client read the form and PUT again with its revision
    form = f"/order/checkout-forms/{form_id}"
    assert calls(simulator, mark)[-3:] == [
        ("PUT", f"{form}/fulfillment"),
        ("GET", form),
        ("PUT", f"{form}/fulfillment"),
    ]
    puts = the(simulator, "PUT", "/fulfillment")
    assert puts[0]["query"]["checkoutForm.revision"] == [order.channel_refs["revision"]]
    assert puts[1]["query"]["checkoutForm.revision"] != puts[0]["query"]["checkoutForm.revision"]
    assert simulator.form(form_id)["fulfillment"]["status"] == "SENT"


def test_a_partial_shipment_names_its_lines_and_says_some(
    simulator: AllegroSimulator,
    secret: dict[str, str],
    http: httpx.Client,
    client: AllegroFulfilment,
) -> None:
    simulator.buy([MUG, TEA])
    order = imported(simulator, secret, http)
    client.push_shipment(a_push(order, lines=[2], complete=False))
    (post,) = the(simulator, "POST", "/shipments")
    assert post["json"]["lineItems"] == [{"id": order.lines[1].channel_line_id}]
    (put,) = the(simulator, "PUT", "/fulfillment")
    assert put["json"]["shipmentSummary"] == {"lineItemsSent": "SOME"}


def test_a_carrier_allegro_does_not_list_is_other_with_its_name(
    simulator: AllegroSimulator,
    secret: dict[str, str],
    http: httpx.Client,
    client: AllegroFulfilment,
) -> None:
    simulator.buy([MUG])
    order = imported(simulator, secret, http)
    carrier = "Kurier Lokalny Kraków Nowa Huta Express"
    client.push_shipment(a_push(order, carrier=carrier))
    (post,) = the(simulator, "POST", "/shipments")
    assert post["json"]["carrierId"] == "OTHER"
    assert post["json"]["carrierName"] == carrier[:30]  # Allegro's limit


@pytest.mark.parametrize(
    ("named", "expected"),
    [("inpost", "INPOST"), ("DPD", "DPD"), ("Poczta Polska", "POCZTA_POLSKA"), ("x", "OTHER")],
)
def test_carriers_map_to_allegros_dictionary(named: str, expected: str) -> None:
    assert carrier_id(named) == expected


def test_an_unknown_order_is_rejected(
    simulator: AllegroSimulator,
    secret: dict[str, str],
    http: httpx.Client,
    client: AllegroFulfilment,
) -> None:
    simulator.buy([MUG])
    order = imported(simulator, secret, http)
    push = a_push(order).model_copy(update={"external_id": "no-such-form"})
    with pytest.raises(ChannelRejected, match="404"):
        client.push_shipment(push)


def test_a_lasting_rate_limit_is_unavailable_with_retry_after(
    simulator: AllegroSimulator,
    secret: dict[str, str],
    http: httpx.Client,
    client: AllegroFulfilment,
) -> None:
    simulator.buy([MUG])
    order = imported(simulator, secret, http)
    simulator.throttle(10, retry_after=60)
    with pytest.raises(ChannelUnavailable) as raised:
        client.push_shipment(a_push(order))
    assert raised.value.retry_after == 60


def test_rotated_tokens_are_saved_back(
    simulator: AllegroSimulator,
    http: httpx.Client,
    secret: dict[str, str],
    client: AllegroFulfilment,
    saved: list[dict[str, str]],
) -> None:
    # Given the client refreshes itself (its own process: a secret without an access token)
    form_id = simulator.buy([MUG])
    order = imported(simulator, dict(secret), http)
    # When it pushes, Then the refresh token it got is saved into the secret, once
    client.push_shipment(a_push(order))
    client.push_shipment(a_push(order))
    assert len(saved) == 1
    assert saved[0]["refresh_token"] in simulator.live_refresh_tokens()
    assert simulator.form(form_id)["fulfillment"]["status"] == "SENT"
