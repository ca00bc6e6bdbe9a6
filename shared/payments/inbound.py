"""The inbound events a payment provider's delivery becomes (kinds "payment", "refund" and
"dispute"); a payment provider's webhook imports this, not the orders context's models (a
smaller cold start)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from shared.payments.domain import DisputeEvent, PaymentEvent, RefundEvent


class PaymentReported(BaseModel):
    """A payment provider reports a payment's status."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["payment"] = "payment"
    payment: PaymentEvent


class RefundReported(BaseModel):
    """A payment provider reports a refund's status (one orderhub asked for, or one made in
    the provider's panel)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["refund"] = "refund"
    refund: RefundEvent


class DisputeReported(BaseModel):
    """A payment provider reports a chargeback or dispute against a payment."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["dispute"] = "dispute"
    dispute: DisputeEvent
