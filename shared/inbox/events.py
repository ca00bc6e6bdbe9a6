"""What an inbound delivery becomes, whatever its source (webhook, poll, queue): one canonical
event per kind. The stream router has one reaction per kind (functions/stream_router)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.orders.domain import Order
from shared.payments.domain import PaymentEvent


class OrderReported(BaseModel):
    """A channel reports a new order (or a new revision of one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["order"] = "order"
    order: Order


class PaymentReported(BaseModel):
    """A payment provider reports a payment's status."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["payment"] = "payment"
    payment: PaymentEvent


InboundEvent = Annotated[OrderReported | PaymentReported, Field(discriminator="kind")]


class InboundEnvelope(BaseModel):
    """The canonical form of a webhook as the inbox stores it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    event: InboundEvent
