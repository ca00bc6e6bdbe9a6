"""What the payments context needs from its stores, as Protocols (PaymentRecords and
ParkedPayments satisfy them as they are, and so do the unit tests' fakes).

`mark_decided` takes the concrete `Transaction`: it is staged into an order change by the named
operation in shared/payments/transactions.py, and a fake joins by handing it a Transaction of
its own (a subclass staging in-memory writes)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from shared.payments.domain import PaymentDecision, PaymentEvent
from shared.payments.parked import ParkedPayment
from shared.payments.store import PaymentRecord
from shared.platform.table import Transaction


class PaymentRecordStore(Protocol):
    def record(self, order_id: str, payment: PaymentEvent, *, at: datetime) -> bool:
        """Keep the highest-ranked status of a payment; False when the report adds nothing."""
        ...

    def of_order(self, order_id: str) -> list[PaymentRecord]: ...

    def order_of(self, provider: str, payment_id: str) -> str | None:
        """The order a provider's payment id was recorded against."""
        ...

    def mark_decided(
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


class ParkedPaymentStore(Protocol):
    """Payments kept until their order arrives."""

    def park(self, payment: PaymentEvent, *, actor: str, at: datetime) -> None: ...

    def waiting_for(self, reference: str) -> list[ParkedPayment]: ...

    def remove(self, parked: ParkedPayment) -> None: ...

    def forget(self, payment: PaymentEvent) -> None: ...
