"""The fulfilment workflow's steps. Each is idempotent: Step Functions retries them, and a step
that already took effect reports the same outcome again instead of acting twice."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypeVar

from shared.channels.listings import UNKNOWN_SKU, SkuResolver
from shared.fulfilment.transactions import release_stock, reserve_stock
from shared.kernel.errors import (
    ConcurrentModification,
    DomainError,
    MoneyReceived,
    OrderNotFound,
    StockContention,
)
from shared.orders.domain import OrderStatus, ensure_transition
from shared.orders.events import OrderCancelled, OrderNeedsAttention, OrderReadyToShip, SkuMapped
from shared.orders.ports import OrderStore
from shared.orders.store import Change, OrderState
from shared.payments.events import OrderReleased
from shared.payments.service import PAYMENT_WAIT, WAITING_FOR_MONEY, PaymentService
from shared.payments.transfers import OnOverdue, wait_seconds
from shared.platform.clock import Clock, utc_now
from shared.platform.table import TransactionConflict
from shared.platform.workflow import TaskTokenStore, Workflow
from shared.stock.domain import Allocation, Shortage, allocate
from shared.stock.events import OrderBackordered, StockReleased, StockReserved
from shared.stock.ports import StockStore

MAX_ATTEMPTS = 5
# A DynamoDB transaction holds at most 100 actions: two per SKU (stock + reservation), the
# order update and up to two timeline entries.
MAX_SKUS_PER_RESERVATION = 48
ACTOR = "fulfilment workflow"
HELD = "held"
RELEASE_WAIT = "release"
# A held order waits for a person at most as long as Standard executions live (one year).
RELEASE_TTL = timedelta(days=366)
PAYMENT_TIMEOUT = "payment_timeout"
# How long compensation waits for a flagged payment to be recorded (the Compensate step's
# retries span about 30-60 s; a flag-then-record takes milliseconds).
MONEY_IN_FLIGHT = timedelta(seconds=20)
T = TypeVar("T")
# Nothing left the warehouse and no money was kept: cancelling undoes everything.
_UNDOABLE = frozenset(
    {
        OrderStatus.RECEIVED,
        OrderStatus.AWAITING_PAYMENT,
        OrderStatus.AWAITING_TRANSFER,
        OrderStatus.BACKORDERED,
    }
)
TRANSFER_OVERDUE = "transfer_overdue"


class Compensation(StrEnum):
    CANCELLED = "cancelled"
    PAID = "paid"  # the payment beat the deadline: carry on
    WAITING = "waiting"  # on bank transfer, not due yet: wait on until the due date
    NEEDS_ATTENTION = "needs_attention"  # money was taken: a person decides, nothing is undone


@dataclass
class FulfilmentService:
    orders: OrderStore
    stock: StockStore
    tokens: TaskTokenStore
    payments: PaymentService
    now: Clock = utc_now

    def _load(self, order_id: str) -> OrderState:
        state = self.orders.get(order_id)
        if state is None:
            raise OrderNotFound(order_id)
        return state

    def reserve_stock(self, order_id: str) -> str:
        """Reserve every line in one transaction, or backorder the order naming the shortfall.

        Returns the order's status afterwards: awaiting_payment, ready_to_ship or backordered.
        """
        for _ in range(MAX_ATTEMPTS):
            state = self._load(order_id)
            if state.status is not OrderStatus.RECEIVED:
                return state.status.value  # reserved (or decided) by an earlier attempt
            if state.held:
                # Lines whose SKU is unknown: nothing is reserved on a guess; the workflow
                # waits for the shop to map them and release the order (then comes back).
                return HELD
            details = self.orders.details(order_id)
            if details is None:
                raise OrderNotFound(order_id)
            demand = details.stock_demand()
            try:
                if len(demand) > MAX_SKUS_PER_RESERVATION:
                    return self._backorder(
                        state,
                        f"order has {len(demand)} stock-holding SKUs; "
                        f"at most {MAX_SKUS_PER_RESERVATION} are reserved "
                        "at once: split it",
                        [],
                    )
                levels = {sku: self.stock.levels(sku) for sku in demand}
                allocations, shortages = allocate(demand, levels)
                if shortages:
                    reason = "insufficient stock: " + "; ".join(s.describe() for s in shortages)
                    return self._backorder(state, reason, shortages)
                return self._reserve(state, allocations).value
            except ConcurrentModification:
                continue
            except TransactionConflict:
                continue  # another order took the units we counted on: count again
        raise StockContention(f"could not reserve stock for {order_id}; retrying")

    def _backorder(self, state: OrderState, reason: str, shortages: list[Shortage]) -> str:
        self.orders.apply(
            state,
            Change(
                event=OrderBackordered(reason=reason, shortages=shortages),
                to_status=OrderStatus.BACKORDERED,
                actor=ACTOR,
                at=self.now(),
                set_fields={"status_reason": reason},
            ),
        )
        return OrderStatus.BACKORDERED.value

    def _reserve(self, state: OrderState, allocations: list[Allocation]) -> OrderStatus:
        target = (
            OrderStatus.AWAITING_PAYMENT if state.payment_required else OrderStatus.READY_TO_SHIP
        )
        at = self.now()

        reserve_stock(
            self.orders,
            self.stock,
            state,
            Change(
                event=StockReserved(reservations=allocations),
                then=()
                if state.payment_required
                else (OrderReadyToShip(reservations=allocations),),
                to_status=target,
                actor=ACTOR,
                at=at,
                set_fields={"reservations": [a.model_dump() for a in allocations]},
            ),
            allocations,
            at=at,
        )
        return target

    def await_payment(self, order_id: str, task_token: str, window_seconds: int) -> None:
        """Park the workflow's token, then settle: a payment may have arrived before we waited.

        Everything after the token is parked reads the order afresh: a payment landing between
        an earlier read and the park would otherwise be missed by both paths."""
        self._load(order_id)
        self.tokens.put(
            order_id,
            PAYMENT_WAIT,
            task_token,
            at=self.now(),
            ttl=timedelta(seconds=window_seconds) + timedelta(days=1),
        )
        self.payments.settle(order_id, actor=ACTOR)
        self.payments.resume_if_paid(order_id)

    def mark_ready_to_ship(self, order_id: str) -> str:
        """Paid -> ready to ship; "held" while a person must review the order first (a
        high-risk payment): the workflow then waits in AwaitRelease and comes back here."""

        def move(state: OrderState) -> str:
            if state.status is OrderStatus.CANCELLED:
                return OrderStatus.CANCELLED.value  # cancelled on its channel meanwhile
            if state.held and state.status is not OrderStatus.READY_TO_SHIP:
                return HELD
            if state.status is not OrderStatus.READY_TO_SHIP:
                ensure_transition(state.status, OrderStatus.READY_TO_SHIP)
                self.orders.apply(
                    state,
                    Change(
                        event=OrderReadyToShip(),
                        to_status=OrderStatus.READY_TO_SHIP,
                        actor=ACTOR,
                        at=self.now(),
                    ),
                )
            return OrderStatus.READY_TO_SHIP.value

        return self._with_retries(order_id, move)

    def await_release(self, order_id: str, task_token: str) -> None:
        """Park the workflow's token until the hold is released (POST .../release); if it was
        released before the token was parked, resume at once."""
        self._load(order_id)
        self.tokens.put(order_id, RELEASE_WAIT, task_token, at=self.now(), ttl=RELEASE_TTL)
        state = self._load(order_id)
        if not state.held:
            self.payments.workflow.resume(task_token, {"order_id": order_id, "released": True})
            self.tokens.delete(order_id, RELEASE_WAIT, task_token)

    def cancel(self, order_id: str, reason: str) -> str:
        """Cancel an order nothing was kept for, giving back its stock in the same change."""

        def cancel(state: OrderState) -> str:
            if state.status is not OrderStatus.CANCELLED:
                ensure_transition(state.status, OrderStatus.CANCELLED)
                if state.money_received:
                    raise MoneyReceived(f"order {order_id} has money received: refund it first")
                self._cancel(state, reason)
            return OrderStatus.CANCELLED.value

        return self._with_retries(order_id, cancel)

    def compensate(self, order_id: str, reason: str) -> Compensation:
        """Undo a fulfilment that cannot go on, as far as undoing is right.

        Racing the payment deadline is decided by the order's version: either the payment
        made it paid first (carry on), or this cancels it first (the late payment is then
        flagged for a refund). An order whose money was taken is never cancelled here."""

        def undo(state: OrderState) -> Compensation:
            if state.status is OrderStatus.CANCELLED:
                return Compensation.CANCELLED
            if state.status in WAITING_FOR_MONEY and state.money_received:
                state = self._settle_money_in_flight(state)
            why = reason
            if reason == PAYMENT_TIMEOUT and state.status is OrderStatus.AWAITING_TRANSFER:
                if wait_seconds(state, self.now()) is not None:
                    return Compensation.WAITING
                why = TRANSFER_OVERDUE
                if state.transfer_on_overdue == OnOverdue.ESCALATE.value:
                    return self._needs_attention(state, why)
            if state.status in _UNDOABLE and not state.money_received:
                self._cancel(state, why)
                return Compensation.CANCELLED
            if reason == PAYMENT_TIMEOUT and state.status is OrderStatus.PAID:
                return Compensation.PAID
            # Money was taken (paid, or received and not yet decided: a backordered order, an
            # amount that did not match): nothing is undone; a person ships or refunds.
            return self._needs_attention(state, why)

        return self._with_retries(order_id, undo)

    def _needs_attention(self, state: OrderState, reason: str) -> Compensation:
        attention = (
            f"{reason}_money_received"
            if state.status in _UNDOABLE and state.money_received
            else reason
        )
        if state.attention != attention:
            received = True if state.status in _UNDOABLE and state.money_received else None
            self.orders.apply(
                state,
                Change(
                    event=OrderNeedsAttention(
                        reason=reason,
                        money_received=received,
                        refund_needed_if_not_shipped=received,
                    ),
                    actor=ACTOR,
                    at=self.now(),
                    set_fields={"attention": attention},
                ),
            )
        return Compensation.NEEDS_ATTENTION

    def transfer_wait_seconds(self, order_id: str) -> int:
        """How long the workflow waits on for the order's bank transfer (at least 1 s)."""
        return wait_seconds(self._load(order_id), self.now()) or 1

    def _settle_money_in_flight(self, state: OrderState) -> OrderState:
        """Money arrived for a waiting order: decide it before deciding anything else, so a
        payment that met the deadline pays the order instead of losing to it. A payment still
        being recorded (flagged, not yet stored or decided) makes this step retry."""
        settled = self.payments.settle(state.order_id, actor=ACTOR) or state
        if settled.status not in WAITING_FOR_MONEY:
            return settled
        if self.payments.money_in_flight(state.order_id) and self._flagged_recently(settled):
            raise ConcurrentModification(f"a payment for {state.order_id} is being recorded")
        # Decided without paying it (another amount), or flagged long ago and never recorded
        # (its webhook's processing is failing): a person looks, nothing is undone.
        return settled

    def _flagged_recently(self, state: OrderState) -> bool:
        """Within the few seconds a webhook's flag-then-record takes; past them, the step
        stops waiting (its retries would run out) and asks a person instead."""
        if state.money_received_at is None:
            return False
        flagged = datetime.fromisoformat(state.money_received_at)
        return self.now() - flagged < MONEY_IN_FLIGHT

    def _cancel(self, state: OrderState, reason: str) -> None:
        at = self.now()
        held = list(state.reservations)
        cancelled = OrderCancelled(reason=reason, reservations=held or None)

        release_stock(
            self.orders,
            self.stock,
            state,
            Change(
                event=StockReleased(reason=reason, reservations=held) if held else cancelled,
                then=(cancelled,) if held else (),
                to_status=OrderStatus.CANCELLED,
                actor=ACTOR,
                at=at,
                set_fields={"status_reason": reason, "reservations": []},
                # A payment recorded after we read the order flags it first: we then read
                # again and take the money-received path instead of cancelling.
                condition="attribute_not_exists(money_received)",
            ),
            state.reservations,
            at=at,
        )

    def _with_retries(self, order_id: str, act: Callable[[OrderState], T]) -> T:
        """Read the order and act on it; when someone changed it in between, read again."""
        for _ in range(MAX_ATTEMPTS):
            try:
                return act(self._load(order_id))
            except ConcurrentModification:
                continue
        raise ConcurrentModification(f"order {order_id} kept changing")


