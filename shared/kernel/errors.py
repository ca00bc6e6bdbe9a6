"""Domain exceptions, named for what went wrong.

Their class names are part of the contract: Step Functions Retry/Catch match on them
(a Lambda error's `errorType` is the exception class name) and the HTTP layer maps them once.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base for every error the domain raises on purpose."""

    code = "domain_error"


class InvalidTransition(DomainError):
    code = "invalid_transition"

    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"order cannot go from {current} to {target}")
        self.current = current
        self.target = target


class OrderNotFound(DomainError):
    code = "order_not_found"

    def __init__(self, order_id: str) -> None:
        super().__init__(f"order {order_id} does not exist")
        self.order_id = order_id


class ConcurrentModification(DomainError):
    """Someone else changed the item between our read and our conditional write; retry."""

    code = "concurrent_modification"


class StockContention(DomainError):
    """A reservation lost a race for the last units; re-read and allocate again."""

    code = "stock_contention"


class InvalidStockLevel(DomainError):
    code = "invalid_stock_level"


class MoneyReceived(DomainError):
    """The order cannot be cancelled outright: a provider reported money taken for it."""

    code = "money_received"
