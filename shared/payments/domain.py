"""Canonical payment events and the rules that decide whether a payment pays an order."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from shared.kernel.money import Money
from shared.kernel.time import UtcDatetime


class PaymentStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUNDED = "refunded"


# Monotonic reducer: a status only replaces one of lower rank (OrderRepository.record_payment
# applies this as a condition, atomically). A late "pending" never
# overwrites "succeeded"; a failed attempt never hides a success of the same payment.
STATUS_RANK: dict[PaymentStatus, int] = {
    PaymentStatus.PENDING: 1,
    PaymentStatus.FAILED: 2,
    PaymentStatus.SUCCEEDED: 3,
    PaymentStatus.REFUNDED: 4,
}


# Provider and channel ids end up in DynamoDB keys: short, printable, no surrounding blanks.
Reference = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^\S(.*\S)?$")]


class ChannelOrderRef(BaseModel):
    """An order named by its channel's id, for payments the channel itself reports."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channel: str
    external_id: Reference


class PaymentEvent(BaseModel):
    """One provider notification about one payment, as every provider maps to it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]+$")]
    provider_event_id: Reference
    payment_id: Reference = Field(description="The provider's id of the payment (PaymentIntent).")
    order_id: Reference | None = Field(default=None, description="The orderhub order it pays.")
    channel_order: ChannelOrderRef | None = Field(
        default=None, description="Or the order as its channel names it."
    )
    status: PaymentStatus
    amount: Money
    method: str | None = Field(default=None, description="card, blik, p24, ... when known.")
    occurred_at: UtcDatetime
    failure_reason: str | None = None
    test: bool = Field(
        default=False, description="Made in the provider's test mode (Stripe livemode=false)."
    )

    @model_validator(mode="after")
    def _names_one_order(self) -> PaymentEvent:
        if (self.order_id is None) == (self.channel_order is None):
            raise ValueError("a payment names its order by order_id or by channel_order, not both")
        if self.amount.amount < 0:
            raise ValueError("a payment amount cannot be negative")
        return self


class PaymentDecision(StrEnum):
    """What a succeeded payment did; written once on the payment, with the order's change."""

    PAYS_ORDER = "pays_order"
    AMOUNT_MISMATCH = "amount_mismatch"
    NOT_SETTLED = "not_settled"
    ALREADY_PAID_REFUND_NEEDED = "already_paid_refund_needed"
    ORDER_CANCELLED_REFUND_NEEDED = "order_cancelled_refund_needed"
    TEST_PAYMENT_FOR_LIVE_ORDER = "test_payment_for_live_order"


def decide(
    order_total: Money,
    status: PaymentStatus,
    amount: Money,
    *,
    test_payment_for_live_order: bool = False,
) -> PaymentDecision:
    """Does this payment pay an order of `order_total`? Only an exact, settled, real match
    does: money taken in a provider's test mode never pays a live order."""
    if status is not PaymentStatus.SUCCEEDED:
        return PaymentDecision.NOT_SETTLED
    if test_payment_for_live_order:
        return PaymentDecision.TEST_PAYMENT_FOR_LIVE_ORDER
    if amount != order_total:
        return PaymentDecision.AMOUNT_MISMATCH
    return PaymentDecision.PAYS_ORDER
