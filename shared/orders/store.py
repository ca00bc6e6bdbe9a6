"""Orders in the single table.

ORDER#<id> / ORDER          hot fields only (status, version, totals, GSI keys); < 1 KB
ORDER#<id> / DETAILS        the canonical order as the channel sent it (lines, buyer, delivery)
ORDER#<id> / EVENT#<ver>    timeline: one per change, written in the change's transaction; its
                            stream INSERT is the outbox that publishes the domain event

The order's partition also holds items other contexts own: PAYMENT#... (shared/payments/store.py)
and WAIT#... (shared/platform/workflow.py); an order's view reads them all in one query.
CHANNEL#<ch>#<ext> / ORDER  the channel key: its conditional put is the order dedupe
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from shared.domain_events import event_from
from shared.kernel.errors import ConcurrentModification
from shared.kernel.events import DomainEvent, TimelineEntry
from shared.kernel.money import Money
from shared.kernel.time import utc_iso
from shared.orders.domain import Order, OrderStatus, PaymentMethod
from shared.orders.events import OrderReceived
from shared.payments.events import OrderHeld
from shared.platform.blobs import BlobStore
from shared.platform.schema import ALL_ORDERS_INDEX, STATUS_INDEX
from shared.platform.table import (
    ConditionFailed,
    Item,
    Table,
    Transaction,
    TransactionConflict,
    set_clause,
)
from shared.stock.domain import Allocation

ORDER_SK = "ORDER"
DETAILS_SK = "DETAILS"
ALL_ORDERS_KEY = "ORDERS"
MAX_READABLE_DETAILS_BYTES = 32 * 1024
# One transaction writes at most 4 MB, each item at most 400 KB: keep DETAILS well inside.
MAX_INLINE_DETAILS_BYTES = 200 * 1024


def order_pk(order_id: str) -> str:
    return f"ORDER#{order_id}"


def channel_pk(channel: str, external_id: str) -> str:
    return f"CHANNEL#{channel}#{external_id}"


def event_sk(version: int) -> str:
    return f"EVENT#{version:08d}"


def _status_keys(status: OrderStatus, created_at: str, order_id: str) -> dict[str, str]:
    return {
        f"{STATUS_INDEX}PK": f"STATUS#{status.value}",
        f"{STATUS_INDEX}SK": f"{created_at}#{order_id}",
    }


@dataclass(frozen=True)
class OrderState:
    """The hot order item: what workflow steps and reducers decide on."""

    order_id: str
    status: OrderStatus
    version: int
    channel: str
    external_id: str
    external_number: str | None
    total: Money
    payment_method: PaymentMethod
    payment_required: bool
    created_at: str
    received_at: str
    updated_at: str
    status_reason: str | None = None
    revision: int = 0  # the channel's revision the stored order is at (a higher one wins)
    reservations: tuple[Allocation, ...] = ()
    attention: str | None = None  # why a person must look at it, when automation stopped
    test: bool = False  # the channel marked it a test order
    # A provider reported money taken for it (set before the payment is recorded): an order
    # with money received is never cancelled by compensation, whatever its status says.
    money_received: bool = False
    money_received_at: str | None = None
    # Held for review before it ships (a provider flagged the payment's risk); released
    # through the API.
    held: str | None = None
    # On bank transfer (awaiting_transfer): due by the end of this UTC day (ISO date); when
    # overdue, "cancel" or "escalate" (a person decides); a reminder from this moment.
    transfer_due: str | None = None
    transfer_on_overdue: str | None = None
    transfer_remind_at: str | None = None
    transfer_reminded: bool = False
    # Disputes (chargebacks) already put on the order's attention list, by provider id.
    disputes: tuple[str, ...] = ()
    # A shipment of it has left (maybe not all of it): its lines can no longer change here.
    shipped_any: bool = False

    @classmethod
    def from_item(cls, item: Item) -> OrderState:
        return cls(
            order_id=item["order_id"],
            status=OrderStatus(item["status"]),
            version=item["version"],
            channel=item["channel"],
            external_id=item["external_id"],
            external_number=item.get("external_number"),
            total=Money(amount=item["total"], currency=item["currency"]),
            payment_method=PaymentMethod(item["payment_method"]),
            payment_required=item["payment_required"],
            created_at=item["created_at"],
            received_at=item["received_at"],
            updated_at=item["updated_at"],
            status_reason=item.get("status_reason"),
            revision=int(item.get("revision", 0)),
            reservations=tuple(Allocation.model_validate(r) for r in item.get("reservations", [])),
            attention=item.get("attention"),
            test=item.get("test", False),
            money_received=item.get("money_received", False),
            money_received_at=item.get("money_received_at"),
            held=item.get("held"),
            transfer_due=item.get("transfer_due"),
            transfer_on_overdue=item.get("transfer_on_overdue"),
            transfer_remind_at=item.get("transfer_remind_at"),
            transfer_reminded=item.get("transfer_reminded", False),
            disputes=tuple(item.get("disputes", ())),
            shipped_any=item.get("shipped_any", False),
        )


# Stages one other context's writes into an order change's transaction (see `apply`).
Joined = Callable[[Transaction], object]


@dataclass
class Change:
    """One change to an order: a domain event, maybe a new status, field updates."""

    event: DomainEvent
    actor: str
    at: datetime
    to_status: OrderStatus | None = None
    # Further events the same change stands for (a COD order is reserved and ready at once).
    then: tuple[DomainEvent, ...] = ()
    set_fields: dict[str, Any] = field(default_factory=dict)
    # A further condition on the order item, ANDed with the version check (a failing one is
    # reported like a concurrent change: the caller reads again and decides again).
    condition: str | None = None


class OrderRepository:
    def __init__(self, table: Table, blobs: BlobStore | None = None) -> None:
        self._table = table
        self._blobs = blobs

    # -- creation ---------------------------------------------------------------------------
    def create(
        self,
        order_id: str,
        order: Order,
        *,
        received_at: datetime,
        actor: str,
        held: str | None = None,
    ) -> str:
        """Store a new order once. Returns the order id: ours, or the one the channel key holds.

        `held`: it waits for a person before its workflow may reserve stock (lines whose SKU
        the shop's listings do not know); OrderHeld follows OrderReceived in the same write."""
        created_at = utc_iso(order.placed_at)
        now = utc_iso(received_at)
        hot: dict[str, Any] = {
            "PK": order_pk(order_id),
            "SK": ORDER_SK,
            "type": "order",
            "order_id": order_id,
            "status": OrderStatus.RECEIVED.value,
            "version": 1,
            "channel": order.channel,
            "external_id": order.external_id,
            "external_number": order.external_number,
            "revision": order.revision,
            "total": order.totals.total.amount,
            "currency": order.currency,
            "payment_method": order.payment_method.value,
            "payment_required": order.payment_required,
            "test": order.test,
            # Lowercased for the order history's `email` filter (GET /api/v1/orders?email=).
            **({"buyer_email": order.buyer.email.lower()} if order.buyer.email else {}),
            "created_at": created_at,
            "received_at": now,
            "updated_at": now,
            **_status_keys(OrderStatus.RECEIVED, created_at, order_id),
            f"{ALL_ORDERS_INDEX}PK": ALL_ORDERS_KEY,
            f"{ALL_ORDERS_INDEX}SK": f"{created_at}#{order_id}",
        }
        entry = TimelineEntry(
            order_id=order_id,
            version=1,
            at=received_at,
            actor=actor,
            status=OrderStatus.RECEIVED.value,
            event=OrderReceived(
                channel=order.channel,
                external_id=order.external_id,
                total=order.totals.total,
                payment_method=order.payment_method,
            ),
        )
        entries = [entry]
        if held is not None:
            hot.update(held=held, status_reason=held, version=2)
            entries.append(
                TimelineEntry(
                    order_id=order_id,
                    version=2,
                    at=received_at,
                    actor=actor,
                    status=OrderStatus.RECEIVED.value,
                    event=OrderHeld(reason=held),
                )
            )
        txn = self._table.transaction()
        txn.put(
            {
                "PK": channel_pk(order.channel, order.external_id),
                "SK": ORDER_SK,
                "type": "channel_key",
                "order_id": order_id,
                "revision": order.revision,
            },
            condition="attribute_not_exists(PK)",
        )
        txn.put(hot, condition="attribute_not_exists(PK)")
        self.stage_details(order_id, order)(txn)
        for timeline in entries:
            txn.put(_timeline_item(timeline))
        try:
            txn.commit()
        except TransactionConflict as conflict:
            if 0 not in conflict.failed:
                raise
            existing = self.find_by_channel(order.channel, order.external_id)
            if existing is None:
                raise ConcurrentModification("channel key vanished while creating") from conflict
            return existing
        return order_id

    def stage_details(self, order_id: str, order: Order) -> Joined:
        """Write the order's DETAILS (the canonical order) in a change's transaction: at
        creation, and when the channel updates the order or a line's SKU is mapped."""

        def stage(txn: Transaction) -> None:
            txn.put(
                {
                    "PK": order_pk(order_id),
                    "SK": DETAILS_SK,
                    "type": "order_details",
                    **self._details_payload(order),
                }
            )

        return stage

    def _details_payload(self, order: Order) -> dict[str, Any]:
        """The canonical order as the DETAILS item holds it: readable JSON when small,
        compressed when large, and in S3 when even that would not fit beside the other items
        of the creating transaction (a buyer's note alone can be hundreds of KB)."""
        document = order.model_dump_json().encode()
        if len(document) <= MAX_READABLE_DETAILS_BYTES:
            return {"order": document.decode()}
        compressed = zlib.compress(document, level=1)
        if len(compressed) <= MAX_INLINE_DETAILS_BYTES or self._blobs is None:
            return {"order_zlib": compressed}
        # Content-addressed: a redelivery writes the same object again, never a second one.
        key = f"orders/details/{hashlib.sha256(compressed).hexdigest()}.json.z"
        self._blobs.put(key, compressed)
        return {"order_blob_key": key}

    def find_by_channel(self, channel: str, external_id: str) -> str | None:
        item = self._table.get(channel_pk(channel, external_id), ORDER_SK, consistent=True)
        return item["order_id"] if item else None

    # -- reading ----------------------------------------------------------------------------
    def get(self, order_id: str) -> OrderState | None:
        item = self.get_item(order_id)
        return OrderState.from_item(item) if item else None

    def get_item(self, order_id: str) -> Item | None:
        """The hot order item as stored (it carries every listing column)."""
        return self._table.get(order_pk(order_id), ORDER_SK, consistent=True)

    def details(self, order_id: str) -> Order | None:
        item = self._table.get(order_pk(order_id), DETAILS_SK)
        return details_of(item, self._blobs) if item else None

    def partition(self, order_id: str) -> list[Item]:
        """Every item of an order (hot item, details, timeline, payments, waits)."""
        return self._table.query_all(
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": order_pk(order_id)}},
            ConsistentRead=True,
        )

    # -- changing ---------------------------------------------------------------------------
    def apply(
        self, state: OrderState, change: Change, *, joined: Sequence[Joined] = ()
    ) -> OrderState:
        """Commit a change atomically with its timeline entry; ConcurrentModification if the
        order moved since `state` was read (the caller re-reads and decides again).

        `joined` adds another context's writes to the same transaction: only the named
        cross-context operations pass it (shared/fulfilment/transactions.py,
        shared/payments/transactions.py), each write staged by its own context's store."""
        version = state.version + 1 + len(change.then)
        status = change.to_status or state.status
        at = utc_iso(change.at)
        sets: dict[str, Any] = {"version": version, "updated_at": at}
        sets.update({k: v for k, v in change.set_fields.items() if v is not None})
        if change.to_status is not None:
            sets["status"] = status.value
            sets.update(_status_keys(status, state.created_at, state.order_id))
        # None means "remove": optional fields are absent rather than stored as NULL.
        removes = [k for k, v in change.set_fields.items() if v is None]
        expression, names, values = set_clause(sets)
        values[":expected"] = state.version
        if removes:
            names.update({f"#r{i}": name for i, name in enumerate(removes)})
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(removes)))
        entries = [
            TimelineEntry(
                order_id=state.order_id,
                version=state.version + 1 + offset,
                at=change.at,
                actor=change.actor,
                status=status.value,
                event=event,
            )
            for offset, event in enumerate((change.event, *change.then))
        ]
        txn = self._table.transaction()
        condition = "version = :expected"
        if change.condition:
            condition += f" AND ({change.condition})"
        txn.update(
            order_pk(state.order_id),
            ORDER_SK,
            expression,
            condition=condition,
            values=values,
            names=names,
        )
        for entry in entries:
            txn.put(_timeline_item(entry))
        for stage in joined:
            stage(txn)
        try:
            txn.commit()
        except TransactionConflict as conflict:
            if 0 in conflict.failed:
                raise ConcurrentModification(
                    f"order {state.order_id} changed after version {state.version}"
                ) from conflict
            raise
        return state_after(state, change, version=version, status=status, at=at)

    def note_revision(self, order_id: str, revision: int) -> None:
        """Remember a newer channel revision that changes nothing orderhub keeps (no version
        bump, no timeline entry); an older one never overwrites a newer."""
        with suppress(ConditionFailed):  # as new, or newer: nothing to remember
            self._table.update(
                order_pk(order_id),
                ORDER_SK,
                "SET revision = :revision",
                condition="attribute_exists(PK) AND revision < :revision",
                values={":revision": revision},
            )

    # -- money (the payments context flags it; compensation reads it) ---------------------
    def mark_money_received(self, order_id: str, *, at: datetime) -> None:
        """Flag the order before a succeeded payment is recorded: a crash in between leaves a
        flag without its payment (safe: nothing is cancelled), never a payment without it."""
        self._table.update(
            order_pk(order_id),
            ORDER_SK,
            "SET money_received = :yes, money_received_at = :at",
            condition="attribute_exists(PK)",
            values={":yes": True, ":at": utc_iso(at)},
        )

    # -- listing ----------------------------------------------------------------------------
    def list_page(
        self,
        *,
        status: OrderStatus | None,
        created_from: str | None,
        created_to: str | None,
        filters: Mapping[str, str],
        limit: int,
        start_key: dict[str, Any] | None,
        total_min: int | None = None,
        total_max: int | None = None,
    ) -> tuple[list[Item], dict[str, Any] | None]:
        """Newest first, from the status index or the all-orders index, date-ranged on the sort
        key; `filters` (attribute = text: channel, currency, buyer_email) and the total's range
        (minor units, inclusive) apply on top as a FilterExpression, so a page may hold fewer
        than `limit` (DynamoDB counts the items it read, not the ones that passed)."""
        index, pk_name, sk_name, pk_value = (
            (STATUS_INDEX, f"{STATUS_INDEX}PK", f"{STATUS_INDEX}SK", f"STATUS#{status.value}")
            if status is not None
            else (
                ALL_ORDERS_INDEX,
                f"{ALL_ORDERS_INDEX}PK",
                f"{ALL_ORDERS_INDEX}SK",
                ALL_ORDERS_KEY,
            )
        )
        values: dict[str, Any] = {":pk": {"S": pk_value}}
        condition = f"{pk_name} = :pk"
        # Sort keys are "<created_at>#<order id>": "~" sorts after every id character.
        if created_from and created_to:
            condition += f" AND {sk_name} BETWEEN :from AND :to"
            values[":from"] = {"S": created_from}
            values[":to"] = {"S": created_to + "~"}
        elif created_from:
            condition += f" AND {sk_name} >= :from"
            values[":from"] = {"S": created_from}
        elif created_to:
            condition += f" AND {sk_name} <= :to"
            values[":to"] = {"S": created_to + "~"}
        request: dict[str, Any] = {
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
            "Limit": limit,
        }
        clauses = [f"#{k} = :{k}" for k in filters]
        names = {f"#{k}": k for k in filters}
        values.update({f":{k}": {"S": v} for k, v in filters.items()})
        for placeholder, bound, operator in (
            (":total_min", total_min, ">="),
            (":total_max", total_max, "<="),
        ):
            if bound is not None:
                clauses.append(f"#total {operator} {placeholder}")
                names["#total"] = "total"
                values[placeholder] = {"N": str(bound)}
        if clauses:
            request["FilterExpression"] = " AND ".join(clauses)
            request["ExpressionAttributeNames"] = names
        if start_key:
            request["ExclusiveStartKey"] = start_key
        return self._table.query(**request)


