"""Shipments of an order: recorded once, stock taken out of the warehouse with them, the order
`shipped` once every line has left.

ORDER#<id> / SHIPMENT#<shipment id>   carrier, tracking number, lines; `channel_reference` once
                                      the order's channel accepted it (the push queue)

A shipment's id is derived from the order and its tracking number: the same parcel reported
twice (a retried request, a warehouse system sending again) is one shipment, whatever the
Idempotency-Key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.fulfilment.transactions import staged
from shared.kernel.errors import ConcurrentModification, DomainError, OrderNotFound
from shared.kernel.time import utc_iso
from shared.orders.domain import Order, OrderStatus
from shared.orders.ports import OrderStore
from shared.orders.store import Change, OrderState, order_pk
from shared.platform.clock import Clock, utc_now
from shared.platform.table import Item, Table, Transaction, TransactionConflict
from shared.shipping.events import ShipmentCreated, ShippedLine
from shared.stock.domain import Allocation
from shared.stock.ports import StockStore

MAX_ATTEMPTS = 5
SHIPMENT_PREFIX = "SHIPMENT#"
Carrier = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^\S(.*\S)?$")]
TrackingNumber = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._/-]+$")
]


class NotShippable(DomainError):
    """The order cannot ship now (not ready to ship, held, cancelled) or the lines do not fit."""

    code = "not_shippable"


class ShipmentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    carrier: Carrier = Field(description="As the shop names it: `inpost`, `dpd`, `dhl`, ...")
    tracking_number: TrackingNumber
    tracking_url: Annotated[str, StringConstraints(max_length=500, pattern=r"^https://")] | None = (
        None
    )
    lines: list[ShippedLine] | None = Field(
        default=None,
        min_length=1,
        description="Which lines (and how many units); omitted: everything left.",
    )


@dataclass(frozen=True)
class Shipment:
    shipment_id: str
    order_id: str
    carrier: str
    tracking_number: str
    tracking_url: str | None
    lines: tuple[ShippedLine, ...]
    complete: bool
    created_at: str
    channel_reference: str | None = None

    @classmethod
    def from_item(cls, item: Item) -> Shipment:
        return cls(
            shipment_id=item["shipment_id"],
            order_id=item["order_id"],
            carrier=item["carrier"],
            tracking_number=item["tracking_number"],
            tracking_url=item.get("tracking_url"),
            lines=tuple(ShippedLine.model_validate(line) for line in item["lines"]),
            complete=item["complete"],
            created_at=item["created_at"],
            channel_reference=item.get("channel_reference"),
        )

    def view(self) -> dict[str, Any]:
        return {
            "shipment_id": self.shipment_id,
            "carrier": self.carrier,
            "tracking_number": self.tracking_number,
            "tracking_url": self.tracking_url,
            "lines": [line.model_dump() for line in self.lines],
            "complete": self.complete,
            "created_at": self.created_at,
            "channel_notified": self.channel_reference is not None,
            "channel_reference": self.channel_reference,
        }


def shipment_id_of(order_id: str, tracking_number: str) -> str:
    digest = hashlib.sha256(f"{order_id}|{tracking_number.upper()}".encode()).hexdigest()
    return f"sh_{digest[:20]}"


class ShipmentRecords:
    def __init__(self, table: Table) -> None:
        self._table = table

    def get(self, order_id: str, shipment_id: str) -> Shipment | None:
        item = self._table.get(order_pk(order_id), SHIPMENT_PREFIX + shipment_id, consistent=True)
        return Shipment.from_item(item) if item else None

    def of_order(self, order_id: str) -> list[Shipment]:
        items = self._table.query_all(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :sk)",
            ExpressionAttributeValues={
                ":pk": {"S": order_pk(order_id)},
                ":sk": {"S": SHIPMENT_PREFIX},
            },
            ConsistentRead=True,
        )
        return sorted((Shipment.from_item(i) for i in items), key=lambda s: s.created_at)

    def stage_create(self, shipment: Shipment) -> Any:
        def stage(txn: Transaction) -> None:
            txn.put(
                {
                    "PK": order_pk(shipment.order_id),
                    "SK": SHIPMENT_PREFIX + shipment.shipment_id,
                    "type": "shipment",
                    "shipment_id": shipment.shipment_id,
                    "order_id": shipment.order_id,
                    "carrier": shipment.carrier,
                    "tracking_number": shipment.tracking_number,
                    "tracking_url": shipment.tracking_url,
                    "lines": [line.model_dump() for line in shipment.lines],
                    "complete": shipment.complete,
                    "created_at": shipment.created_at,
                },
                condition="attribute_not_exists(PK)",
            )

        return stage

    def stage_notified(self, order_id: str, shipment_id: str, reference: str) -> Any:
        def stage(txn: Transaction) -> None:
            txn.update(
                order_pk(order_id),
                SHIPMENT_PREFIX + shipment_id,
                "SET channel_reference = :ref",
                condition="attribute_exists(PK) AND attribute_not_exists(channel_reference)",
                values={":ref": reference},
            )

        return stage


def shipped_so_far(shipments: list[Shipment]) -> dict[int, int]:
    shipped: dict[int, int] = {}
    for shipment in shipments:
        for line in shipment.lines:
            shipped[line.line_no] = shipped.get(line.line_no, 0) + line.quantity
    return shipped


@dataclass
class Shipments:
    orders: OrderStore
    stock: StockStore
    records: ShipmentRecords
    now: Clock = utc_now

    def record(
        self, order_id: str, request: ShipmentRequest, *, actor: str
    ) -> tuple[Shipment, bool]:
        """Record a shipment once; returns it and whether this call recorded it."""
        shipment_id = shipment_id_of(order_id, request.tracking_number)
        for _ in range(MAX_ATTEMPTS):
            before = self.records.of_order(order_id)
            existing = next((s for s in before if s.shipment_id == shipment_id), None)
            if existing is not None:
                return existing, False
            state = self.orders.get(order_id)
            details = self.orders.details(order_id)
            if state is None or details is None:
                raise OrderNotFound(order_id)
            self._check_shippable(state)
            so_far = shipped_so_far(before)
            lines = self._lines(details, request, so_far)
            complete = _complete(details, so_far, lines)
            at = self.now()
            shipment = Shipment(
                shipment_id=shipment_id,
                order_id=order_id,
                carrier=request.carrier,
                tracking_number=request.tracking_number,
                tracking_url=request.tracking_url,
                lines=tuple(lines),
                complete=complete,
                created_at=utc_iso(at),
            )
            reservations, shipped = _take_out(state, details, lines)
            try:
                self.orders.apply(
                    state,
                    Change(
                        event=ShipmentCreated(
                            shipment_id=shipment_id,
                            channel=state.channel,
                            carrier=request.carrier,
                            tracking_number=request.tracking_number,
                            tracking_url=request.tracking_url,
                            lines=lines,
                            complete=complete,
                        ),
                        to_status=OrderStatus.SHIPPED if complete else None,
                        actor=actor,
                        at=at,
                        set_fields={
                            "reservations": [a.model_dump() for a in reservations],
                            "shipped_any": True,
                        },
                    ),
                    joined=[
                        self.records.stage_create(shipment),
                        *(
                            staged(self.stock.ship, order_id, held, quantity, at=at)
                            for held, quantity in shipped
                        ),
                    ],
                )
            except (ConcurrentModification, TransactionConflict):
                continue  # the order or a shipment of it changed: read again
            return shipment, True
        raise ConcurrentModification(f"order {order_id} kept changing while shipping it")

    @staticmethod
    def _check_shippable(state: OrderState) -> None:
        if state.held:
            raise NotShippable(f"order {state.order_id} is held: {state.held}; release it first")
        if state.status is not OrderStatus.READY_TO_SHIP:
            raise NotShippable(f"order {state.order_id} is {state.status.value}, not ready_to_ship")

    @staticmethod
    def _lines(
        details: Order, request: ShipmentRequest, shipped: dict[int, int]
    ) -> list[ShippedLine]:
        left = {
            line.line_no: line.quantity - shipped.get(line.line_no, 0) for line in details.lines
        }
        if request.lines is None:
            lines = [ShippedLine(line_no=n, quantity=q) for n, q in left.items() if q > 0]
            if not lines:
                raise NotShippable("every line of the order has shipped already")
            return lines
        wanted: dict[int, int] = {}
        for line in request.lines:
            wanted[line.line_no] = wanted.get(line.line_no, 0) + line.quantity
        for line_no, quantity in wanted.items():
            if line_no not in left:
                raise NotShippable(f"the order has no line {line_no}")
            if quantity > left[line_no]:
                raise NotShippable(
                    f"line {line_no}: {quantity} units to ship, {left[line_no]} left to ship"
                )
        return [ShippedLine(line_no=n, quantity=q) for n, q in sorted(wanted.items())]


def _complete(details: Order, shipped: dict[int, int], lines: list[ShippedLine]) -> bool:
    now = dict(shipped)
    for line in lines:
        now[line.line_no] = now.get(line.line_no, 0) + line.quantity
    return all(now.get(line.line_no, 0) >= line.quantity for line in details.lines)


def _take_out(
    state: OrderState, details: Order, lines: list[ShippedLine]
) -> tuple[list[Allocation], list[tuple[Allocation, int]]]:
    """Which reservations the shipped units come out of, and the reservations left after."""
    by_line = {line.line_no: line for line in details.lines}
    units: dict[str, int] = {}
    for shipped in lines:
        sku = by_line[shipped.line_no].sku
        if sku is not None:
            units[sku] = units.get(sku, 0) + shipped.quantity
    held_units = {held.sku: held.quantity for held in state.reservations}
    for sku, quantity in units.items():
        if quantity > held_units.get(sku, 0):
            # Every stock-holding unit ships out of its reservation; one that has none would
            # leave the warehouse without leaving the stock count.
            raise NotShippable(
                f"{quantity} units of {sku} to ship, {held_units.get(sku, 0)} reserved for it"
            )
    left: list[Allocation] = []
    taken: list[tuple[Allocation, int]] = []
    for held in state.reservations:
        quantity = min(units.get(held.sku, 0), held.quantity)
        if quantity:
            taken.append((held, quantity))
        if held.quantity - quantity > 0:
            left.append(held.model_copy(update={"quantity": held.quantity - quantity}))
    return left, taken
