"""The inbound event a channel's delivery becomes (kind "order"); shared/inbox/events.py
gathers every kind."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.orders.domain import Order

ORDER_KIND = "order"  # OrderReported's kind: what a screened channel order maps to


class OrderReported(BaseModel):
    """A channel reports a new order (or a new revision of one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["order"] = "order"
    order: Order


class OrderWithdrawn(BaseModel):
    """A channel says an order is gone without sending the order itself (WooCommerce's
    `order.deleted` carries only the id): it is cancelled here as a channel cancellation."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["order_withdrawn"] = "order_withdrawn"
    channel: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]+$")]
    external_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    revision: int = Field(ge=0, description="When the channel withdrew it (epoch ms).")
    reason: str = Field(max_length=200, description="The channel's words, e.g. `deleted`.")
