"""Payment records: what each provider reported for an order, reduced monotonically.

ORDER#<id> / PAYMENT#<provider>#<payment id>   one per payment (not per delivery); kept in the
order's partition so the order's view reads it with the order, owned by this context only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.kernel.money import Money
from shared.kernel.time import utc_iso
from shared.orders.store import order_pk
from shared.payments.domain import STATUS_RANK, PaymentDecision, PaymentEvent, PaymentStatus
from shared.platform.table import ConditionFailed, Item, Table, Transaction, set_clause


def payment_sk(provider: str, payment_id: str) -> str:
    return f"PAYMENT#{provider}#{payment_id}"


@dataclass(frozen=True)
class PaymentRecord:
    provider: str
    payment_id: str
    status: PaymentStatus
    amount: Money
    applied: bool
    method: str | None
    decision: str | None
    last_event_id: str
    updated_at: str
    failure_reason: str | None = None
    test: bool = False

    @classmethod
    def from_item(cls, item: Item) -> PaymentRecord:
        return cls(
            provider=item["provider"],
            payment_id=item["payment_id"],
            status=PaymentStatus(item["status"]),
            amount=Money(amount=item["amount"], currency=item["currency"]),
            applied=item.get("applied", False),
            method=item.get("method"),
            decision=item.get("decision"),
            last_event_id=item["last_event_id"],
            updated_at=item["updated_at"],
            failure_reason=item.get("failure_reason"),
            test=item.get("test", False),
        )


class PaymentRecords:
    def __init__(self, table: Table) -> None:
        self._table = table

    def record(self, order_id: str, payment: PaymentEvent, *, at: datetime) -> bool:
        """Reduce a payment report monotonically. False: it adds nothing (late or repeated)."""
        fields: dict[str, Any] = {
            "type": "payment",
            "provider": payment.provider,
            "payment_id": payment.payment_id,
            "status": payment.status.value,
            "rank": STATUS_RANK[payment.status],
            "amount": payment.amount.amount,
            "currency": payment.amount.currency,
            "last_event_id": payment.provider_event_id,
            "updated_at": utc_iso(at),
            "occurred_at": utc_iso(payment.occurred_at),
        }
        if payment.method:
            fields["method"] = payment.method
        if payment.failure_reason:
            fields["failure_reason"] = payment.failure_reason
        if payment.test:
            fields["test"] = True
        expression, names, values = set_clause(fields)
        rank = next(alias for alias, name in names.items() if name == "rank")
        try:
            self._table.update(
                order_pk(order_id),
                payment_sk(payment.provider, payment.payment_id),
                expression + ", applied = if_not_exists(applied, :no)",
                # Monotonic: only a higher-ranked status replaces the stored one.
                condition=f"attribute_not_exists(PK) OR {rank} < :{rank[1:]}",
                values={**values, ":no": False},
                names=names,
            )
        except ConditionFailed:
            return False
        return True

    def of_order(self, order_id: str) -> list[PaymentRecord]:
        items = self._table.query_all(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
            ExpressionAttributeValues={
                ":pk": {"S": order_pk(order_id)},
                ":prefix": {"S": "PAYMENT#"},
            },
            ConsistentRead=True,
        )
        return [PaymentRecord.from_item(item) for item in items]

    @staticmethod
    def mark_decided(
        txn: Transaction,
        order_id: str,
        payment: PaymentRecord,
        *,
        decision: PaymentDecision,
        applied: bool,
    ) -> int:
        """Within an order change: settle a payment's decision exactly once."""
        return txn.update(
            order_pk(order_id),
            payment_sk(payment.provider, payment.payment_id),
            "SET #decision = :decision, applied = :applied",
            condition="attribute_exists(PK) AND applied = :no AND attribute_not_exists(#decision)",
            values={":decision": decision.value, ":applied": applied, ":no": False},
            names={"#decision": "decision"},
        )
