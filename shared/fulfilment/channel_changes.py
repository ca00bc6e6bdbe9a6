"""A channel changes or cancels an order it sent before: apply it while the order has not
shipped, otherwise raise a visible conflict.

Each channel delivers its whole order again on every change (Shopify `orders/updated`, a
WooCommerce `order.updated`, an Allegro checkout form, an Amazon order), and deliveries repeat
and arrive out of order: the channel's revision decides. A revision at or below the stored one
changes nothing; a higher one is compared with the stored order and what differs is applied in
one change (the details, the hot fields, the stock the new lines need, the timeline entry).

A cancellation on the channel goes the way compensation does: the stock is given back in the
same change, a waiting workflow is woken to end, and money taken through a payment provider is
refunded through the refunds path (money the channel collected itself, a marketplace checkout,
is the channel's to give back when it cancels).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shared.channels.listings import UNKNOWN_SKU, Resolution, SkuResolver
from shared.fulfilment.service import RELEASE_WAIT
from shared.fulfilment.transactions import staged
from shared.kernel.errors import ConcurrentModification, OrderNotFound
from shared.orders.domain import ChannelStatus, Order, OrderStatus
from shared.orders.events import (
    OrderCancelled,
    OrderChangeConflict,
    OrderUpdated,
)
from shared.orders.ports import OrderStore
from shared.orders.store import Change, Joined, OrderState
from shared.payments.ports import PaymentRecordStore
from shared.payments.refunds import IdempotencyConflict, RefundRefused, RefundService
from shared.payments.service import PAYMENT_WAIT
from shared.platform.clock import Clock, utc_now
from shared.platform.table import TransactionConflict
from shared.platform.workflow import TaskTokenStore, Workflow
from shared.registry import gateway_providers
from shared.stock.domain import Allocation, Shortage, allocate
from shared.stock.events import StockReleased
from shared.stock.ports import StockStore

MAX_ATTEMPTS = 5
CANCELLED_ON_CHANNEL = "cancelled_on_channel"
_SHIPPED = frozenset({OrderStatus.SHIPPED, OrderStatus.DELIVERED})
# Stock is held for the order in these (its lines change together with their reservations).
_RESERVED = frozenset(
    {
        OrderStatus.AWAITING_PAYMENT,
        OrderStatus.AWAITING_TRANSFER,
        OrderStatus.PAID,
        OrderStatus.READY_TO_SHIP,
    }
)


class ChangeOutcome(StrEnum):
    STALE = "stale"  # an older or the same revision: nothing to do
    UNCHANGED = "unchanged"  # newer, but nothing orderhub keeps differs
    UPDATED = "updated"
    CANCELLED = "cancelled"
    CONFLICT = "conflict"  # cannot be applied: on the order's attention list


def _hot_fields(incoming: Order) -> dict[str, object]:
    """The order item's fields a revision rewrites (None removes one)."""
    return {
        "revision": incoming.revision,
        "total": incoming.totals.total.amount,
        "currency": incoming.currency,
        "payment_required": incoming.payment_required,
        "payment_method": incoming.payment_method.value,
        "buyer_email": incoming.buyer.email.lower() if incoming.buyer.email else None,
    }


def differences(current: Order, incoming: Order) -> list[str]:
    """What a newer revision changes of what orderhub acts on."""
    changes = []
    if current.delivery != incoming.delivery:
        changes.append("delivery")
    if [_line_key(line) for line in current.lines] != [_line_key(line) for line in incoming.lines]:
        changes.append("lines")
    if current.buyer != incoming.buyer:
        changes.append("buyer")
    if current.totals != incoming.totals:
        changes.append("totals")
    if current.payment_method != incoming.payment_method:
        changes.append("payment_method")
    if current.note != incoming.note:
        changes.append("note")
    if (current.invoice_requested, current.billing_address) != (
        incoming.invoice_requested,
        incoming.billing_address,
    ):
        changes.append("invoice")
    return changes


