"""In-memory fakes of the stores the services use (shared/<context>/ports.py), and the services
wired to them: the unit tests' world, with no AWS, no moto and no sockets.

Each fake keeps the rule its DynamoDB repository keeps with a condition, by the same condition:

- an order change is versioned: it commits only while the order is at the version it was read
  at and `Change.condition` holds, else ConcurrentModification (nothing is written);
- a change's transaction is all or nothing, `joined` writes included: every condition is checked
  first (stock `available >= qty`, a reservation not there yet, a payment's decision not written
  yet), the failing ones are named by index in TransactionConflict like DynamoDB's cancellation
  reasons, and only when none fails is anything written;
- a payment record keeps its highest-ranked status (STATUS_RANK), `applied` is set once, and a
  decision is written once;
- the channel key makes `create` return the order stored first;
- a wait is forgotten only with the token it holds; a parked payment is one per provider event.

tests/store_contract.py runs the same scenarios against these fakes (tests/unit/test_fakes.py)
and against the real repositories on moto (tests/integration/test_fakes_parity.py). Known
differences, none of which the services rely on:

- no GSI listings, partitions, S3 details or TTL expiry (DynamoDB's TTL is lazy too: an expired
  wait stays readable until it is swept, which the fake models by never sweeping);
- two actions on one item in a transaction, or more than 100 actions, raise ValueError here
  where DynamoDB answers ValidationException (a ClientError); and `release` of stock that was
  never counted raises ValueError (DynamoDB: a ValidationError cancellation reason);
- conditions are evaluated from the few `Change.condition` forms the services use
  (`attribute_exists(x)` / `attribute_not_exists(x)`); any other raises NotImplementedError, so
  a new condition in a service makes the fake be taught it rather than ignore it.

Races are made deterministic instead of threaded: `before("apply", act)` / `after(...)` run
`act` once around the next call of that method, the way another Lambda lands between our read
and our write. They are fakes' hooks, not mocks: no call is asserted on.
"""

from __future__ import annotations

import copy
import functools
import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from shared.fulfilment.service import FulfilmentService
from shared.kernel.errors import ConcurrentModification, InvalidStockLevel
from shared.kernel.events import EventType, TimelineEntry
from shared.kernel.time import utc_iso
from shared.orders.domain import Order, OrderStatus
from shared.orders.events import OrderReceived
from shared.orders.intake import OrderIntake
from shared.orders.store import (
    DETAILS_SK,
    ORDER_SK,
    Change,
    Joined,
    OrderState,
    channel_pk,
    event_sk,
    order_pk,
    state_after,
)
from shared.payments.domain import STATUS_RANK, PaymentDecision, PaymentEvent
from shared.payments.events import OrderHeld
from shared.payments.parked import ParkedPayment, parked_pk, reference_of
from shared.payments.service import PaymentService
from shared.payments.store import PaymentRecord, payment_sk
from shared.platform.table import ConditionFailed, Item, Table, Transaction, TransactionConflict
from shared.stock.domain import Allocation, StockLevel
from shared.stock.store import reservation_sk, sku_pk, warehouse_sk
from tests.builders import an_order

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

P = ParamSpec("P")
T = TypeVar("T")
R = TypeVar("R", bound="Races")
ItemKey = tuple[str, str]
MAX_TRANSACTION_ACTIONS = 100  # DynamoDB's TransactWriteItems limit


# -- races ------------------------------------------------------------------------------------
class Races:
    """Runs another actor's step at an exact point of ours (see the module docstring)."""

    def __init__(self) -> None:
        self._hooks: dict[tuple[str, str], list[Callable[[], object]]] = {}

    def before(self, method: str, action: Callable[[], object]) -> None:
        """Run `action` once, just before the next call of `method`."""
        self._hook("before", method, action)

    def after(self, method: str, action: Callable[[], object]) -> None:
        """Run `action` once, just after the next call of `method` returns."""
        self._hook("after", method, action)

    def _hook(self, when: str, method: str, action: Callable[[], object]) -> None:
        if not getattr(getattr(type(self), method, None), "race_point", False):
            raise AttributeError(f"{type(self).__name__}.{method} is not a race point")
        self._hooks.setdefault((when, method), []).append(action)

    def _fire(self, when: str, method: str) -> None:
        # Popped before running: the action may call the same method without looping.
        for action in self._hooks.pop((when, method), []):
            action()


