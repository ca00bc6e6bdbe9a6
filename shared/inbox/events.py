"""What an inbound delivery becomes, whatever its source (webhook, poll, queue): one canonical
event per kind, each defined in its context (shared/orders/inbound.py,
shared/payments/inbound.py). The stream router has one reaction per kind
(functions/stream_router/reactions.py). Adapters import their own kind's module only, so a
payment provider's webhook never loads the order models."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from shared.orders.inbound import OrderReported, OrderWithdrawn
from shared.payments.inbound import DisputeReported, PaymentReported, RefundReported

__all__ = [
    "DisputeReported",
    "InboundEnvelope",
    "InboundEvent",
    "OrderReported",
    "OrderWithdrawn",
    "PaymentReported",
    "RefundReported",
]

InboundEvent = Annotated[
    OrderReported | OrderWithdrawn | PaymentReported | RefundReported | DisputeReported,
    Field(discriminator="kind"),
]


class InboundEnvelope(BaseModel):
    """The canonical form of a delivery as tests and tools store it (providers' items keep
    only their raw bytes)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    event: InboundEvent
