"""What a channel hears back when an order ships, and the contract each channel's client keeps.

The shipments context records a shipment (`POST /api/v1/orders/{id}/shipments` today, a
carrier API later) and emits `ShipmentCreated`; the channel push queue then calls the order's
channel client once per shipment: Shopify (GraphQL `fulfillmentCreate`), WooCommerce (status
and an order note), Allegro (fulfillment status and the shipment's waybill), Amazon
(`confirmShipment`). Each client is idempotent by itself (it looks for the shipment's tracking
number on the channel before creating it), so a retried push never creates a second one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    import httpx


class ShipmentLine(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    line_no: int = Field(ge=1)
    quantity: int = Field(ge=1)
    sku: str | None = None
    listing_id: str | None = None  # the channel's listing (offer, variant, ASIN)
    channel_line_id: str | None = None  # the channel's id of the order line


class ShipmentPush(BaseModel):
    """One shipment of one order, as the channel is told about it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    shipment_id: str  # ours; the idempotency key of the push
    order_id: str
    channel: str
    external_id: str  # the order's id on the channel
    external_number: str | None = None
    channel_refs: dict[str, str] = Field(default_factory=dict)
    carrier: str  # as the shop named it: "inpost", "dpd", "DHL", ...
    tracking_number: str
    tracking_url: str | None = None
    shipped_at: datetime
    lines: list[ShipmentLine]
    complete: bool = Field(description="With this shipment every line of the order has shipped.")


class ChannelRejected(Exception):
    """The channel refused the push for good (4xx other than 429): retrying cannot help; the
    push is dead-lettered at once with the channel's answer."""


class ChannelUnavailable(Exception):
    """The channel could not take it now (5xx, 429, a timeout): retried with backoff."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ChannelClient(Protocol):
    """A channel's outbound API client. Built per process by `from_secret(document, http)`
    from the channel's secret (its base URL is the secret's `api_url`: the embedded stack
    fills it with the simulator's)."""

    def push_shipment(self, push: ShipmentPush) -> str:
        """Tell the channel the shipment left; returns the channel's reference of it (a
        fulfillment id, a note id). Already told (the tracking number is there): the same
        reference, nothing created."""
        ...


# Stores fields of the channel's secret back (Allegro's rotated refresh token, a cached access
# token), merged into the secret's document in Secrets Manager.
SaveSecret = Callable[[dict[str, str]], object]


class ChannelClientFactory(Protocol):
    def from_secret(
        self,
        document: Mapping[str, Any],
        http: httpx.Client,
        *,
        save_secret: SaveSecret | None = None,
    ) -> ChannelClient: ...
