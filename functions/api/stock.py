"""PUT /api/v1/stock/{sku} (set a warehouse's counted quantity) and GET /api/v1/stock/{sku}."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from functions.api.auth import require
from functions.api.settings import table
from shared.domain.order import Sku
from shared.domain.stock import StockLevel, WarehouseId
from shared.http import HttpResponse, error_response, json_response
from shared.services.clock import utc_now
from shared.store.stock import StockRepository

router = APIGatewayHttpRouter()
_sku = TypeAdapter(Sku)


class SetStock(BaseModel):
    model_config = ConfigDict(extra="forbid")

    warehouse: WarehouseId
    on_hand: Annotated[int, Field(ge=0, le=10_000_000, strict=True)]


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


@router.put("/api/v1/stock/<sku>", middlewares=[require("stock:write")])
def set_stock(sku: str) -> HttpResponse:
    sku = _sku.validate_python(sku)
    body = SetStock.model_validate_json(router.current_event.body or "")
    stock = StockRepository(table())
    stock.set_on_hand(sku, body.warehouse, body.on_hand, at=utc_now())
    return json_response(200, stock_view(sku, stock.levels(sku)))


@router.get("/api/v1/stock/<sku>", middlewares=[require("stock:read")])
def get_stock(sku: str) -> HttpResponse:
    sku = _sku.validate_python(sku)
    levels = StockRepository(table()).levels(sku)
    if not levels:
        return error_response(404, "sku_not_found", f"no stock is recorded for {sku}")
    return json_response(200, stock_view(sku, levels))
