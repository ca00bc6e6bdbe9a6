"""The inbound event a payment provider's delivery becomes (kind "payment"); a payment
provider's webhook imports this, not the orders context's models (a smaller cold start)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from shared.payments.domain import PaymentEvent


class PaymentReported(BaseModel):
    """A payment provider reports a payment's status."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["payment"] = "payment"
    payment: PaymentEvent
