"""Canonical payment events and the rules that decide whether a payment pays an order."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from shared.kernel.money import Money
from shared.kernel.time import UtcDatetime


class PaymentStatus(StrEnum):
    """One payment attempt's lifecycle as every provider maps to it.

    pending < authorized < paid; failed and cancelled end that attempt (a later success of the
    same payment, a card retried on one Stripe PaymentIntent, still replaces them). Refunds do
    not change it: a payment's refunded amount comes from its refunds (shared/payments/refunds.py),
    and the order's view derives partially_refunded / refunded from that."""

    PENDING = "pending"
    AUTHORIZED = "authorized"  # the buyer approved; the merchant confirms (captures) it
    SUCCEEDED = "paid"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"  # legacy records only (before refunds had their own records)

    @classmethod
    def _missing_(cls, value: object) -> PaymentStatus | None:
        # Records written before 2026-12-01 say "succeeded".
        return cls.SUCCEEDED if value == "succeeded" else None

    @property
    def paid(self) -> bool:
        return self in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED)


# Monotonic reducer: a status only replaces one of lower rank (PaymentRecords.record applies
# this as a condition, atomically). A late "pending" never overwrites "paid"; a failed
# attempt never hides a success of the same payment; a capture's answer and its notification
# racing each other end in the same record.
STATUS_RANK: dict[PaymentStatus, int] = {
    PaymentStatus.PENDING: 1,
    PaymentStatus.AUTHORIZED: 2,
    PaymentStatus.FAILED: 3,
    PaymentStatus.CANCELLED: 3,
    PaymentStatus.SUCCEEDED: 4,
    PaymentStatus.REFUNDED: 5,
}


class RiskLevel(StrEnum):
    """The provider's fraud verdict, in Stripe's words (outcome.risk_level); others map to it."""

    NORMAL = "normal"
    ELEVATED = "elevated"
    HIGHEST = "highest"