def state_after(
    state: OrderState, change: Change, *, version: int, status: OrderStatus, at: str
) -> OrderState:
    """The hot state a committed change leaves (what `apply` returns, without a read)."""
    fields = change.set_fields
    updated = replace(state, version=version, status=status, updated_at=at)
    if "status_reason" in fields:
        updated = replace(updated, status_reason=fields["status_reason"])
    if "attention" in fields:
        updated = replace(updated, attention=fields["attention"])
    if "held" in fields:
        updated = replace(updated, held=fields["held"])
    if "revision" in fields:
        updated = replace(updated, revision=fields["revision"])
    if "shipped_any" in fields:
        updated = replace(updated, shipped_any=bool(fields["shipped_any"]))
    if "total" in fields and "currency" in fields:
        updated = replace(updated, total=Money(amount=fields["total"], currency=fields["currency"]))
    if "payment_required" in fields:
        updated = replace(updated, payment_required=fields["payment_required"])
    if "payment_method" in fields:
        updated = replace(updated, payment_method=PaymentMethod(fields["payment_method"]))
    for name in ("transfer_due", "transfer_on_overdue", "transfer_remind_at", "transfer_reminded"):
        if name in fields:
            updated = replace(updated, **{name: fields[name]})
    if "disputes" in fields:
        updated = replace(updated, disputes=tuple(fields["disputes"] or ()))
    if "reservations" in fields:
        updated = replace(
            updated,
            reservations=tuple(Allocation.model_validate(r) for r in fields["reservations"] or []),
        )
    return updated


