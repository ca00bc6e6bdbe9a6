"""The stock context's domain events (decided by the fulfilment workflow's steps)."""

from __future__ import annotations

from shared.kernel.events import DomainEvent, EventType
from shared.stock.domain import Allocation, Shortage


class StockReserved(DomainEvent):
    """Every stock-holding line of the order is reserved, in one transaction."""

    type = EventType.STOCK_RESERVED
    when = "every line reserved"
    reservations: list[Allocation]


class OrderBackordered(DomainEvent):
    """Stock does not cover the order; nothing was reserved."""

    type = EventType.ORDER_BACKORDERED
    when = "stock does not cover the order"
    reason: str
    shortages: list[Shortage]


class StockReleased(DomainEvent):
    """The order's reservations were given back (followed by OrderCancelled in the same
    change)."""

    type = EventType.STOCK_RELEASED
    when = "reservations given back"
    reason: str
    reservations: list[Allocation]
