"""The inbound event a channel's delivery becomes (kind "order"); shared/inbox/events.py
gathers every kind."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from shared.orders.domain import Order


class OrderReported(BaseModel):
    """A channel reports a new order (or a new revision of one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["order"] = "order"
    order: Order
