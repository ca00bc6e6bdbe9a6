"""Stock levels and allocation: which warehouse serves which SKU of an order."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

WarehouseId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]


class StockLevel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sku: str
    warehouse: WarehouseId
    on_hand: int
    reserved: int = Field(ge=0)

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class Allocation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sku: str
    warehouse: WarehouseId
    quantity: int = Field(ge=1)


class Shortage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sku: str
    requested: int
    available: int

    def describe(self) -> str:
        if self.available <= 0 and self.requested > 0:
            return f"{self.sku}: {self.requested} requested, none available"
        return f"{self.sku}: {self.requested} requested, {self.available} available"


def allocate(
    demand: dict[str, int], levels: dict[str, list[StockLevel]]
) -> tuple[list[Allocation], list[Shortage]]:
    """Serve each SKU from one warehouse: the one with the most available units that covers it.

    A SKU no single warehouse covers is a shortage; the order is then backordered as a whole
    (no partial shipments yet), so allocations are only meaningful when shortages is empty.
    """
    allocations: list[Allocation] = []
    shortages: list[Shortage] = []
    for sku in sorted(demand):
        wanted = demand[sku]
        candidates = sorted(levels.get(sku, []), key=lambda lvl: (-lvl.available, lvl.warehouse))
        best = candidates[0] if candidates else None
        if best is not None and best.available >= wanted:
            allocations.append(Allocation(sku=sku, warehouse=best.warehouse, quantity=wanted))
        else:
            total_available = sum(max(lvl.available, 0) for lvl in candidates)
            shortages.append(Shortage(sku=sku, requested=wanted, available=total_available))
    return allocations, shortages