def details_of(item: Item, blobs: BlobStore | None) -> Order:
    """The canonical order of a DETAILS item, wherever its document is kept."""
    if "order" in item:
        return Order.model_validate_json(item["order"])
    if "order_zlib" in item:
        return Order.model_validate_json(zlib.decompress(item["order_zlib"]))
    if blobs is None:
        raise RuntimeError("the order's details are in S3 and no blob store was given")
    return Order.model_validate_json(zlib.decompress(blobs.get(item["order_blob_key"])))


def _timeline_item(entry: TimelineEntry) -> dict[str, Any]:
    return {
        "PK": order_pk(entry.order_id),
        "SK": event_sk(entry.version),
        "type": "event",
        "event_type": entry.type.value,
        "event_version": entry.schema_version,
        "order_id": entry.order_id,
        "version": entry.version,
        "at": utc_iso(entry.at),
        "actor": entry.actor,
        "status": entry.status,
        "detail": entry.event.model_dump_json(),
    }


def timeline_entry_of(item: Item) -> TimelineEntry:
    return TimelineEntry(
        order_id=item["order_id"],
        version=item["version"],
        at=datetime.fromisoformat(item["at"]),
        actor=item["actor"],
        status=item["status"],
        event=event_from(item["event_type"], item["detail"]),
        event_version=item.get("event_version", 1),
    )