class Risk(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    level: RiskLevel
    detail: str | None = Field(
        default=None, max_length=500, description="The provider's own words (score, rule, status)."
    )

    @property
    def high(self) -> bool:
        return self.level is not RiskLevel.NORMAL


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
    attempt: int | None = Field(
        default=None,
        ge=1,
        description="The payment session's attempt, where the merchant reference carries one "
        "(`<order id>/<attempt>`: PayU extOrderId, Przelewy24 sessionId).",
    )
    needs_capture: bool = Field(
        default=False,
        description="Authorized money the merchant must still confirm before it is paid "
        "(Przelewy24 transaction/verify, a PayPal order capture, PayU WAITING_FOR_CONFIRMATION).",
    )
    provider_data: dict[str, str] = Field(
        default_factory=dict,
        description="Ids the provider needs later to capture, refund or look the payment up "
        "(Przelewy24 orderId and sessionId, PayPal capture id); kept on the payment record.",
    )
    risk: Risk | None = Field(default=None, description="The provider's fraud signal, if any.")

    def __hash__(self) -> int:
        # provider_data is a dict (not hashable); a report is named by these.
        return hash((self.provider, self.provider_event_id, self.payment_id, self.status))

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
    PARTIAL = "partial"  # counts toward the total; the rest is still to be paid (split tender)
    OVERPAID = "overpaid_refund_needed"  # pays the order; what exceeds the total goes back
    AMOUNT_MISMATCH = "amount_mismatch"
    CURRENCY_MISMATCH = "currency_mismatch"
    NOT_SETTLED = "not_settled"
    ALREADY_PAID_REFUND_NEEDED = "already_paid_refund_needed"
    ORDER_CANCELLED_REFUND_NEEDED = "order_cancelled_refund_needed"
    TEST_PAYMENT_FOR_LIVE_ORDER = "test_payment_for_live_order"


@dataclass(frozen=True)
class Verdict:
    decision: PaymentDecision
    excess: Money | None = None  # OVERPAID: what goes back
    outstanding: Money | None = None  # PARTIAL: what is still to be paid


def decide(  # noqa: PLR0911 - one return per verdict, in order of precedence
    order_total: Money,
    collected: Money,
    status: PaymentStatus,
    amount: Money,
    *,
    test_payment_for_live_order: bool = False,
    expected: Money | None = None,
) -> Verdict:
    """What a settled payment of `amount` does to an order of `order_total` of which
    `collected` is already paid by other payments.

    Payments add up (split tender: a gift card on one provider and BLIK on another): a part
    counts toward the total, the payment that reaches it pays the order, and what exceeds it
    is flagged for refund. Money in another currency, money taken in a provider's test mode
    for a live order, and an amount that is not what its payment session asked for
    (`expected`) never count. Money for an order already fully paid is a second payment: it
    goes back."""
    if not status.paid:
        return Verdict(PaymentDecision.NOT_SETTLED)
    if test_payment_for_live_order:
        return Verdict(PaymentDecision.TEST_PAYMENT_FOR_LIVE_ORDER)
    if amount.currency != order_total.currency:
        return Verdict(PaymentDecision.CURRENCY_MISMATCH)
    if expected is not None and amount != expected:
        return Verdict(PaymentDecision.AMOUNT_MISMATCH)
    if collected.amount >= order_total.amount:
        return Verdict(PaymentDecision.ALREADY_PAID_REFUND_NEEDED)
    after = collected.amount + amount.amount
    if after < order_total.amount:
        outstanding = Money(amount=order_total.amount - after, currency=order_total.currency)
        return Verdict(PaymentDecision.PARTIAL, outstanding=outstanding)
    if after > order_total.amount:
        excess = Money(amount=after - order_total.amount, currency=order_total.currency)
        return Verdict(PaymentDecision.OVERPAID, excess=excess)
    return Verdict(PaymentDecision.PAYS_ORDER)


class RefundStatus(StrEnum):
    REQUESTED = "requested"  # recorded here; the provider has not been asked yet
    PENDING = "pending"  # the provider accepted it; its notification completes it
    COMPLETED = "completed"
    FAILED = "failed"


REFUND_RANK: dict[RefundStatus, int] = {
    RefundStatus.REQUESTED: 1,
    RefundStatus.PENDING: 2,
    RefundStatus.COMPLETED: 3,
    RefundStatus.FAILED: 3,
}


class RefundEvent(BaseModel):
    """One provider notification about one refund (its own or one made in the provider's
    panel), as every provider maps to it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]+$")]
    provider_event_id: Reference
    order_id: Reference | None = Field(
        default=None,
        description="The orderhub order whose money it returns; None: found from payment_id.",
    )
    payment_id: Reference | None = Field(
        default=None, description="The provider's id of the refunded payment, when it says."
    )
    refund_id: Reference | None = Field(
        default=None,
        description="orderhub's refund id, when the provider echoes it (Stripe metadata, PayU "
        "extRefundId, Przelewy24 refundsUuid, PayPal custom_id); None: made outside orderhub.",
    )
    provider_refund_id: Reference | None = None
    status: RefundStatus
    amount: Money
    occurred_at: UtcDatetime
    failure_reason: str | None = None
    test: bool = False

    @model_validator(mode="after")
    def _positive(self) -> RefundEvent:
        if self.amount.amount <= 0:
            raise ValueError("a refund returns a positive amount")
        if self.refund_id is None and self.provider_refund_id is None:
            raise ValueError("a refund is named by refund_id or provider_refund_id")
        if self.order_id is None and self.payment_id is None:
            raise ValueError("a refund names its order by order_id or payment_id")
        return self


class DisputeEvent(BaseModel):
    """A chargeback or dispute opened (or updated) against a payment: a person must look."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]+$")]
    provider_event_id: Reference
    dispute_id: Reference
    order_id: Reference | None = Field(
        default=None, description="None: found from payment_id (Stripe disputes carry no metadata)."
    )
    payment_id: Reference = Field(description="The provider's id of the disputed payment.")
    amount: Money
    reason: str | None = Field(default=None, max_length=500)
    status: str = Field(max_length=100, description="The provider's own status word.")
    occurred_at: UtcDatetime
    test: bool = False
