"""The stock context's composition root."""

from __future__ import annotations

from shared.platform.wiring import Platform
from shared.stock.store import StockRepository


def stock_store(platform: Platform) -> StockRepository:
    return StockRepository(platform.table)
