"""The transactions that span orders and stock, named: the order moves on (reserved, or
cancelled) only together with the stock it holds or gives back."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Concatenate, ParamSpec

from shared.orders.ports import OrderStore
from shared.orders.store import Change, Joined, OrderState
from shared.platform.table import Transaction
from shared.stock.domain import Allocation
from shared.stock.ports import StockStore

P = ParamSpec("P")


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
            staged(stock.reserve, state.order_id, allocation, at=at) for allocation in allocations
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
            staged(stock.release, state.order_id, allocation, at=at) for allocation in allocations
        ],
    )


def staged(
    write: Callable[Concatenate[Transaction, P], object], *args: P.args, **kwargs: P.kwargs
) -> Joined:
    """One stock write (a StockStore method, which takes the transaction first) staged into an
    order change's transaction: the named operations above, a channel's line change, a
    shipment."""

    def stage(txn: Transaction) -> object:
        return write(txn, *args, **kwargs)

    return stage
