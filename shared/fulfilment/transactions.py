"""The transactions that span orders and stock, named: the order moves on (reserved, or
cancelled) only together with the stock it holds or gives back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial

from shared.orders.ports import OrderStore
from shared.orders.store import Change, OrderState
from shared.platform.table import Transaction
from shared.stock.domain import Allocation
from shared.stock.ports import StockStore


def reserve_stock(
    orders: OrderStore,
    stock: StockStore,
    state: OrderState,
    change: Change,
    allocations: Sequence[Allocation],
    *,
    at: datetime,
) -> OrderState:
    """The order's change and every reservation at once (each `available >= quantity`), or
    nothing: TransactionConflict names the lines another order took first."""
    return orders.apply(
        state,
        change,
        joined=[
            partial(stage_reserve, stock, state.order_id, allocation, at)
            for allocation in allocations
        ],
    )


def release_stock(
    orders: OrderStore,
    stock: StockStore,
    state: OrderState,
    change: Change,
    allocations: Sequence[Allocation],
    *,
    at: datetime,
) -> OrderState:
    """The order's change (a cancellation) and giving back every reservation, at once."""
    return orders.apply(
        state,
        change,
        joined=[
            partial(stage_release, stock, state.order_id, allocation, at)
            for allocation in allocations
        ],
    )


# Each stages one stock write into an order change's transaction (bound with partial(), the
# transaction last): the named operations above, a channel's line change, a shipment.
def stage_reserve(
    stock: StockStore, order_id: str, allocation: Allocation, at: datetime, txn: Transaction
) -> None:
    stock.reserve(txn, order_id, allocation, at=at)


def stage_release(
    stock: StockStore, order_id: str, allocation: Allocation, at: datetime, txn: Transaction
) -> None:
    stock.release(txn, order_id, allocation, at=at)


def stage_adjust(  # noqa: PLR0917 - partial() binds all but the transaction
    stock: StockStore,
    order_id: str,
    allocation: Allocation,
    quantity: int,
    at: datetime,
    txn: Transaction,
) -> None:
    stock.adjust(txn, order_id, allocation, quantity, at=at)


def stage_ship(  # noqa: PLR0917 - partial() binds all but the transaction
    stock: StockStore,
    order_id: str,
    allocation: Allocation,
    quantity: int,
    at: datetime,
    txn: Transaction,
) -> None:
    stock.ship(txn, order_id, allocation, quantity, at=at)
