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


class RefundRequested(DomainEvent):
    """A refund was asked for (through the API) and its amount set aside from what was paid."""

    type = EventType.REFUND_REQUESTED
    when = "a refund is asked for"
    refund_id: str
    amount: Money
    reason: str | None = None


class RefundCompleted(DomainEvent):
    """The provider returned the money (all of a refund's parts that did not fail)."""

    type = EventType.REFUND_COMPLETED
    when = "the provider confirms a refund"
    refund_id: str
    amount: Money
    origin: str = Field(
        default="orderhub", description="orderhub, or provider: made in the provider's panel."
    )


class RefundFailed(DomainEvent):
    """The provider refused or failed a refund; its amount can be refunded again."""

    type = EventType.REFUND_FAILED
    when = "the provider refuses or fails a refund"
    refund_id: str
    amount: Money
    reason: str | None = None


class PaymentDisputed(DomainEvent):
    """A chargeback or dispute was opened against a payment; the order needs attention."""

    type = EventType.PAYMENT_DISPUTED
    when = "a chargeback or dispute is opened"
    provider: str
    payment_id: str
    dispute_id: str
    amount: Money
    reason: str | None = None


class OrderHeld(DomainEvent):
    """The order is held for a person before it goes on: a provider flagged the payment's
    risk (before it ships), or lines name listings no SKU is mapped to (`unknown_sku: ...`,
    before stock is reserved)."""

    type = EventType.ORDER_HELD
    when = "a high-risk payment, or lines with unknown SKUs, hold the order for a person"
    reason: str


class OrderReleased(DomainEvent):
    """A person released a held order: it may ship."""

    type = EventType.ORDER_RELEASED
    when = "a held order is released through the API"
    note: str | None = None


class BankTransferRequested(DomainEvent):
    """The order is to be paid by bank transfer by a due date (B2B terms)."""

    type = EventType.BANK_TRANSFER_REQUESTED
    when = "an order is placed on bank transfer with a due date"
    due_date: str = Field(description="ISO date; the transfer is due by the end of that day, UTC.")
    amount: Money = Field(description="What is left to pay.")
    reference: str = Field(description="The transfer title the buyer should use.")
    on_overdue: str = Field(description="`cancel` or `escalate` once the due date has passed.")


class PaymentReminderDue(DomainEvent):
    """A transfer's due date is near and it has not been paid: remind the buyer."""

    type = EventType.PAYMENT_REMINDER_DUE
    when = "a bank transfer's due date is near and it is unpaid"
    due_date: str
    outstanding: Money
