"""The fulfilment workflow's steps. Each is idempotent: Step Functions retries them, and a step
that already took effect reports the same outcome again instead of acting twice."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from shared.domain.errors import ConcurrentModification, OrderNotFound, StockContention
from shared.domain.events import EventType
from shared.domain.order import OrderStatus, ensure_transition
from shared.domain.stock import Allocation, allocate
from shared.services.clock import Clock, utc_now
from shared.services.payments import PAYMENT_WAIT, PaymentService
from shared.store.orders import Change, OrderRepository, OrderState
from shared.store.stock import StockRepository
from shared.store.table import Transaction, TransactionConflict

MAX_ATTEMPTS = 5
ACTOR = "fulfilment workflow"
T = TypeVar("T")


@dataclass
class FulfilmentService:
    orders: OrderRepository
    stock: StockRepository
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
            details = self.orders.details(order_id)
            if details is None:
                raise OrderNotFound(order_id)
            demand = details.stock_demand()
            levels = {sku: self.stock.levels(sku) for sku in demand}
            allocations, shortages = allocate(demand, levels)
            try:
                if shortages:
                    reason = "insufficient stock: " + "; ".join(s.describe() for s in shortages)
                    self.orders.apply(
                        state,
                        Change(
                            event=EventType.ORDER_BACKORDERED,
                            to_status=OrderStatus.BACKORDERED,
                            actor=ACTOR,
                            at=self.now(),
                            detail={
                                "reason": reason,
                                "shortages": [s.model_dump() for s in shortages],
                            },
                            set_fields={"status_reason": reason},
                        ),
                    )
                    return OrderStatus.BACKORDERED.value
                return self._reserve(state, allocations).value
            except ConcurrentModification:
                continue
            except TransactionConflict:
                continue  # another order took the units we counted on: count again
        raise StockContention(f"could not reserve stock for {order_id}; retrying")

    def _reserve(self, state: OrderState, allocations: list[Allocation]) -> OrderStatus:
        target = (
            OrderStatus.AWAITING_PAYMENT if state.payment_required else OrderStatus.READY_TO_SHIP
        )
        at = self.now()

        def reserve_all(txn: Transaction) -> None:
            for allocation in allocations:
                self.stock.reserve(txn, state.order_id, allocation, at=at)

        self.orders.apply(
            state,
            Change(
                event=EventType.STOCK_RESERVED,
                then=() if state.payment_required else (EventType.ORDER_READY_TO_SHIP,),
                to_status=target,
                actor=ACTOR,
                at=at,
                detail={"reservations": [a.model_dump() for a in allocations]},
                set_fields={"reservations": [a.model_dump() for a in allocations]},
                also=reserve_all,
            ),
        )
        return target

    def await_payment(self, order_id: str, task_token: str, window_seconds: int) -> None:
        """Park the workflow's token, then settle: a payment may have arrived before we waited."""
        state = self._load(order_id)
        self.orders.put_wait(
            order_id,
            PAYMENT_WAIT,
            task_token,
            at=self.now(),
            ttl=timedelta(seconds=window_seconds) + timedelta(days=1),
        )
        self.payments.resume_if_paid(self.payments.settle(order_id, actor=ACTOR, known=state))

    def mark_ready_to_ship(self, order_id: str) -> str:
        return self._move(order_id, OrderStatus.READY_TO_SHIP, EventType.ORDER_READY_TO_SHIP)

    def release_stock(self, order_id: str, reason: str) -> int:
        """Give back every reserved unit. Returns how many reservations were released."""

        def release(state: OrderState) -> int:
            if not state.reservations:
                return 0
            at = self.now()

            def release_all(txn: Transaction) -> None:
                for allocation in state.reservations:
                    self.stock.release(txn, state.order_id, allocation, at=at)

            held = [a.model_dump() for a in state.reservations]
            self.orders.apply(
                state,
                Change(
                    event=EventType.STOCK_RELEASED,
                    actor=ACTOR,
                    at=at,
                    detail={"reason": reason, "reservations": held},
                    set_fields={"reservations": []},
                    also=release_all,
                ),
            )
            return len(held)

        return self._with_retries(order_id, release)

    def cancel(self, order_id: str, reason: str) -> str:
        return self._move(order_id, OrderStatus.CANCELLED, EventType.ORDER_CANCELLED, reason=reason)

    def _move(
        self, order_id: str, target: OrderStatus, event: EventType, reason: str | None = None
    ) -> str:
        """Move the order to `target` once; a repeat finds it there and changes nothing."""

        def move(state: OrderState) -> str:
            if state.status is not target:
                ensure_transition(state.status, target)
                self.orders.apply(
                    state,
                    Change(
                        event=event,
                        to_status=target,
                        actor=ACTOR,
                        at=self.now(),
                        detail={"reason": reason} if reason else {},
                        set_fields={"status_reason": reason} if reason else {},
                    ),
                )
            return target.value

        return self._with_retries(order_id, move)

    def _with_retries(self, order_id: str, act: Callable[[OrderState], T]) -> T:
        """Read the order and act on it; when someone changed it in between, read again."""
        for _ in range(MAX_ATTEMPTS):
            try:
                return act(self._load(order_id))
            except ConcurrentModification:
                continue
        raise ConcurrentModification(f"order {order_id} kept changing")
