"""The orders context's domain events."""

from __future__ import annotations

from pydantic import Field

from shared.kernel.events import DomainEvent, EventType
from shared.kernel.money import Money
from shared.orders.domain import PaymentMethod
from shared.stock.domain import Allocation


class OrderReceived(DomainEvent):
    """A channel's order was stored: once per channel order, whatever the redeliveries."""

    type = EventType.ORDER_RECEIVED
    when = "a channel's order was stored"
    channel: str
    external_id: str = Field(description="The order's id on its channel.")
    total: Money
    payment_method: PaymentMethod


class OrderReadyToShip(DomainEvent):
    """Reserved and paid (or cash on delivery): the warehouse may ship it."""

    type = EventType.ORDER_READY_TO_SHIP
    when = "ready for the warehouse"
    reservations: list[Allocation] | None = Field(
        default=None,
        description="Where its stock is held, when it was reserved in the same change (cash "
        "on delivery).",
    )


class OrderCancelled(DomainEvent):
    """The order will not be fulfilled; its stock was given back in the same change."""

    type = EventType.ORDER_CANCELLED
    when = "the order will not be fulfilled (its stock released in the same change)"
    reason: str = Field(description="`payment_timeout`, `step_failed`, or the shop's words.")
    reservations: list[Allocation] | None = Field(
        default=None, description="The reservations given back in the same change."
    )


class OrderNeedsAttention(DomainEvent):
    """Automation stopped on an order whose money was taken, or money must go back; nothing was
    undone and a person decides (refund, ship, or top up)."""

    type = EventType.ORDER_NEEDS_ATTENTION
    when = "automation stopped on an order whose money was taken, or money must go back"
    reason: str = Field(
        description="`step_failed`, `payment_timeout`, or the refund reason of the "
        "`PaymentRejected` it follows in the same change."
    )
    money_received: bool | None = Field(
        default=None, description="True: the money arrived before the order could go on."
    )
    refund_needed_if_not_shipped: bool | None = None
    # When it follows a PaymentRejected: the payment to give back.
    provider: str | None = None
    payment_id: str | None = None
    amount: Money | None = None
    expected: Money | None = Field(default=None, description="The order's total.")
    excess: Money | None = Field(
        default=None, description="An overpayment: what exceeds the total and goes back."
    )


class OrderUpdated(DomainEvent):
    """The channel changed the order before it shipped (a newer revision), and the change was
    applied: the address, the lines (stock re-reserved in the same change), the buyer."""

    type = EventType.ORDER_UPDATED
    when = "the channel changed an order that has not shipped"
    revision: int = Field(description="The channel's revision now applied.")
    changes: list[str] = Field(description="What changed: `delivery`, `lines`, `buyer`, ...")
    total: Money | None = Field(default=None, description="The new total, when it changed.")


class OrderChangeConflict(DomainEvent):
    """The channel changed or cancelled the order when that can no longer be applied (it has
    shipped, or a changed line cannot be reserved): nothing changed here, and the order is on
    the attention list for a person."""

    type = EventType.ORDER_CHANGE_CONFLICT
    when = "a channel's change or cancellation cannot be applied (shipped, or no stock)"
    revision: int
    changes: list[str]
    reason: str = Field(description="`shipped`, `insufficient_stock: ...`, `cancelled_on_channel`")


class SkuMapped(DomainEvent):
    """A held order's lines were matched to internal SKUs (the shop mapped the listings)."""

    type = EventType.SKU_MAPPED
    when = "a held order's unknown lines were mapped to SKUs"
    lines: dict[str, str] = Field(description="Line number -> the internal SKU it now names.")
