"""The one transaction that spans orders and payments, named: an order's change that decides a
payment. The order moves (paid, or flagged) only with the payment's decision written once."""

from __future__ import annotations

from shared.orders.ports import OrderStore
from shared.orders.store import Change, OrderState
from shared.payments.domain import PaymentDecision
from shared.payments.ports import PaymentRecordStore
from shared.payments.store import PaymentRecord


def decide_payment(
    orders: OrderStore,
    records: PaymentRecordStore,
    state: OrderState,
    change: Change,
    payment: PaymentRecord,
    *,
    decision: PaymentDecision,
    applied: bool,
) -> OrderState:
    """Commit `change` to the order and `decision` to the payment at once, or neither
    (ConcurrentModification when the order moved; TransactionConflict when the payment was
    decided by someone else first)."""
    return orders.apply(
        state,
        change,
        joined=[
            lambda txn: records.mark_decided(
                txn, state.order_id, payment, decision=decision, applied=applied
            )
        ],
    )