def race_point(method: Callable[Concatenate[R, P], T]) -> Callable[Concatenate[R, P], T]:
    @functools.wraps(method)
    def run(self: R, /, *args: P.args, **kwargs: P.kwargs) -> T:
        self._fire("before", method.__name__)
        result = method(self, *args, **kwargs)
        self._fire("after", method.__name__)
        return result

    run.race_point = True  # type: ignore[attr-defined]
    return run


# -- transactions -----------------------------------------------------------------------------
def _no_client() -> DynamoDBClient:
    raise RuntimeError("a fake transaction never reaches DynamoDB")


def _always() -> bool:
    return True


@dataclass
class _Step:
    key: ItemKey
    holds: Callable[[], bool]
    write: Callable[[], None]


class FakeTransaction(Transaction):
    """A Transaction (so `Change.also` and the stores' helpers take it) whose actions are staged
    in-memory steps, each a condition and a write, keyed by the item it touches.

    `commit` checks every condition against the fakes' current state, then writes all or none:
    TransactionConflict names the failing indexes, as DynamoDB's cancellation reasons do. The
    DynamoDB-expression methods refuse: a fake store stages typed steps instead."""

    def __init__(self) -> None:
        super().__init__(table=Table("in-memory", client=_no_client))
        self.steps: list[_Step] = []

    def stage(self, key: ItemKey, holds: Callable[[], bool], write: Callable[[], None]) -> int:
        if any(step.key == key for step in self.steps):
            raise ValueError(f"one transaction cannot touch {key} twice (ValidationException)")
        if len(self.steps) >= MAX_TRANSACTION_ACTIONS:
            raise ValueError("a transaction holds at most 100 actions (ValidationException)")
        self.steps.append(_Step(key, holds, write))
        return len(self.steps) - 1

    def put(
        self,
        item: Any,
        condition: str | None = None,
        values: Any = None,
        names: Any = None,
    ) -> int:
        raise TypeError("a fake transaction stages fake stores' steps, not DynamoDB actions")

    def update(
        self,
        pk: str,
        sk: str,
        expression: str,
        *,
        condition: str | None = None,
        values: Any = None,
        names: Any = None,
    ) -> int:
        raise TypeError("a fake transaction stages fake stores' steps, not DynamoDB actions")

    def delete(
        self,
        pk: str,
        sk: str,
        *,
        condition: str | None = None,
        values: Any = None,
        names: Any = None,
    ) -> int:
        raise TypeError("a fake transaction stages fake stores' steps, not DynamoDB actions")

    def commit(self) -> None:
        failed = [index for index, step in enumerate(self.steps) if not step.holds()]
        if failed:
            reasons = [
                "ConditionalCheckFailed" if index in failed else "None"
                for index in range(len(self.steps))
            ]
            raise TransactionConflict(failed, reasons)
        for step in self.steps:
            step.write()


def staged(txn: Transaction) -> FakeTransaction:
    """The fake transaction a fake store joins; a real one cannot carry in-memory writes."""
    if not isinstance(txn, FakeTransaction):
        raise TypeError("a fake store joins only a FakeTransaction (a fake's change)")
    return txn


_ATTRIBUTE_CONDITION = re.compile(r"^(attribute_exists|attribute_not_exists)\((\w+)\)$")


def _condition(expression: str | None) -> Callable[[Item], bool]:
    """The order-item conditions the services put on a change, evaluated on the stored item."""
    if expression is None:
        return lambda _item: True
    match = _ATTRIBUTE_CONDITION.match(expression.strip())
    if match is None:
        raise NotImplementedError(f"the fake cannot evaluate {expression!r}: teach it here")
    function, name = match.groups()
    if function == "attribute_exists":
        return lambda item: name in item
    return lambda item: name not in item


