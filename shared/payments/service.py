"""The one "order paid" decision point.

Every path that can learn of a payment (a provider webhook, the workflow reaching its payment
wait) ends in `settle_payments` + `resume_if_paid`. Both are idempotent and safe to race:
the order's version check lets exactly one writer move it to paid, and each payment's decision
is written once, in that same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from shared.kernel.errors import ConcurrentModification
from shared.kernel.money import Money
from shared.orders.domain import OrderStatus
from shared.orders.events import OrderNeedsAttention
from shared.orders.ports import OrderStore
from shared.orders.store import Change, OrderState
from shared.payments.domain import PaymentDecision, PaymentEvent, PaymentStatus, decide
from shared.payments.events import OrderPaid, PaymentRecorded, PaymentRejected
from shared.payments.parked import channel_reference
from shared.payments.ports import ParkedPaymentStore, PaymentRecordStore
from shared.payments.store import PaymentRecord
from shared.payments.transactions import decide_payment
from shared.platform.clock import Clock, utc_now
from shared.platform.observability import logger
from shared.platform.workflow import TaskTokenStore, Workflow

PAYMENT_WAIT = "payment"
MAX_ATTEMPTS = 5
_ALREADY_PAID = frozenset(
    {OrderStatus.PAID, OrderStatus.READY_TO_SHIP, OrderStatus.SHIPPED, OrderStatus.DELIVERED}
)


_REFUND_DECISIONS = frozenset(
    {
        PaymentDecision.ALREADY_PAID_REFUND_NEEDED,
        PaymentDecision.ORDER_CANCELLED_REFUND_NEEDED,
        # Money of another amount is kept by nobody: it goes back (or a person tops it up).
        PaymentDecision.AMOUNT_MISMATCH,
    }
)


def _to_decide(payment: PaymentRecord) -> bool:
    """A succeeded payment not decided yet. A zero-amount "success" (a Checkout session with
    nothing to pay) took no money: there is nothing to decide, pay or give back."""
    return (
        payment.status is PaymentStatus.SUCCEEDED
        and payment.decision is None
        and payment.amount.amount > 0
    )


def _already_collected(payments: list[PaymentRecord], payment: PaymentRecord) -> bool:
    """Another payment of the order was already decided as paying it."""
    return any(
        p.decision == PaymentDecision.PAYS_ORDER and p.payment_id != payment.payment_id
        for p in payments
    )


class PaymentOutcome(StrEnum):
    APPLIED = "applied"  # recorded against its order (and decided, where it can be)
    PARKED = "parked"  # its channel order has not arrived yet; intake applies it
    UNKNOWN_ORDER = "unknown_order"  # it names an orderhub order that does not exist


@dataclass(frozen=True)
class PaymentReport:
    outcome: PaymentOutcome
    order_id: str | None


@dataclass
class PaymentService:
    orders: OrderStore
    records: PaymentRecordStore
    parked: ParkedPaymentStore
    tokens: TaskTokenStore
    workflow: Workflow
    now: Clock = utc_now
    # Sandboxes (the embedded stack, a staging shop) pay live-flagged orders with test money.
    accept_test_payments: bool = False

    def report(self, payment: PaymentEvent, *, actor: str) -> PaymentReport:
        """Record a provider's report and act on it; park it when its order is not here yet."""
        state = self._order_of(payment)
        if state is None:
            return self._park(payment, actor)
        real_money = not self._test_money_for_live_order(state, test=payment.test)
        # A zero-amount "success" (a Checkout session with nothing to pay) took no money.
        took_money = payment.status is PaymentStatus.SUCCEEDED and payment.amount.amount > 0
        if took_money and real_money and not state.money_received:
            self.orders.mark_money_received(state.order_id, at=self.now())
            state = replace(state, money_received=True)
        changed = self.records.record(state.order_id, payment, at=self.now())
        if changed and self._worth_a_note(state, payment):
            state = self._note_attempt(state, payment, actor)
        # Settle against a fresh read: the order may have moved on (received -> awaiting
        # payment) between our read and the record, and deciding on the stale state would
        # leave the payment undecided with nobody left to decide it.
        self.settle(state.order_id, actor=actor)
        self.resume_if_paid(state.order_id)
        return PaymentReport(PaymentOutcome.APPLIED, state.order_id)

    def apply_parked(self, order_id: str, *, channel: str, external_id: str) -> int:
        """Apply what waited for an order that has just arrived; returns how many.

        Only the channel's reference can have waited: an orderhub id exists from the moment
        the order does, so a payment naming one that did not exist yet never will match
        (it stays parked and listed for operators as `unknown_order`)."""
        applied = 0
        for parked in self.parked.waiting_for(channel_reference(channel, external_id)):
            report = self.report(parked.payment, actor=parked.actor)
            if report.outcome is PaymentOutcome.APPLIED:
                self.parked.remove(parked)
                applied += 1
        return applied

    def _order_of(self, payment: PaymentEvent) -> OrderState | None:
        if payment.order_id is not None:
            return self.orders.get(payment.order_id)
        assert payment.channel_order is not None  # the model guarantees one of the two
        ref = payment.channel_order
        order_id = self.orders.find_by_channel(ref.channel, ref.external_id)
        return self.orders.get(order_id) if order_id else None

    def _park(self, payment: PaymentEvent, actor: str) -> PaymentReport:
        self.parked.park(payment, actor=actor, at=self.now())
        # Intake writes the order, then looks for parked payments; we parked, then look for
        # the order: whichever of the two ran second sees the other (strongly consistent).
        state = self._order_of(payment)
        if state is not None:
            self.parked.forget(payment)
            return self.report(payment, actor=actor)
        if payment.order_id is not None:
            logger.warning(
                "payment for an unknown order",
                extra={"order_id": payment.order_id, "payment_id": payment.payment_id},
            )
            return PaymentReport(PaymentOutcome.UNKNOWN_ORDER, payment.order_id)
        return PaymentReport(PaymentOutcome.PARKED, None)

    def settle(self, order_id: str, *, actor: str) -> OrderState | None:
        """Decide every succeeded payment not decided yet, against the order's current state
        (read afresh: a state read before the payment was recorded may be stale)."""
        for _ in range(MAX_ATTEMPTS):
            state = self.orders.get(order_id)
            if state is None:
                return None
            try:
                payments = self.records.of_order(order_id)
                for payment in payments:
                    if _to_decide(payment):
                        state = self._decide(state, payment, payments, actor)
            except ConcurrentModification:
                continue
            return state
        raise ConcurrentModification(f"order {order_id} kept changing while settling payments")

    def money_in_flight(self, order_id: str) -> bool:
        """Money was flagged as received but no succeeded payment is recorded and decided yet
        (a webhook between its flag and its record)."""
        succeeded = [
            p
            for p in self.records.of_order(order_id)
            if p.status is PaymentStatus.SUCCEEDED and p.amount.amount > 0
        ]
        return not succeeded or any(p.decision is None for p in succeeded)

    def resume_if_paid(self, order_id: str) -> bool:
        """If the order is paid and its workflow waits for that, resume it.

        Reads the order afresh: whoever called may have decided nothing itself while the
        other path (webhook or workflow) made the order paid in between."""
        state = self.orders.get(order_id)
        if state is None or state.status is not OrderStatus.PAID:
            return False
        token = self.tokens.get(order_id, PAYMENT_WAIT)
        if token is None:
            return False
        resumed = self.workflow.resume(token, {"order_id": order_id, "paid": True})
        # Only this token: a retried wait may already have parked a newer one.
        self.tokens.delete(order_id, PAYMENT_WAIT, token)
        return resumed

    def _decide(  # noqa: PLR0911 - one return per decision, in order of precedence
        self,
        state: OrderState,
        payment: PaymentRecord,
        payments: list[PaymentRecord],
        actor: str,
    ) -> OrderState:
        decision = decide(
            state.total,
            payment.status,
            payment.amount,
            test_payment_for_live_order=self._test_money_for_live_order(state, test=payment.test),
        )
        which = {
            "provider": payment.provider,
            "payment_id": payment.payment_id,
            "amount": payment.amount,
        }

        def decided_as(decided: PaymentDecision, change: Change, *, applied: bool) -> OrderState:
            return decide_payment(
                self.orders, self.records, state, change, payment, decision=decided, applied=applied
            )

        def refused(decided: PaymentDecision, expected: Money | None = None) -> OrderState:
            # Money that must go back is a person's call today: the order says so.
            refund = decided in _REFUND_DECISIONS
            change = Change(
                event=PaymentRejected(**which, reason=decided, expected=expected),
                then=(OrderNeedsAttention(reason=decided.value, **which, expected=expected),)
                if refund
                else (),
                actor=actor,
                at=self.now(),
                set_fields={"attention": decided.value} if refund else {},
            )
            return decided_as(decided, change, applied=False)

        if decision is PaymentDecision.TEST_PAYMENT_FOR_LIVE_ORDER:
            return refused(decision, expected=state.total)
        if state.status is OrderStatus.CANCELLED:
            return refused(PaymentDecision.ORDER_CANCELLED_REFUND_NEEDED)
        if not state.payment_required and decision is PaymentDecision.PAYS_ORDER:
            if _already_collected(payments, payment):
                return refused(PaymentDecision.ALREADY_PAID_REFUND_NEEDED)
            # Cash on delivery collected (Shopify orders/paid when the shop marks it paid):
            # expected money, recorded as paying the order; the order's course is unchanged.
            collected = Change(
                event=PaymentRecorded(**which, payment_status=payment.status),
                actor=actor,
                at=self.now(),
            )
            return decided_as(PaymentDecision.PAYS_ORDER, collected, applied=True)
        if state.payment_required and state.status in _ALREADY_PAID:
            # A second payment for a paid order, whatever its amount: money to give back.
            return refused(PaymentDecision.ALREADY_PAID_REFUND_NEEDED)
        if decision is PaymentDecision.AMOUNT_MISMATCH:
            return refused(decision, expected=state.total)
        if state.status is OrderStatus.AWAITING_PAYMENT:
            paid = Change(
                event=OrderPaid(**which),
                to_status=OrderStatus.PAID,
                actor=actor,
                at=self.now(),
            )
            return decided_as(PaymentDecision.PAYS_ORDER, paid, applied=True)
        # received: the workflow settles it when it starts waiting for payment. backordered:
        # the money stays undecided (and shows as received) until the order can go on.
        return state

    def _test_money_for_live_order(self, state: OrderState, *, test: bool) -> bool:
        return test and not state.test and not self.accept_test_payments

    @staticmethod
    def _worth_a_note(state: OrderState, payment: PaymentEvent) -> bool:
        """Attempts that will not pay the order right away still belong on its timeline."""
        if payment.status in (PaymentStatus.PENDING, PaymentStatus.FAILED):
            return True
        return state.status is OrderStatus.BACKORDERED

    def _note_attempt(self, state: OrderState, payment: PaymentEvent, actor: str) -> OrderState:
        try:
            return self.orders.apply(
                state,
                Change(
                    event=PaymentRecorded(
                        provider=payment.provider,
                        payment_id=payment.payment_id,
                        amount=payment.amount,
                        payment_status=payment.status,
                        reason=payment.failure_reason,
                    ),
                    actor=actor,
                    at=self.now(),
                ),
            )
        except ConcurrentModification:
            # The timeline note is informative; the payment record itself is already stored.
            logger.info("skipped timeline note for a concurrently changed order")
            return state
