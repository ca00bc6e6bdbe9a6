"""The shipping context's domain events."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shared.kernel.events import DomainEvent, EventType


class ShippedLine(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    line_no: int = Field(ge=1)
    quantity: int = Field(ge=1)


class ShipmentCreated(DomainEvent):
    """Parcels left the warehouse: the carrier and tracking number, and which lines they hold.
    The order is `shipped` once every line has shipped; the order's channel is told (the
    channel push queue) once per shipment."""

    type = EventType.SHIPMENT_CREATED
    when = "a shipment of the order left (through the API, or a carrier's API)"
    shipment_id: str
    channel: str = Field(description="The order's sales channel, which is told about it.")
    carrier: str
    tracking_number: str
    tracking_url: str | None = None
    lines: list[ShippedLine]
    complete: bool = Field(description="Every line of the order has shipped with this one.")


class ChannelNotified(DomainEvent):
    """The order's channel accepted the shipment (fulfillment, status, tracking number)."""

    type = EventType.CHANNEL_NOTIFIED
    when = "the order's sales channel was told about a shipment"
    shipment_id: str
    channel: str
    reference: str = Field(description="The channel's id of what it recorded (a fulfillment).")
