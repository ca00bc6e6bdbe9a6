"""What the services need from the stores, as Protocols (structural: nothing inherits them).

OrderRepository, StockRepository and ParkedPayments satisfy these as they are; the unit tests'
in-memory fakes (tests/unit/fakes.py) satisfy them too. Each member is the concrete method's
exact signature, so a change to one shows up in mypy wherever the two disagree.

The transaction helpers (mark_payment, reserve, release) take the concrete `Transaction`, as
`Change.also` hands it to them: a Protocol parameter there would not be met by the concrete
repositories (parameter types are contravariant), so there is no TransactionLike. A fake joins
a change's transaction by handing `also` a Transaction of its own (a subclass staging in-memory
writes) and refusing any other.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from shared.orders.domain import Order
from shared.orders.store import Change, OrderState, PaymentRecord
from shared.payments.domain import PaymentDecision, PaymentEvent
from shared.payments.parked import ParkedPayment
from shared.platform.table import Transaction
from shared.stock.domain import Allocation, StockLevel


class OrderStore(Protocol):
    """Orders, their payments and their workflow waits (OrderRepository)."""

    def create(self, order_id: str, order: Order, *, received_at: datetime, actor: str) -> str:
        """Store a new order once; the id the channel key holds if it was stored before."""
        ...

    def find_by_channel(self, channel: str, external_id: str) -> str | None: ...

    def get(self, order_id: str) -> OrderState | None: ...

    def details(self, order_id: str) -> Order | None: ...

    def apply(self, state: OrderState, change: Change) -> OrderState:
        """Commit a change and its `also` actions at once, or ConcurrentModification if the
        order's version moved or `change.condition` does not hold."""
        ...

    def mark_money_received(self, order_id: str, *, at: datetime) -> None: ...

    def record_payment(self, order_id: str, payment: PaymentEvent, *, at: datetime) -> bool:
        """Keep the highest-ranked status of a payment; False when the report adds nothing."""
        ...

    def payments(self, order_id: str) -> list[PaymentRecord]: ...

    def mark_payment(
        self,
        txn: Transaction,
        order_id: str,
        payment: PaymentRecord,
        *,
        decision: PaymentDecision,
        applied: bool,
    ) -> int:
        """Within an order change: write a payment's decision, once."""
        ...

    def put_wait(
        self, order_id: str, name: str, token: str, *, at: datetime, ttl: timedelta
    ) -> None: ...

    def get_wait(self, order_id: str, name: str) -> str | None: ...

    def delete_wait(self, order_id: str, name: str, token: str) -> None:
        """Forget a wait unless it now holds another token."""
        ...


class StockStore(Protocol):
    """Stock levels, and reservations added to an order change's transaction
    (StockRepository)."""

    def levels(self, sku: str) -> list[StockLevel]: ...

    def reserve(
        self, txn: Transaction, order_id: str, allocation: Allocation, *, at: datetime
    ) -> tuple[int, int]:
        """Add `available >= quantity` stock update and the reservation item to `txn`."""
        ...

    def release(
        self, txn: Transaction, order_id: str, allocation: Allocation, *, at: datetime
    ) -> None: ...


class ParkedPaymentStore(Protocol):
    """Payments kept until their order arrives (ParkedPayments)."""

    def park(self, payment: PaymentEvent, *, actor: str, at: datetime) -> None: ...

    def waiting_for(self, reference: str) -> list[ParkedPayment]: ...

    def remove(self, parked: ParkedPayment) -> None: ...

    def forget(self, payment: PaymentEvent) -> None: ...