# -- orders -----------------------------------------------------------------------------------
class FakeOrders(Races):
    """OrderStore in memory: items shaped like the hot ORDER item, read back through
    OrderState.from_item like the real ones."""

    def __init__(self) -> None:
        super().__init__()
        self.hot: dict[str, Item] = {}
        self.details_json: dict[str, str] = {}
        self.channel_keys: dict[ItemKey, str] = {}
        self.events: dict[str, dict[int, TimelineEntry]] = {}

    # -- creation ---------------------------------------------------------------------------
    @race_point
    def create(
        self,
        order_id: str,
        order: Order,
        *,
        received_at: datetime,
        actor: str,
        held: str | None = None,
    ) -> str:
        channel_key = (order.channel, order.external_id)
        now = utc_iso(received_at)
        hot: Item = {
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
            "created_at": utc_iso(order.placed_at),
            "received_at": now,
            "updated_at": now,
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

        def keep_key() -> None:
            self.channel_keys[channel_key] = order_id

        entries = {1: entry}
        if held is not None:
            hot.update(held=held, status_reason=held, version=2)
            entries[2] = entry.model_copy(update={"version": 2, "event": OrderHeld(reason=held)})

        def keep_order() -> None:
            self.hot[order_id] = {k: v for k, v in hot.items() if v is not None}

        def keep_details() -> None:
            self.details_json[order_id] = order.model_dump_json()

        def keep_entry() -> None:
            self.events[order_id] = dict(entries)

        txn = FakeTransaction()
        pk = order_pk(order_id)
        txn.stage(
            (channel_pk(*channel_key), ORDER_SK),
            lambda: channel_key not in self.channel_keys,
            keep_key,
        )
        txn.stage((pk, ORDER_SK), lambda: order_id not in self.hot, keep_order)
        txn.stage((pk, DETAILS_SK), _always, keep_details)
        txn.stage((pk, event_sk(1)), _always, keep_entry)
        try:
            txn.commit()
        except TransactionConflict as conflict:
            if 0 not in conflict.failed:
                raise
            return self.channel_keys[channel_key]
        return order_id

    def note_revision(self, order_id: str, revision: int) -> None:
        hot = self.hot.get(order_id)
        if hot is not None and hot.get("revision", 0) < revision:
            hot["revision"] = revision

    def stage_details(self, order_id: str, order: Order) -> Joined:
        def stage(txn: Transaction) -> None:
            def keep() -> None:
                self.details_json[order_id] = order.model_dump_json()

            staged(txn).stage((order_pk(order_id), DETAILS_SK), _always, keep)

        return stage

    @race_point
    def find_by_channel(self, channel: str, external_id: str) -> str | None:
        return self.channel_keys.get((channel, external_id))

    # -- reading ----------------------------------------------------------------------------
    @race_point
    def get(self, order_id: str) -> OrderState | None:
        item = self.hot.get(order_id)
        return OrderState.from_item(copy.deepcopy(item)) if item is not None else None

    @race_point
    def details(self, order_id: str) -> Order | None:
        document = self.details_json.get(order_id)
        return Order.model_validate_json(document) if document is not None else None

    # -- changing ---------------------------------------------------------------------------
    @race_point
    def apply(
        self, state: OrderState, change: Change, *, joined: Sequence[Joined] = ()
    ) -> OrderState:
        order_id = state.order_id
        version = state.version + 1 + len(change.then)
        status = change.to_status or state.status
        at = utc_iso(change.at)
        sets: Item = {"version": version, "updated_at": at}
        sets.update({k: v for k, v in change.set_fields.items() if v is not None})
        if change.to_status is not None:
            sets["status"] = status.value
        removes = [k for k, v in change.set_fields.items() if v is None]
        condition = _condition(change.condition)

        def order_holds() -> bool:
            item = self.hot.get(order_id)
            return item is not None and item["version"] == state.version and condition(item)

        def order_write() -> None:
            item = self.hot[order_id]
            item.update(copy.deepcopy(sets))
            for name in removes:
                item.pop(name, None)

        txn = FakeTransaction()
        txn.stage((order_pk(order_id), ORDER_SK), order_holds, order_write)
        for offset, event in enumerate((change.event, *change.then)):
            entry = TimelineEntry(
                order_id=order_id,
                version=state.version + 1 + offset,
                at=change.at,
                actor=change.actor,
                status=status.value,
                event=event,
            )
            txn.stage(
                (order_pk(order_id), event_sk(entry.version)),
                _always,
                functools.partial(self._keep_event, entry),
            )
        for stage in joined:
            stage(txn)
        try:
            txn.commit()
        except TransactionConflict as conflict:
            if 0 in conflict.failed:
                raise ConcurrentModification(
                    f"order {order_id} changed after version {state.version}"
                ) from conflict
            raise
        return state_after(state, change, version=version, status=status, at=at)

    def _keep_event(self, entry: TimelineEntry) -> None:
        self.events.setdefault(entry.order_id, {})[entry.version] = entry

    # -- money -------------------------------------------------------------------------------
    @race_point
    def mark_money_received(self, order_id: str, *, at: datetime) -> None:
        item = self.hot.get(order_id)
        if item is None:
            raise ConditionFailed(None)
        item["money_received"] = True
        item["money_received_at"] = utc_iso(at)

    # -- what tests read (not part of OrderStore) -------------------------------------------
    def timeline(self, order_id: str) -> list[TimelineEntry]:
        entries = self.events.get(order_id, {})
        return [entries[version] for version in sorted(entries)]

    def event_types(self, order_id: str) -> list[EventType]:
        return [entry.type for entry in self.timeline(order_id)]


# -- payment records --------------------------------------------------------------------------
class FakePaymentRecords(Races):
    """PaymentRecordStore in memory: items shaped like the PAYMENT items, read back through
    PaymentRecord.from_item like the real ones."""

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[str, dict[str, Item]] = {}  # order id -> payment SK -> item
        self.refs: dict[tuple[str, str], str] = {}  # (provider, payment id) -> order id

    @race_point
    def record(self, order_id: str, payment: PaymentEvent, *, at: datetime) -> bool:
        items = self.items.setdefault(order_id, {})
        sk = payment_sk(payment.provider, payment.payment_id)
        current = items.get(sk)
        rank = STATUS_RANK[payment.status]
        if current is not None and not current["rank"] < rank:
            return False
        fields: Item = {
            "type": "payment",
            "provider": payment.provider,
            "payment_id": payment.payment_id,
            "status": payment.status.value,
            "rank": rank,
            "amount": payment.amount.amount,
            "currency": payment.amount.currency,
            "last_event_id": payment.provider_event_id,
            "updated_at": utc_iso(at),
            "occurred_at": utc_iso(payment.occurred_at),
        }
        # Like the real SET: absent optional fields keep what an earlier report stored.
        if payment.method:
            fields["method"] = payment.method
        if payment.failure_reason:
            fields["failure_reason"] = payment.failure_reason
        if payment.test:
            fields["test"] = True
        if payment.attempt is not None:
            fields["attempt"] = payment.attempt
        if payment.provider_data:
            fields["provider_data"] = dict(payment.provider_data)
        if payment.risk is not None:
            fields["risk_level"] = payment.risk.level.value
        fields["needs_capture"] = payment.needs_capture
        item = current if current is not None else {"applied": False}
        item.update(fields)
        items[sk] = item
        self.refs[(payment.provider, payment.payment_id)] = order_id
        return True

    def order_of(self, provider: str, payment_id: str) -> str | None:
        return self.refs.get((provider, payment_id))

    @race_point
    def of_order(self, order_id: str) -> list[PaymentRecord]:
        items = self.items.get(order_id, {})
        return [PaymentRecord.from_item(copy.deepcopy(items[sk])) for sk in sorted(items)]

    @race_point
    def mark_decided(
        self,
        txn: Transaction,
        order_id: str,
        payment: PaymentRecord,
        *,
        decision: PaymentDecision,
        applied: bool,
    ) -> int:
        sk = payment_sk(payment.provider, payment.payment_id)

        def undecided() -> bool:
            item = self.items.get(order_id, {}).get(sk)
            return item is not None and item.get("applied") is False and "decision" not in item

        def decide() -> None:
            self.items[order_id][sk].update(decision=decision.value, applied=applied)

        return staged(txn).stage((order_pk(order_id), sk), undecided, decide)


# -- workflow waits ---------------------------------------------------------------------------
class FakeTaskTokens(Races):
    """TaskTokenStore in memory: a wait is forgotten only with the token it holds."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: dict[ItemKey, str] = {}

    @race_point
    def put(self, order_id: str, name: str, token: str, *, at: datetime, ttl: timedelta) -> None:
        self.waits[(order_id, name)] = token

    @race_point
    def get(self, order_id: str, name: str) -> str | None:
        return self.waits.get((order_id, name))

    @race_point
    def delete(self, order_id: str, name: str, token: str) -> None:
        if self.waits.get((order_id, name)) == token:
            del self.waits[(order_id, name)]


# -- stock ------------------------------------------------------------------------------------
class FakeStock(Races):
    """StockStore in memory: levels keep `available = on_hand - reserved` explicitly, as the
    stock item does, and reservations are items of their own, written with the stock update."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: dict[ItemKey, dict[str, int]] = {}  # (sku, warehouse) -> counts
        self.reservations: dict[ItemKey, Allocation] = {}  # (sku, order id) -> allocation

    def set_on_hand(self, sku: str, warehouse: str, on_hand: int, *, at: datetime) -> StockLevel:
        """Count stock (StockRepository.set_on_hand; not in StockStore): reservations stay."""
        if on_hand < 0:
            raise InvalidStockLevel("on_hand cannot be negative")
        reserved = self.counts.get((sku, warehouse), {}).get("reserved", 0)
        self.counts[(sku, warehouse)] = {
            "on_hand": on_hand,
            "reserved": reserved,
            "available": on_hand - reserved,
        }
        return StockLevel(sku=sku, warehouse=warehouse, on_hand=on_hand, reserved=reserved)

    @race_point
    def levels(self, sku: str) -> list[StockLevel]:
        found = sorted(
            (warehouse_sk(warehouse), warehouse, counts)
            for (item_sku, warehouse), counts in self.counts.items()
            if item_sku == sku
        )
        return [
            StockLevel(sku=sku, warehouse=warehouse, on_hand=c["on_hand"], reserved=c["reserved"])
            for _, warehouse, c in found
        ]

    @race_point
    def reserve(
        self, txn: Transaction, order_id: str, allocation: Allocation, *, at: datetime
    ) -> tuple[int, int]:
        sku, warehouse, quantity = allocation.sku, allocation.warehouse, allocation.quantity

        def enough() -> bool:
            counts = self.counts.get((sku, warehouse))
            return counts is not None and counts["available"] >= quantity

        def take() -> None:
            self._move(sku, warehouse, quantity)

        def keep() -> None:
            self.reservations[(sku, order_id)] = allocation

        fake = staged(txn)
        stock = fake.stage((sku_pk(sku), warehouse_sk(warehouse)), enough, take)
        reservation = fake.stage(
            (sku_pk(sku), reservation_sk(order_id)),
            lambda: (sku, order_id) not in self.reservations,
            keep,
        )
        return stock, reservation

    @race_point
    def release(
        self, txn: Transaction, order_id: str, allocation: Allocation, *, at: datetime
    ) -> None:
        sku, warehouse, quantity = allocation.sku, allocation.warehouse, allocation.quantity

        def counted() -> bool:
            if (sku, warehouse) not in self.counts:
                raise ValueError(f"{sku} was never counted in {warehouse}: nothing to give back")
            return True

        def forget() -> None:
            del self.reservations[(sku, order_id)]

        fake = staged(txn)
        fake.stage(
            (sku_pk(sku), reservation_sk(order_id)),
            lambda: (sku, order_id) in self.reservations,
            forget,
        )
        fake.stage(
            (sku_pk(sku), warehouse_sk(warehouse)),
            counted,
            lambda: self._move(sku, warehouse, -quantity),
        )

    @race_point
    def adjust(
        self, txn: Transaction, order_id: str, held: Allocation, quantity: int, *, at: datetime
    ) -> None:
        sku, warehouse, more = held.sku, held.warehouse, quantity - held.quantity

        def enough() -> bool:
            counts = self.counts.get((sku, warehouse))
            return counts is not None and (more <= 0 or counts["available"] >= more)

        def keep() -> None:
            self.reservations[(sku, order_id)] = held.model_copy(update={"quantity": quantity})

        fake = staged(txn)
        fake.stage(
            (sku_pk(sku), warehouse_sk(warehouse)), enough, lambda: self._move(sku, warehouse, more)
        )
        fake.stage(
            (sku_pk(sku), reservation_sk(order_id)),
            lambda: (sku, order_id) in self.reservations,
            keep,
        )

    @race_point
    def ship(
        self, txn: Transaction, order_id: str, held: Allocation, quantity: int, *, at: datetime
    ) -> None:
        sku, warehouse = held.sku, held.warehouse

        def out() -> None:
            counts = self.counts[(sku, warehouse)]
            counts["on_hand"] -= quantity
            counts["reserved"] -= quantity
            if quantity >= held.quantity:
                del self.reservations[(sku, order_id)]
            else:
                self.reservations[(sku, order_id)] = held.model_copy(
                    update={"quantity": held.quantity - quantity}
                )

        staged(txn).stage(
            (sku_pk(sku), reservation_sk(order_id)),
            lambda: (sku, order_id) in self.reservations,
            out,
        )

    def _move(self, sku: str, warehouse: str, quantity: int) -> None:
        counts = self.counts[(sku, warehouse)]
        counts["reserved"] += quantity
        counts["available"] -= quantity

    # -- what tests read (not part of StockStore) -------------------------------------------
    def reserved_for(self, sku: str, order_id: str) -> int | None:
        allocation = self.reservations.get((sku, order_id))
        return allocation.quantity if allocation is not None else None

    def level(self, sku: str, warehouse: str = "WAW-1") -> tuple[int, int, int]:
        """(on_hand, reserved, available) of one stock item."""
        counts = self.counts[(sku, warehouse)]
        return counts["on_hand"], counts["reserved"], counts["available"]


# -- parked payments --------------------------------------------------------------------------
class FakeParkedPayments(Races):
    """ParkedPaymentStore in memory: one entry per provider event, under the order's reference
    (its channel key, or its orderhub id), listed in sort-key order."""

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[ItemKey, tuple[str, str]] = {}  # (PK, SK) -> (payment JSON, actor)

    @race_point
    def park(self, payment: PaymentEvent, *, actor: str, at: datetime) -> None:
        self.entries[self._key(payment)] = (payment.model_dump_json(), actor)

    @race_point
    def waiting_for(self, reference: str) -> list[ParkedPayment]:
        pk = parked_pk(reference)
        return [
            ParkedPayment(
                reference=reference,
                sort_key=sk,
                payment=PaymentEvent.model_validate_json(document),
                actor=actor,
            )
            for (item_pk, sk), (document, actor) in sorted(self.entries.items())
            if item_pk == pk
        ]

    @race_point
    def remove(self, parked: ParkedPayment) -> None:
        self.entries.pop((parked_pk(parked.reference), parked.sort_key), None)

    @race_point
    def forget(self, payment: PaymentEvent) -> None:
        self.entries.pop(self._key(payment), None)

    @staticmethod
    def _key(payment: PaymentEvent) -> ItemKey:
        return (
            parked_pk(reference_of(payment)),
            f"PAYMENT#{payment.provider}#{payment.payment_id}#{payment.provider_event_id}",
        )


# -- workflow and clock -----------------------------------------------------------------------
@dataclass
class FakeWorkflow:
    """Step Functions as the services see it (Workflow): one execution per order id (its name),
    and a task token completes once; a finished token cannot be resumed again."""

    started: dict[str, dict[str, Any]] = field(default_factory=dict)
    resumed: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    finished_tokens: set[str] = field(default_factory=set)

    def start(self, order_id: str, payload: dict[str, Any]) -> bool:
        if order_id in self.started:
            return False
        self.started[order_id] = payload
        return True

    def exists(self, order_id: str) -> bool:
        return order_id in self.started

    def resume(self, task_token: str, output: dict[str, Any]) -> bool:
        if task_token in self.finished_tokens:
            return False
        self.finished_tokens.add(task_token)
        self.resumed.append((task_token, output))
        return True

    def resumed_tokens(self) -> list[str]:
        return [token for token, _ in self.resumed]


@dataclass
class FakeClock:
    """A Clock that stands still until told to move."""

    at: datetime = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, by: timedelta) -> None:
        self.at += by


