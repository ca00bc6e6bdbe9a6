"""Domain events: one pydantic model per event, versioned; what an order's timeline records and
EventBridge publishes.

Each context defines its events (shared/orders/events.py, shared/stock/events.py,
shared/payments/events.py) as subclasses of DomainEvent; shared/domain_events.py is the
catalogue that knows them all, renders docs/events.md and a JSON Schema per event, and reads
stored timeline entries back. The EventBridge `detail` of an event is `detail_model(type)`: the
envelope every event carries (ids, version, time, status, actor) and the event's own fields.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cache
from typing import Any, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SerializeAsAny, create_model

from shared.kernel.time import utc_iso


class EventType(StrEnum):
    """Every domain event's name (the EventBridge detail-type): one model each."""

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
    REFUND_REQUESTED = "RefundRequested"
    REFUND_COMPLETED = "RefundCompleted"
    REFUND_FAILED = "RefundFailed"
    PAYMENT_DISPUTED = "PaymentDisputed"
    ORDER_HELD = "OrderHeld"
    ORDER_RELEASED = "OrderReleased"
    BANK_TRANSFER_REQUESTED = "BankTransferRequested"
    PAYMENT_REMINDER_DUE = "PaymentReminderDue"
    ORDER_UPDATED = "OrderUpdated"
    ORDER_CHANGE_CONFLICT = "OrderChangeConflict"
    SKU_MAPPED = "SkuMapped"
    SHIPMENT_CREATED = "ShipmentCreated"
    CHANNEL_NOTIFIED = "ChannelNotified"


class DomainEvent(BaseModel):
    """A fact about an order, as its context decided it. Subclasses set `type`, and `version`
    when their fields change incompatibly (a consumer reads `schema_version`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: ClassVar[EventType]
    version: ClassVar[int] = 1
    # When it happens, for docs/events.md (the docstring says what it means).
    when: ClassVar[str] = ""


class TimelineEntry(BaseModel):
    """One change in an order's life; the order's version numbers them 1, 2, 3, ..."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    order_id: str
    version: int = Field(ge=1)
    at: AwareDatetime
    actor: str = Field(description="What caused it: a webhook source, a workflow step, a user.")
    status: str = Field(description="The order status after this event.")
    event: SerializeAsAny[DomainEvent]
    # The event model's version it was written with (None: the current one). A replay of an
    # old entry publishes the version it was written in, not today's.
    event_version: int | None = None

    @property
    def schema_version(self) -> int:
        return self.event_version or self.event.version

    @property
    def type(self) -> EventType:
        return self.event.type

    @property
    def event_id(self) -> str:
        """Stable id consumers dedupe on: the same change always carries the same id."""
        return f"{self.order_id}/{self.version}"


class Envelope(BaseModel):
    """What every published event's detail carries besides the event's own fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int = Field(description="The event model's version.")
    event_id: str = Field(description="`<order id>/<order version>`: unique and stable.")
    order_id: str
    order_version: int = Field(ge=1, description="The order's version after this change.")
    occurred_at: str = Field(description="UTC ISO 8601, milliseconds.")
    status: str = Field(description="The order's status after this change.")
    actor: str = Field(
        description="What caused it: `shopify webhook <id>`, `stripe webhook <id>`, "
        "`fulfilment workflow`."
    )


@cache
def detail_model(event: type[DomainEvent]) -> type[BaseModel]:
    """The EventBridge detail of one event type: its envelope and its own fields."""
    fields: dict[str, Any] = {
        name: (info.annotation, info) for name, info in event.model_fields.items()
    }
    model: type[BaseModel] = create_model(
        f"{event.type.value}Detail",
        __base__=Envelope,
        __doc__=event.__doc__,
        **fields,
    )
    return model


def domain_event_detail(entry: TimelineEntry) -> dict[str, Any]:
    """The EventBridge `detail` of a timeline entry, validated against its detail model."""
    model = detail_model(type(entry.event))
    detail = model(
        schema_version=entry.schema_version,
        event_id=entry.event_id,
        order_id=entry.order_id,
        order_version=entry.version,
        occurred_at=utc_iso(entry.at),
        status=entry.status,
        actor=entry.actor,
        **dict(entry.event),
    )
    # Optional fields are absent, not null, when they do not apply (consumers test presence).
    return detail.model_dump(mode="json", exclude_none=True)
