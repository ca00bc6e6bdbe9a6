"""What other code needs from the orders context's store, as a Protocol (structural: nothing
inherits it). OrderRepository satisfies it as it is, and so does the unit tests' in-memory
fake (tests/unit/fakes.py); each member is the concrete method's exact signature, so mypy shows
wherever the two disagree."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from shared.orders.domain import Order
from shared.orders.store import Change, Joined, OrderState


class OrderStore(Protocol):
    def create(
        self,
        order_id: str,
        order: Order,
        *,
        received_at: datetime,
        actor: str,
        held: str | None = None,
    ) -> str:
        """Store a new order once; the id the channel key holds if it was stored before."""
        ...

    def stage_details(self, order_id: str, order: Order) -> Joined:
        """Rewrite the order's details in a change's transaction (pass it in `joined`)."""
        ...

    def find_by_channel(self, channel: str, external_id: str) -> str | None: ...

    def get(self, order_id: str) -> OrderState | None: ...

    def details(self, order_id: str) -> Order | None: ...

    def apply(
        self, state: OrderState, change: Change, *, joined: Sequence[Joined] = ()
    ) -> OrderState:
        """Commit a change (and the `joined` writes of a named cross-context operation) at
        once, or ConcurrentModification if the order's version moved or `change.condition`
        does not hold."""
        ...

    def mark_money_received(self, order_id: str, *, at: datetime) -> None: ...

    def note_revision(self, order_id: str, revision: int) -> None:
        """Remember a newer channel revision that changes nothing (never an older one)."""
        ...
