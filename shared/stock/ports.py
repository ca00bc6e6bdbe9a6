"""What other code needs from the stock context's store, as a Protocol (StockRepository and
the unit tests' fake satisfy it). `reserve` and `release` are staged into an order change by
the named operations in shared/fulfilment/transactions.py."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from shared.platform.table import Transaction
from shared.stock.domain import Allocation, StockLevel


class StockStore(Protocol):
    def levels(self, sku: str) -> list[StockLevel]: ...

    def reserve(
        self, txn: Transaction, order_id: str, allocation: Allocation, *, at: datetime
    ) -> tuple[int, int]:
        """Add `available >= quantity` stock update and the reservation item to `txn`."""
        ...

    def release(
        self, txn: Transaction, order_id: str, allocation: Allocation, *, at: datetime
    ) -> None: ...

    def adjust(
        self, txn: Transaction, order_id: str, held: Allocation, quantity: int, *, at: datetime
    ) -> None:
        """Change a reservation's quantity in place (`available >= more` when it grows)."""
        ...

    def ship(
        self, txn: Transaction, order_id: str, held: Allocation, quantity: int, *, at: datetime
    ) -> None:
        """Units of a reservation left: out of on_hand and reserved, the reservation shrinks."""
        ...
