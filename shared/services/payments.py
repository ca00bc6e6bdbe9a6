"""The one "order paid" decision point.

Every path that can learn of a payment (a provider webhook, the workflow reaching its payment
wait) ends in `settle_payments` + `resume_if_paid`. Both are idempotent and safe to race:
the order's version check lets exactly one writer move it to paid, and each payment's decision
is written once, in that same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.domain.errors import ConcurrentModification, DomainError
from shared.domain.events import EventType
from shared.domain.order import OrderStatus
from shared.domain.payment import PaymentDecision, PaymentEvent, PaymentStatus, decide
from shared.observability import logger
from shared.services.clock import Clock, utc_now
from shared.store.orders import Change, OrderRepository, OrderState, PaymentRecord
from shared.workflow import Workflow

PAYMENT_WAIT = "payment"
MAX_ATTEMPTS = 5
_ALREADY_PAID = frozenset(
    {OrderStatus.PAID, OrderStatus.READY_TO_SHIP, OrderStatus.SHIPPED, OrderStatus.DELIVERED}
)


class OrderNotYetKnown(DomainError):
    """A channel reported a payment for an order we have not received yet; retry later."""

    code = "order_not_yet_known"


@dataclass
class PaymentService:
    orders: OrderRepository
    workflow: Workflow
    now: Clock = utc_now

    def report(self, payment: PaymentEvent, *, actor: str) -> str | None:
        """Record a provider's report and act on it. Returns the order id, None if unknown."""
        order_id = self._order_id(payment)
        changed = self.orders.record_payment(order_id, payment, at=self.now())
        state = self.orders.get(order_id)
        if state is None:
            logger.warning(
                "payment for an unknown order",
                extra={"order_id": order_id, "payment_id": payment.payment_id},
            )
            return None
        if changed and self._worth_a_note(state, payment):
            state = self._note_attempt(state, payment, actor)
        self.settle(order_id, actor=actor, known=state)
        self.resume_if_paid(order_id)
        return order_id

    def settle(
        self, order_id: str, *, actor: str, known: OrderState | None = None
    ) -> OrderState | None:
        """Decide every succeeded payment not decided yet, against the order's current state.

        `known` is a state the caller read after the payment was recorded: it saves the first
        read (if it is stale, the versioned write fails and the next attempt reads afresh)."""
        for _ in range(MAX_ATTEMPTS):
            state, known = known or self.orders.get(order_id), None
            if state is None:
                return None
            try:
                for payment in self.orders.payments(order_id):
                    if payment.status is PaymentStatus.SUCCEEDED and payment.decision is None:
                        state = self._decide(state, payment, actor)
            except ConcurrentModification:
                continue
            return state
        raise ConcurrentModification(f"order {order_id} kept changing while settling payments")

    def resume_if_paid(self, order_id: str) -> bool:
        """If the order is paid and its workflow waits for that, resume it.

        Reads the order afresh: whoever called may have decided nothing itself while the
        other path (webhook or workflow) made the order paid in between."""
        state = self.orders.get(order_id)
        if state is None or state.status is not OrderStatus.PAID:
            return False
        token = self.orders.get_wait(order_id, PAYMENT_WAIT)
        if token is None:
            return False
        resumed = self.workflow.resume(token, {"order_id": order_id, "paid": True})
        # Only this token: a retried wait may already have parked a newer one.
        self.orders.delete_wait(order_id, PAYMENT_WAIT, token)
        return resumed

    def _order_id(self, payment: PaymentEvent) -> str:
        if payment.order_id is not None:
            return payment.order_id
        assert payment.channel_order is not None  # the model guarantees one of the two
        ref = payment.channel_order
        order_id = self.orders.find_by_channel(ref.channel, ref.external_id)
        if order_id is None:
            raise OrderNotYetKnown(f"{ref.channel} order {ref.external_id} is not known yet")
        return order_id

    def _decide(self, state: OrderState, payment: PaymentRecord, actor: str) -> OrderState:
        decision = decide(state.total, payment.status, payment.amount)
        summary = {
            "provider": payment.provider,
            "payment_id": payment.payment_id,
            "amount": payment.amount.model_dump(),
        }

        def mark(decided: PaymentDecision, *, applied: bool) -> Change:
            return Change(
                event=EventType.PAYMENT_REJECTED,
                actor=actor,
                at=self.now(),
                detail={**summary, "reason": decided},
                also=lambda txn: self.orders.mark_payment(
                    txn, state.order_id, payment, decision=decided, applied=applied
                ),
            )

        if decision is PaymentDecision.AMOUNT_MISMATCH:
            change = mark(PaymentDecision.AMOUNT_MISMATCH, applied=False)
            change.detail["expected"] = state.total.model_dump()
            return self.orders.apply(state, change)
        if state.status is OrderStatus.AWAITING_PAYMENT:
            return self.orders.apply(
                state,
                Change(
                    event=EventType.ORDER_PAID,
                    to_status=OrderStatus.PAID,
                    actor=actor,
                    at=self.now(),
                    detail=summary,
                    also=lambda txn: self.orders.mark_payment(
                        txn,
                        state.order_id,
                        payment,
                        decision=PaymentDecision.PAYS_ORDER,
                        applied=True,
                    ),
                ),
            )
        if state.status in _ALREADY_PAID:
            # A second, different payment for a paid order: money to give back, not to keep.
            refund = mark(PaymentDecision.ALREADY_PAID_REFUND_NEEDED, applied=False)
            return self.orders.apply(state, refund)
        if state.status is OrderStatus.CANCELLED:
            refund = mark(PaymentDecision.ORDER_CANCELLED_REFUND_NEEDED, applied=False)
            return self.orders.apply(state, refund)
        # received: the workflow settles it when it starts waiting for payment. backordered:
        # the money stays undecided (and shows as received) until the order can go on.
        return state

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
                    event=EventType.PAYMENT_RECORDED,
                    actor=actor,
                    at=self.now(),
                    detail={
                        "provider": payment.provider,
                        "payment_id": payment.payment_id,
                        "payment_status": payment.status.value,
                        "amount": payment.amount.model_dump(),
                        **({"reason": payment.failure_reason} if payment.failure_reason else {}),
                    },
                ),
            )
        except ConcurrentModification:
            # The timeline note is informative; the payment record itself is already stored.
            logger.info("skipped timeline note for a concurrently changed order")
            return state