# -- the world --------------------------------------------------------------------------------
MUG, POSTER = "MUG-KRAKOW-350", "POSTER-A2-TATRY"
PAYMENT_WINDOW_SECONDS = 3600


@dataclass
class FakeWorld:
    """The three services wired to the fakes, as functions/* wire them to the repositories."""

    clock: FakeClock
    orders: FakeOrders
    records: FakePaymentRecords
    tokens: FakeTaskTokens
    stock: FakeStock
    parked: FakeParkedPayments
    workflow: FakeWorkflow
    payments: PaymentService
    intake: OrderIntake
    fulfilment: FulfilmentService

    # -- givens -----------------------------------------------------------------------------
    def stock_up(self, sku: str, units: int, warehouse: str = "WAW-1") -> None:
        self.stock.set_on_hand(sku, warehouse, units, at=self.clock())

    def receive(self, order: Order, event_id: str = "wh-1") -> str:
        return self.intake.receive(order, actor="test", event_id=event_id)

    def received(self, *lines: tuple[str | None, int, int], **order: Any) -> str:
        """An order received and not yet reserved (default: one mug at 49.00 PLN)."""
        return self.receive(an_order(*lines, **order))

    def awaiting_payment(self, units: int = 1, price: int = 4900) -> str:
        """An order with its stock reserved, waiting for a payment of units * price."""
        self.stock_up(MUG, 10)
        order_id = self.received((MUG, units, price))
        assert self.fulfilment.reserve_stock(order_id) == "awaiting_payment"
        return order_id

    # -- reading ----------------------------------------------------------------------------
    def state(self, order_id: str) -> OrderState:
        state = self.orders.get(order_id)
        assert state is not None, f"no order {order_id}"
        return state

    def status(self, order_id: str) -> OrderStatus:
        return self.state(order_id).status

    def events(self, order_id: str) -> list[EventType]:
        return self.orders.event_types(order_id)

    def decisions(self, order_id: str) -> list[str | None]:
        return [payment.decision for payment in self.records.of_order(order_id)]


def a_world(*, accept_test_payments: bool = False) -> FakeWorld:
    """A fresh world: empty stores, a still clock, order ids ord_0001, ord_0002, ..."""
    clock = FakeClock()
    orders, records, tokens = FakeOrders(), FakePaymentRecords(), FakeTaskTokens()
    stock, parked, workflow = FakeStock(), FakeParkedPayments(), FakeWorkflow()
    numbers = itertools.count(1)
    payments = PaymentService(
        orders=orders,
        records=records,
        parked=parked,
        tokens=tokens,
        workflow=workflow,
        now=clock,
        accept_test_payments=accept_test_payments,
    )
    return FakeWorld(
        clock=clock,
        orders=orders,
        records=records,
        tokens=tokens,
        stock=stock,
        parked=parked,
        workflow=workflow,
        payments=payments,
        intake=OrderIntake(
            orders=orders,
            workflow=workflow,
            payments=payments,
            payment_window_seconds=PAYMENT_WINDOW_SECONDS,
            now=clock,
            new_id=lambda: f"ord_{next(numbers):04d}",
        ),
        fulfilment=FulfilmentService(
            orders=orders, stock=stock, tokens=tokens, payments=payments, now=clock
        ),
    )
