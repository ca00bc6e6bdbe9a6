"""Events: what webhooks become (inbound) and what orders record and publish (domain events)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.kernel.time import utc_iso
from shared.orders.domain import Order
from shared.payments.domain import PaymentEvent


class OrderReceived(BaseModel):
    """A channel reports a new order (or a new revision of one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["order"] = "order"
    order: Order


class PaymentReported(BaseModel):
    """A payment provider reports a payment's status."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["payment"] = "payment"
    payment: PaymentEvent


InboundEvent = Annotated[OrderReceived | PaymentReported, Field(discriminator="kind")]


class InboundEnvelope(BaseModel):
    """The canonical form of a webhook as the inbox stores it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    event: InboundEvent


class EventType(StrEnum):
    """Domain events: one timeline entry each, published on EventBridge (docs/events.md)."""

    ORDER_RECEIVED = "OrderReceived"
    STOCK_RESERVED = "StockReserved"
    ORDER_BACKORDERED = "OrderBackordered"
    PAYMENT_RECORDED = "PaymentRecorded"
    PAYMENT_REJECTED = "PaymentRejected"
    ORDER_PAID = "OrderPaid"
    ORDER_READY_TO_SHIP = "OrderReadyToShip"
    STOCK_RELEASED = "StockReleased"
    ORDER_CANCELLED = "OrderCancelled"
    ORDER_NEEDS_ATTENTION = "OrderNeedsAttention"


EVENT_SCHEMA_VERSION = 1


class TimelineEntry(BaseModel):
    """One change in an order's life; the order's version numbers them 1, 2, 3, ..."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    order_id: str
    version: int = Field(ge=1)
    type: EventType
    at: AwareDatetime
    actor: str = Field(description="What caused it: a webhook source, a workflow step, a user.")
    status: str = Field(description="The order status after this event.")
    detail: dict[str, Any] = Field(default_factory=dict)

    @property
    def event_id(self) -> str:
        """Stable id consumers dedupe on: the same change always carries the same id."""
        return f"{self.order_id}/{self.version}"


def domain_event_detail(entry: TimelineEntry) -> dict[str, Any]:
    """The EventBridge `detail` of a domain event (versioned contract, docs/events.md)."""
    return {
        "schema_version": EVENT_SCHEMA_VERSION,
        "event_id": entry.event_id,
        "order_id": entry.order_id,
        "order_version": entry.version,
        "occurred_at": utc_iso(entry.at),
        "status": entry.status,
        "actor": entry.actor,
        **entry.detail,
    }
