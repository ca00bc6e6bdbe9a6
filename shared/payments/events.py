"""The payments context's domain events: the one "order paid" decision and what did not pay."""

from __future__ import annotations

from pydantic import Field

from shared.kernel.events import DomainEvent, EventType
from shared.kernel.money import Money
from shared.payments.domain import PaymentDecision, PaymentStatus


class OrderPaid(DomainEvent):
    """A payment paid the order: once per order, whatever the providers and deliveries."""

    type = EventType.ORDER_PAID
    when = "a payment paid the order (once per order)"
    provider: str
    payment_id: str
    amount: Money


class PaymentRecorded(DomainEvent):
    """A payment attempt worth a note: pending, failed, money for a backordered order, or cash
    on delivery collected."""

    type = EventType.PAYMENT_RECORDED
    when = "a pending or failed attempt, or cash on delivery collected"
    provider: str
    payment_id: str
    amount: Money
    payment_status: PaymentStatus
    reason: str | None = Field(default=None, description="The provider's failure reason.")


class PaymentRejected(DomainEvent):
    """A succeeded payment did not pay the order; refund reasons are followed by
    OrderNeedsAttention in the same change."""

    type = EventType.PAYMENT_REJECTED
    when = "a succeeded payment did not pay the order"
    provider: str
    payment_id: str
    amount: Money
    reason: PaymentDecision
    expected: Money | None = Field(
        default=None, description="The order's total, when the amount was the problem."
    )
