"""PUT /api/v1/stock/{sku} (set a warehouse's counted quantity) and GET /api/v1/stock/{sku}."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, ConfigDict, Field

from functions.api.contract import requires, responses
from functions.api.settings import platform
from shared.kernel.sku import Sku
from shared.platform.clock import utc_now
from shared.platform.http import HttpResponse, error_response, json_response
from shared.stock.domain import StockLevel, WarehouseId
from shared.stock.wiring import stock_store

router = APIGatewayHttpRouter()
MAX_ON_HAND = 10_000_000
# A SKU is at most 255 characters (1020 bytes of UTF-8): its key stays under DynamoDB's 2048.
SkuPath = Annotated[Sku, Path(description="The shop's SKU, e.g. `MUG-KRAKOW-350`.")]


class SetStock(BaseModel):
    model_config = ConfigDict(extra="forbid")

    warehouse: WarehouseId
    on_hand: Annotated[
        int,
        Field(ge=0, le=MAX_ON_HAND, strict=True, description="Counted units in the warehouse."),
    ]


class WarehouseStock(BaseModel):
    warehouse: str
    on_hand: int
    reserved: int
    available: int = Field(description="on_hand - reserved")


class StockView(BaseModel):
    sku: str
    on_hand: int
    reserved: int
    available: int
    warehouses: list[WarehouseStock]


def stock_view(sku: str, levels: list[StockLevel]) -> dict[str, object]:
    return {
        "sku": sku,
        "on_hand": sum(level.on_hand for level in levels),
        "reserved": sum(level.reserved for level in levels),
        "available": sum(level.available for level in levels),
        "warehouses": [
            {
                "warehouse": level.warehouse,
                "on_hand": level.on_hand,
                "reserved": level.reserved,
                "available": level.available,
            }
            for level in sorted(levels, key=lambda lvl: lvl.warehouse)
        ],
    }


@router.put(
    "/api/v1/stock/<sku>",
    summary="Set the counted units of a SKU in one warehouse",
    security=requires("stock:write"),
    responses=responses(
        StockView,
        "The SKU's stock after the change",
        400,
        401,
        403,
        409,
        415,
        s409="`invalid_stock_level`: the level kept changing; try again",
    ),
)
def set_stock(sku: SkuPath, body: Annotated[SetStock, Body()]) -> HttpResponse:
    stock = stock_store(platform())
    stock.set_on_hand(sku, body.warehouse, body.on_hand, at=utc_now())
    return json_response(200, stock_view(sku, stock.levels(sku)))


@router.get(
    "/api/v1/stock/<sku>",
    summary="A SKU's stock, in total and per warehouse",
    security=requires("stock:read"),
    responses=responses(
        StockView,
        "The SKU's stock",
        400,
        401,
        403,
        404,
        s404="`sku_not_found`: no stock is recorded for the SKU",
    ),
)
def get_stock(sku: SkuPath) -> HttpResponse:
    levels = stock_store(platform()).levels(sku)
    if not levels:
        return error_response(404, "sku_not_found", f"no stock is recorded for {sku}")
    return json_response(200, stock_view(sku, levels))