def _line_key(line: object) -> tuple[object, ...]:
    # The SKU as the channel names it (listing and seller SKU), not as intake mapped it.
    return tuple(
        getattr(line, name)
        for name in ("line_no", "listing_id", "quantity", "unit_price", "vat_rate", "discount")
    )


@dataclass
class ChannelChanges:
    orders: OrderStore
    stock: StockStore
    tokens: TaskTokenStore
    workflow: Workflow
    resolver: SkuResolver
    payments: PaymentRecordStore
    refunds: RefundService | None = None  # None: no payment provider to refund through
    now: Clock = utc_now

    def apply(self, order_id: str, incoming: Order, *, actor: str) -> ChangeOutcome:
        """Apply a channel's delivery of an order it sent before (a newer revision wins)."""
        if incoming.channel_status is ChannelStatus.CANCELLED:
            return self.cancel(order_id, incoming.revision, actor=actor, final=incoming)
        for _ in range(MAX_ATTEMPTS):
            state = self._load(order_id)
            if incoming.revision <= state.revision:
                return ChangeOutcome.STALE
            try:
                return self._update(state, incoming, actor)
            except ConcurrentModification:
                continue
        raise ConcurrentModification(f"order {order_id} kept changing while updating it")

    def cancel(
        self, order_id: str, revision: int | None, *, actor: str, final: Order | None = None
    ) -> ChangeOutcome:
        """The channel cancelled the order at `revision` (None: withdrew it, its last word).

        An older cancellation than the revision applied changes nothing (a reopened order
        stays open). `final`: the order as the channel sent it with the cancellation; kept as
        the order's details (the last address, note and buyer the channel knew), since an
        update it overtook is older and will not be applied after it.

        What follows the cancellation (the refund, waking the workflow) runs again on every
        redelivery: both are idempotent, so one that failed after the cancel committed is
        completed by the retry instead of being lost."""
        for _ in range(MAX_ATTEMPTS):
            state = self._load(order_id)
            if revision is not None and revision < state.revision:
                return ChangeOutcome.STALE
            if state.status is OrderStatus.CANCELLED:
                if state.status_reason != CANCELLED_ON_CHANNEL:
                    return ChangeOutcome.STALE  # cancelled here for its own reasons
                outcome = ChangeOutcome.STALE
            else:
                try:
                    outcome = self._cancel(state, revision, actor, final)
                except ConcurrentModification:
                    continue
                if outcome is not ChangeOutcome.CANCELLED:
                    return outcome
            self._refund(order_id)
            self._wake_workflow(order_id)
            return outcome
        raise ConcurrentModification(f"order {order_id} kept changing while cancelling it")

    def refund_late_payment(
        self, order_id: str, *, provider: str, payment_id: str, amount: int
    ) -> bool:
        """Money that arrived after the channel cancelled the order (the reducer rejected it:
        `order_cancelled_refund_needed`) goes back through its provider, once. False: not an
        order cancelled on its channel, not a provider orderhub refunds through, or already
        refunded (the cancellation's own refund drew on it)."""
        state = self._load(order_id)
        if self.refunds is None or state.status_reason != CANCELLED_ON_CHANNEL:
            return False
        if provider not in {p.name for p in gateway_providers()}:
            return False
        try:
            self.refunds.request(
                order_id,
                amount=amount,
                reason=CANCELLED_ON_CHANNEL,
                payment_id=payment_id,
                idempotency_key=f"{CANCELLED_ON_CHANNEL}:{provider}:{payment_id}",
            )
        except RefundRefused:
            return False
        return True

    # -- updates ----------------------------------------------------------------------------
    def _update(self, state: OrderState, incoming: Order, actor: str) -> ChangeOutcome:
        current = self.orders.details(state.order_id)
        if current is None:
            raise OrderNotFound(state.order_id)
        changes = differences(current, incoming)
        if not changes or state.status is OrderStatus.CANCELLED:
            self._note_revision(state, incoming.revision, actor)
            return ChangeOutcome.UNCHANGED
        if state.status in _SHIPPED or state.shipped_any:
            # A parcel has left: what it holds cannot change here (the channel and the shop
            # settle a change of a shipped order between them).
            return self._conflict(state, incoming.revision, changes, "shipped", actor)
        lines_change = "lines" in changes
        resolution = self._resolve(current, incoming, lines_change)
        if lines_change and resolution.unknown and state.status is not OrderStatus.RECEIVED:
            reason = resolution.hold_reason or UNKNOWN_SKU
            return self._conflict(state, incoming.revision, changes, reason, actor)
        joined: list[Joined] = [self.orders.stage_details(state.order_id, resolution.order)]
        fields = _hot_fields(incoming)
        if lines_change and state.status in _RESERVED:
            stock_changes, reservations, shortages = self._restock(state, resolution.order)
            if shortages:
                reason = "insufficient_stock: " + "; ".join(s.describe() for s in shortages)
                return self._conflict(state, incoming.revision, changes, reason, actor)
            joined.extend(stock_changes)
            fields["reservations"] = [a.model_dump() for a in reservations]
        unheld = self._hold_follows_lines(state, resolution, lines_change, fields)
        if "totals" in changes and state.status in (OrderStatus.PAID, OrderStatus.READY_TO_SHIP):
            # Paid for the old total: a person tops up or refunds the difference.
            fields["attention"] = "total_changed_after_payment"
        change = Change(
            event=OrderUpdated(
                revision=incoming.revision,
                changes=changes,
                total=incoming.totals.total if "totals" in changes else None,
            ),
            actor=actor,
            at=self.now(),
            set_fields=fields,
        )
        try:
            self.orders.apply(state, change, joined=joined)
        except TransactionConflict:
            # A reservation grew past what its warehouse has left (another order took it).
            return self._conflict(state, incoming.revision, changes, "insufficient_stock", actor)
        if unheld:
            self._resume(state.order_id, RELEASE_WAIT)
        return ChangeOutcome.UPDATED

    def _resolve(self, current: Order, incoming: Order, lines_change: bool) -> Resolution:
        if lines_change:
            return self.resolver.resolve(incoming)
        # The lines are as they were: they keep the SKUs intake resolved (a listing remapped
        # since must not move an order's lines away from their reservations).
        return Resolution(incoming.model_copy(update={"lines": current.lines}), ())

    @staticmethod
    def _hold_follows_lines(
        state: OrderState, resolution: Resolution, lines_change: bool, fields: dict[str, object]
    ) -> bool:
        """An order still waiting for its lines to be mapped: the hold follows the new lines
        (newly unknown ones hold it, mapped ones release it). True: released by this change."""
        if state.status is not OrderStatus.RECEIVED or not lines_change:
            return False
        if resolution.hold_reason is not None:
            fields["held"] = fields["status_reason"] = resolution.hold_reason
            return False
        if state.held and state.held.startswith(UNKNOWN_SKU):
            fields["held"] = fields["status_reason"] = None
            return True
        return False

    def _restock(
        self, state: OrderState, order: Order
    ) -> tuple[list[Joined], list[Allocation], list[Shortage]]:
        """The stock writes that move the order's reservations to its new lines, and the
        reservations after them: each SKU's reservation grown, shrunk, given back or newly
        taken. Shortages: a new SKU no warehouse covers (then nothing is written)."""
        held = {a.sku: a for a in state.reservations}
        demand = order.stock_demand()
        at = self.now()
        stages: list[Joined] = []
        kept: list[Allocation] = []
        new_demand = {sku: qty for sku, qty in demand.items() if sku not in held}
        allocations, shortages = allocate(
            new_demand, {sku: self.stock.levels(sku) for sku in new_demand}
        )
        if shortages:
            return [], [], shortages
        for allocation in allocations:
            stages.append(staged(self.stock.reserve, state.order_id, allocation, at=at))
            kept.append(allocation)
        for sku, allocation in held.items():
            wanted = demand.get(sku, 0)
            if wanted == 0:
                stages.append(staged(self.stock.release, state.order_id, allocation, at=at))
            elif wanted != allocation.quantity:
                stages.append(staged(self.stock.adjust, state.order_id, allocation, wanted, at=at))
                kept.append(allocation.model_copy(update={"quantity": wanted}))
            else:
                kept.append(allocation)
        return stages, kept, []

    # -- cancellation -----------------------------------------------------------------------
    def _cancel(
        self, state: OrderState, revision: int | None, actor: str, final: Order | None
    ) -> ChangeOutcome:
        if state.status in _SHIPPED or state.shipped_any:
            return self._conflict(
                state, revision or state.revision, ["cancelled"], "shipped", actor
            )
        held = list(state.reservations)
        cancelled = OrderCancelled(reason=CANCELLED_ON_CHANNEL, reservations=held or None)
        at = self.now()
        self.orders.apply(
            state,
            Change(
                event=StockReleased(reason=CANCELLED_ON_CHANNEL, reservations=held)
                if held
                else cancelled,
                then=(cancelled,) if held else (),
                to_status=OrderStatus.CANCELLED,
                actor=actor,
                at=at,
                set_fields={
                    "status_reason": CANCELLED_ON_CHANNEL,
                    "reservations": [],
                    "revision": max(revision or 0, state.revision),
                    "held": None,
                },
            ),
            joined=[
                *(
                    staged(self.stock.release, state.order_id, allocation, at=at)
                    for allocation in held
                ),
                *self._final_details(state.order_id, final),
            ],
        )
        return ChangeOutcome.CANCELLED

    def _final_details(self, order_id: str, final: Order | None) -> list[Joined]:
        current = self.orders.details(order_id) if final is not None else None
        if final is None or current is None:
            return []
        lines_change = "lines" in differences(current, final)
        return [
            self.orders.stage_details(order_id, self._resolve(current, final, lines_change).order)
        ]

    def _refund(self, order_id: str) -> None:
        """Give back what payment providers took for a cancelled order (one refund, keyed by
        the cancellation, so a redelivered cancellation asks for nothing more)."""
        if self.refunds is None:
            return
        through = {p.name for p in gateway_providers()}
        taken = sum(
            p.net
            for p in self.payments.of_order(order_id)
            if p.status.paid and p.provider in through
        )
        if taken <= 0:
            return
        try:
            self.refunds.request(
                order_id,
                amount=taken,
                reason=CANCELLED_ON_CHANNEL,
                idempotency_key=CANCELLED_ON_CHANNEL,
            )
        except RefundRefused:
            pass  # given back already (in the provider's panel): nothing is left to refund
        except IdempotencyConflict:
            pass  # asked before, for what was taken then; later money has its own refund

    def _wake_workflow(self, order_id: str) -> None:
        """A workflow waiting for the payment or a release goes on, finds the order cancelled
        and ends (its steps answer `cancelled`)."""
        for wait in (PAYMENT_WAIT, RELEASE_WAIT):
            self._resume(order_id, wait)

    def _resume(self, order_id: str, wait: str) -> None:
        token = self.tokens.get(order_id, wait)
        if token is not None:
            self.workflow.resume(token, {"order_id": order_id})
            self.tokens.delete(order_id, wait, token)

    # -- shared -----------------------------------------------------------------------------
    def _conflict(
        self, state: OrderState, revision: int, changes: list[str], reason: str, actor: str
    ) -> ChangeOutcome:
        self.orders.apply(
            state,
            Change(
                event=OrderChangeConflict(revision=revision, changes=changes, reason=reason),
                actor=actor,
                at=self.now(),
                set_fields={
                    "attention": f"channel_change_conflict: {reason}",
                    # Seen: a redelivery of the same revision raises nothing again.
                    "revision": max(revision, state.revision),
                },
            ),
        )
        return ChangeOutcome.CONFLICT

    def _note_revision(self, state: OrderState, revision: int, actor: str) -> None:
        """Remember a newer revision that changes nothing, so its redeliveries stay no-ops
        (no timeline entry: channels send many updates orderhub does not act on)."""
        if revision > state.revision:
            self.orders.note_revision(state.order_id, revision)

    def _load(self, order_id: str) -> OrderState:
        state = self.orders.get(order_id)
        if state is None:
            raise OrderNotFound(order_id)
        return state