class UnmappedLines(DomainError):
    """A held order's lines still name listings no SKU is mapped to: map them first."""

    code = "unmapped_lines"


@dataclass
class HoldRelease:
    """A person reviewed a held order: it may ship, and its waiting workflow goes on. (The
    API does this; it needs the order store, the parked tokens and the workflow only.)

    An order held for unknown SKUs is released only once every line resolves (the shop mapped
    the listings through PUT /api/v1/listings/...): its details then name the SKUs, and the
    workflow goes back to reserving them."""

    orders: OrderStore
    tokens: TaskTokenStore
    workflow: Workflow
    resolver: SkuResolver | None = None
    now: Clock = utc_now

    def release(self, order_id: str, *, actor: str, note: str | None = None) -> OrderState:
        for _ in range(MAX_ATTEMPTS):
            state = self.orders.get(order_id)
            if state is None:
                raise OrderNotFound(order_id)
            if not state.held:
                break
            try:
                state = self._release(state, actor, note)
                break
            except ConcurrentModification:
                continue
        else:
            raise ConcurrentModification(f"order {order_id} kept changing while releasing it")
        token = self.tokens.get(order_id, RELEASE_WAIT)
        if token is not None:
            self.workflow.resume(token, {"order_id": order_id, "released": True})
            self.tokens.delete(order_id, RELEASE_WAIT, token)
        return state

    def _release(self, state: OrderState, actor: str, note: str | None) -> OrderState:
        assert state.held is not None
        if not state.held.startswith(UNKNOWN_SKU) or self.resolver is None:
            return self.orders.apply(
                state,
                Change(
                    event=OrderReleased(note=note),
                    actor=actor,
                    at=self.now(),
                    set_fields={"held": None},
                ),
            )
        details = self.orders.details(state.order_id)
        if details is None:
            raise OrderNotFound(state.order_id)
        resolution = self.resolver.resolve(details)
        if resolution.unknown:
            raise UnmappedLines(
                f"order {state.order_id} still has lines no SKU is mapped to: "
                f"{resolution.hold_reason}; map them with PUT /api/v1/listings/"
                f"{details.channel}/{{listing}} first"
            )
        mapped = {
            str(line.line_no): line.sku for line in resolution.order.lines if line.sku is not None
        }
        return self.orders.apply(
            state,
            Change(
                event=SkuMapped(lines=mapped),
                then=(OrderReleased(note=note),),
                actor=actor,
                at=self.now(),
                set_fields={"held": None, "status_reason": None},
            ),
            joined=[self.orders.stage_details(state.order_id, resolution.order)],
        )
