"""Payment records: what each provider reported for an order, reduced monotonically.

ORDER#<id> / PAYMENT#<provider>#<payment id>   one per payment (not per delivery); kept in the
order's partition so the order's view reads it with the order, owned by this context only.
PAYREF#<provider>#<payment id> / ORDER         which order a provider's payment id belongs to
(written once, with the payment's first report): disputes and refunds made in a provider's
panel name only the payment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.kernel.money import Money
from shared.kernel.time import utc_iso
from shared.orders.store import order_pk
from shared.payments.domain import (
    STATUS_RANK,
    PaymentDecision,
    PaymentEvent,
    PaymentStatus,
    Risk,
    RiskLevel,
)
from shared.platform.table import ConditionFailed, Item, Table, Transaction, set_clause

REF_SK = "ORDER"
# provider_data fields that are other names of the same payment at its provider.
ALIAS_FIELDS = frozenset({"capture_id", "charge_id", "checkout_session"})


def payment_sk(provider: str, payment_id: str) -> str:
    return f"PAYMENT#{provider}#{payment_id}"


def payment_ref_pk(provider: str, payment_id: str) -> str:
    return f"PAYREF#{provider}#{payment_id}"


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
    attempt: int | None = None
    needs_capture: bool = False
    provider_data: dict[str, str] | None = None
    risk: Risk | None = None
    occurred_at: str | None = None
    refund_committed: int = 0  # what refunds not failed draw on it (shared/payments/refunds.py)

    @property
    def net(self) -> int:
        """Its amount less what refunds draw on it."""
        return max(self.amount.amount - self.refund_committed, 0)

    @property
    def counts_toward_total(self) -> bool:
        """Its decision counts it as money paying the order (whole, part, or more)."""
        return self.decision in COUNTING_DECISIONS

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
            attempt=item.get("attempt"),
            needs_capture=item.get("needs_capture", False),
            provider_data=item.get("provider_data"),
            risk=Risk(level=RiskLevel(item["risk_level"]), detail=item.get("risk_detail"))
            if item.get("risk_level")
            else None,
            occurred_at=item.get("occurred_at"),
            refund_committed=int(item.get("refund_committed", 0)),
        )


def left_to_pay(total: int, payments: list[PaymentRecord]) -> int:
    """What an order of `total` still needs: its total less the payments counting toward it,
    net of what refunds draw on them (the reducer, sessions, transfers and views agree)."""
    return total - sum(p.net for p in payments if p.counts_toward_total)


COUNTING_DECISIONS = frozenset(
    {
        PaymentDecision.PAYS_ORDER.value,
        PaymentDecision.PARTIAL.value,
        PaymentDecision.OVERPAID.value,
    }
)


class PaymentRecords:
    def __init__(self, table: Table) -> None:
        self._table = table

    def record(self, order_id: str, payment: PaymentEvent, *, at: datetime) -> bool:
        """Reduce a payment report monotonically. False: it adds nothing (late or repeated).

        A risk signal is kept whatever the status rank (Stripe's charge.succeeded carries it,
        and may come after payment_intent.succeeded): it is written on its own."""
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
            "needs_capture": payment.needs_capture,
        }
        if payment.method:
            fields["method"] = payment.method
        if payment.failure_reason:
            fields["failure_reason"] = payment.failure_reason
        if payment.test:
            fields["test"] = True
        if payment.attempt is not None:
            fields["attempt"] = payment.attempt
        if payment.provider_data:
            fields["provider_data"] = dict(payment.provider_data)
        if payment.risk is not None:
            fields["risk_level"] = payment.risk.level.value
            if payment.risk.detail:
                fields["risk_detail"] = payment.risk.detail
        expression, names, values = set_clause(fields)
        rank = next(alias for alias, name in names.items() if name == "rank")
        created = utc_iso(at)
        try:
            item = self._table.update(
                order_pk(order_id),
                payment_sk(payment.provider, payment.payment_id),
                expression
                + ", applied = if_not_exists(applied, :no)"
                + ", created_at = if_not_exists(created_at, :created)",
                # Monotonic: only a higher-ranked status replaces the stored one.
                condition=f"attribute_not_exists(PK) OR {rank} < :{rank[1:]}",
                values={**values, ":no": False, ":created": created},
                names=names,
            )
        except ConditionFailed:
            if payment.risk is not None:
                self._record_risk(order_id, payment)
            return False
        # Which order a provider's id names: the payment's own id, once; and the other ids the
        # provider may name it by later (a PayPal capture id in a refund or a dispute).
        aliases = [v for k, v in sorted(payment.provider_data.items()) if k in ALIAS_FIELDS]
        if item.get("created_at") == created:
            aliases.insert(0, payment.payment_id)
        for alias in aliases:
            self._table.put(
                {
                    "PK": payment_ref_pk(payment.provider, alias),
                    "SK": REF_SK,
                    "type": "payment_ref",
                    "order_id": order_id,
                    "payment_id": payment.payment_id,
                }
            )
        return True

    def _record_risk(self, order_id: str, payment: PaymentEvent) -> None:
        assert payment.risk is not None
        self._table.update(
            order_pk(order_id),
            payment_sk(payment.provider, payment.payment_id),
            "SET risk_level = :level, risk_detail = :detail",
            condition="attribute_exists(PK)",
            values={":level": payment.risk.level.value, ":detail": payment.risk.detail or ""},
        )

    def order_of(self, provider: str, payment_id: str) -> str | None:
        """The order a provider's payment id was recorded against, if any."""
        item = self._table.get(payment_ref_pk(provider, payment_id), REF_SK, consistent=True)
        return str(item["order_id"]) if item else None

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
