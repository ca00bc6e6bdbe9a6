"""POST /api/v1/orders/{order_id}/shipments (a shop whose warehouse system ships records the
parcel here; the order's channel is then told, with its tracking number) and GET of them."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel

from functions.api.contract import requires, responses
from functions.api.orders import ORDER_ID_PATTERN
from functions.api.settings import platform
from shared.kernel.errors import OrderNotFound
from shared.orders.wiring import order_store
from shared.platform.http import HttpResponse, json_response
from shared.shipping.events import ShippedLine
from shared.shipping.shipments import ShipmentRecords, ShipmentRequest
from shared.shipping.wiring import shipments

router = APIGatewayHttpRouter()
OrderId = Annotated[str, Path(pattern=ORDER_ID_PATTERN, description="e.g. `ord_01M8...`")]


class ShipmentView(BaseModel):
    shipment_id: str
    carrier: str
    tracking_number: str
    tracking_url: str | None
    lines: list[ShippedLine]
    complete: bool
    created_at: str
    channel_notified: bool
    channel_reference: str | None


class ShipmentList(BaseModel):
    items: list[ShipmentView]


@router.post(
    "/api/v1/orders/<order_id>/shipments",
    summary="Record a shipment (carrier, tracking number, lines); the channel is told",
    description="For shops whose warehouse system ships. The order must be `ready_to_ship` and "
    "not held; `lines` omitted ships everything left. The same tracking number again is the "
    "same shipment (200, nothing recorded twice). Units leave stock (on hand and reserved); "
    "the order is `shipped` once every line has shipped; `ShipmentCreated` is emitted and the "
    "order's channel (Shopify, WooCommerce, Allegro, Amazon) gets the tracking number.",
    security=requires("orders:write"),
    responses=responses(
        ShipmentView,
        "The shipment, recorded now",
        400,
        401,
        403,
        404,
        409,
        415,
        success=201,
        s409="`not_shippable`: the order is not ready to ship, is held, or the lines do not fit",
    ),
)
def create_shipment(order_id: OrderId, body: Annotated[ShipmentRequest, Body()]) -> HttpResponse:
    shipment, created = shipments(platform()).record(order_id, body, actor="api")
    return json_response(
        201 if created else 200,
        shipment.view(),
        headers={"Location": f"/api/v1/orders/{order_id}/shipments"},
    )


@router.get(
    "/api/v1/orders/<order_id>/shipments",
    summary="An order's shipments, and whether its channel was told",
    security=requires("orders:read"),
    responses=responses(ShipmentList, "The shipments, oldest first", 400, 401, 403, 404),
)
def list_shipments(order_id: OrderId) -> HttpResponse:
    base = platform()
    if order_store(base).get(order_id) is None:
        raise OrderNotFound(order_id)
    items = ShipmentRecords(base.table).of_order(order_id)
    return json_response(200, {"items": [shipment.view() for shipment in items]})
