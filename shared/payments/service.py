"""The one "order paid" decision point.

Every path that can learn of a payment (a provider webhook, the workflow reaching its payment
wait) ends in `settle_payments` + `resume_if_paid`. Both are idempotent and safe to race:
the order's version check lets exactly one writer move it to paid, and each payment's decision
is written once, in that same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from shared.kernel.errors import ConcurrentModification
from shared.kernel.events import DomainEvent
from shared.kernel.money import Money
from shared.orders.domain import OrderStatus
from shared.orders.events import OrderNeedsAttention
from shared.orders.ports import OrderStore
from shared.orders.store import Change, OrderState
from shared.payments.domain import (
    DisputeEvent,
    PaymentDecision,
    PaymentEvent,
    PaymentStatus,
    Verdict,
    decide,
)
from shared.payments.events import (
    OrderHeld,
    OrderPaid,
    PaymentDisputed,
    PaymentRecorded,
    PaymentRejected,
)
from shared.payments.gateway import GatewayRejected
from shared.payments.parked import channel_reference
from shared.payments.ports import ParkedPaymentStore, PaymentRecordStore
from shared.payments.store import PaymentRecord
from shared.payments.transactions import decide_payment
from shared.platform.clock import Clock, utc_now
from shared.platform.observability import logger
from shared.platform.workflow import TaskTokenStore, Workflow
from shared.registry import is_provider
from shared.registry import provider as registry_provider

if TYPE_CHECKING:
    from shared.payments.gateways import GatewayLookup
    from shared.payments.sessions import SessionRecords

PAYMENT_WAIT = "payment"
MAX_ATTEMPTS = 5
_ALREADY_PAID = frozenset(
    {OrderStatus.PAID, OrderStatus.READY_TO_SHIP, OrderStatus.SHIPPED, OrderStatus.DELIVERED}
)


_REFUND_DECISIONS = frozenset(
    {
        PaymentDecision.ALREADY_PAID_REFUND_NEEDED,
        PaymentDecision.ORDER_CANCELLED_REFUND_NEEDED,
        # Money of another amount or currency is kept by nobody: it goes back (or a person
        # decides otherwise).
        PaymentDecision.AMOUNT_MISMATCH,
        PaymentDecision.CURRENCY_MISMATCH,
    }
)
# Orders that may still take (and capture) money.
_CAPTURABLE = frozenset(
    {
        OrderStatus.RECEIVED,
        OrderStatus.AWAITING_PAYMENT,
        OrderStatus.AWAITING_TRANSFER,
        OrderStatus.BACKORDERED,
    }
)
# Orders whose workflow waits for their money: a payment that reaches the total pays them.
WAITING_FOR_MONEY = frozenset({OrderStatus.AWAITING_PAYMENT, OrderStatus.AWAITING_TRANSFER})
_SHIPPED = frozenset({OrderStatus.SHIPPED, OrderStatus.DELIVERED})


def _to_decide(payment: PaymentRecord) -> bool:
    """A succeeded payment not decided yet. A zero-amount "success" (a Checkout session with
    nothing to pay) took no money: there is nothing to decide, pay or give back."""
    return payment.status.paid and payment.decision is None and payment.amount.amount > 0


def confirms_notifications(provider: str) -> bool:
    """Whether the provider's API client confirms paid notifications (`confirm`)."""
    if not is_provider(provider):
        return False
    entry = registry_provider(provider)
    return bool(entry.gateway) and hasattr(entry.gateway_factory(), "confirm")


def _collected(payments: list[PaymentRecord], currency: str) -> Money:
    """What payments decided as counting toward the order's total add up to, less what was
    refunded of them (money given back before the order was paid pays nothing)."""
    return Money(
        amount=sum(p.net for p in payments if p.counts_toward_total),
        currency=currency,
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
    # Confirms authorized money at its provider (P24 verify, PayPal capture, PayU accept); None
    # where no function that reports payments has gateways (unit tests of the reducer).
    gateways: GatewayLookup | None = None
    # The payment sessions orderhub opened: a payment of another amount than its session
    # asked for does not count, and a settled session leaves the reconciliation watch list.
    sessions: SessionRecords | None = None

    def expected(self, order_id: str, payment: PaymentRecord) -> Money | None:
        if self.sessions is None:
            return None
        for session in self.sessions.of_order(order_id):
            if session.is_for(payment):
                return session.amount
        return None

    def _close_session(self, order_id: str, payment: PaymentEvent) -> None:
        if self.sessions is None or payment.status in (
            PaymentStatus.PENDING,
            PaymentStatus.AUTHORIZED,
        ):
            return
        for session in self.sessions.of_order(order_id):
            if session.state == "open" and session.is_for(payment):
                self.sessions.settle(
                    order_id, session.attempt, "paid" if payment.status.paid else "failed"
                )

    def report(self, payment: PaymentEvent, *, actor: str) -> PaymentReport:
        """Record a provider's report and act on it; park it when its order is not here yet."""
        state = self._order_of(payment)
        if state is None:
            return self._park(payment, actor)
        if payment.needs_capture and payment.status is PaymentStatus.AUTHORIZED:
            payment = self._capture(state, payment, actor)
        elif payment.status.paid:
            confirmed = self._confirm(payment)
            if confirmed is None:
                logger.warning(
                    "a paid notification its provider does not confirm",
                    extra={"provider": payment.provider, "payment_id": payment.payment_id},
                )
                return PaymentReport(PaymentOutcome.APPLIED, state.order_id)
            payment = confirmed
        real_money = not self._test_money_for_live_order(state, test=payment.test)
        # A zero-amount "success" (a Checkout session with nothing to pay) took no money.
        took_money = payment.status.paid and payment.amount.amount > 0
        if took_money and real_money and not state.money_received:
            self.orders.mark_money_received(state.order_id, at=self.now())
            state = replace(state, money_received=True)
        changed = self.records.record(state.order_id, payment, at=self.now())
        if changed and self._worth_a_note(state, payment):
            state = self._note_attempt(state, payment, actor)
        if payment.risk is not None and payment.risk.high and real_money:
            self.hold(
                state.order_id,
                f"{payment.provider} risk {payment.risk.level.value}"
                + (f" ({payment.risk.detail})" if payment.risk.detail else ""),
                actor=actor,
            )
        if changed:
            self._close_session(state.order_id, payment)
        # Settle against a fresh read: the order may have moved on (received -> awaiting
        # payment) between our read and the record, and deciding on the stale state would
        # leave the payment undecided with nobody left to decide it.
        self.settle(state.order_id, actor=actor)
        self.resume_if_paid(state.order_id)
        return PaymentReport(PaymentOutcome.APPLIED, state.order_id)

    def _confirm(self, payment: PaymentEvent) -> PaymentEvent | None:
        """Where a provider's signature does not bind the body's money (PayPal: a CRC32), a
        paid notification counts only as the provider's API confirms it."""
        if self.gateways is None or not confirms_notifications(payment.provider):
            return payment
        gateway: Any = self.gateways(payment.provider)
        confirmed: PaymentEvent | None = gateway.confirm(payment)
        return confirmed

    def _capture(self, state: OrderState, payment: PaymentEvent, actor: str) -> PaymentEvent:
        """Confirm authorized money at the provider, but only for an order that can take it:
        money for a cancelled order, in another currency, or more than is left to pay is
        left uncaptured (it is never taken, so nothing must be refunded) and the order says
        so."""
        known = [
            p
            for p in self.records.of_order(state.order_id)
            if (p.provider, p.payment_id) == (payment.provider, payment.payment_id)
        ]
        if any(p.status.paid for p in known):
            # Captured already (a redelivered approval, a Przelewy24 notification resent
            # after our verify): nothing to confirm, nothing to flag.
            return payment
        reason = self._capture_refusal(state, payment)
        if reason is None and self.gateways is None:
            reason = "no payment gateway is configured to capture it"
        if reason is not None:
            self.records.record(state.order_id, payment, at=self.now())
            self._attention(
                state.order_id, f"authorized payment not captured: {reason}", payment, actor
            )
            return payment
        assert self.gateways is not None
        try:
            captured = self.gateways(payment.provider).capture(payment)
        except GatewayRejected as error:
            logger.warning("provider refused the capture", extra={"payment_id": payment.payment_id})
            return payment.model_copy(
                update={
                    "status": PaymentStatus.FAILED,
                    "needs_capture": False,
                    "failure_reason": f"capture refused: {error}"[:300],
                    "provider_event_id": f"{payment.provider_event_id}:capture-refused"[:255],
                }
            )
        if captured is None:
            return payment  # the provider's notification will say it is paid
        return captured

    def _capture_refusal(self, state: OrderState, payment: PaymentEvent) -> str | None:
        if state.status not in _CAPTURABLE:
            return f"the order is {state.status.value}"
        if payment.amount.currency != state.total.currency:
            return f"{payment.amount.currency} for an order in {state.total.currency}"
        if self._test_money_for_live_order(state, test=payment.test):
            return "test money for a live order"
        payments = self.records.of_order(state.order_id)
        others = [p for p in payments if p.payment_id != payment.payment_id]
        left = state.total.amount - _collected(others, state.total.currency).amount
        if payment.amount.amount > left:
            return f"{payment.amount.amount} is more than the {max(left, 0)} left to pay"
        return None

    def hold(self, order_id: str, reason: str, *, actor: str) -> OrderState | None:
        """Hold the order for review before it ships (idempotent; a shipped order is past
        holding: it gets the attention flag instead)."""
        for _ in range(MAX_ATTEMPTS):
            state = self.orders.get(order_id)
            if state is None or state.held:
                return state
            if state.status in _SHIPPED or state.status is OrderStatus.CANCELLED:
                return state
            try:
                return self.orders.apply(
                    state,
                    Change(
                        event=OrderHeld(reason=reason),
                        actor=actor,
                        at=self.now(),
                        set_fields={"held": reason},
                    ),
                )
            except ConcurrentModification:
                continue
        raise ConcurrentModification(f"order {order_id} kept changing while holding it")

    def dispute(self, dispute: DisputeEvent, *, actor: str) -> str | None:
        """A chargeback puts the order on the attention list (once per dispute)."""
        order_id = dispute.order_id or self.records.order_of(dispute.provider, dispute.payment_id)
        if order_id is None:
            logger.warning(
                "dispute for an unknown payment", extra={"payment_id": dispute.payment_id}
            )
            return None
        for _ in range(MAX_ATTEMPTS):
            state = self.orders.get(order_id)
            if state is None:
                return None
            if dispute.dispute_id in state.disputes:
                return order_id  # its created, updated, closed events: recorded once
            try:
                self.orders.apply(
                    state,
                    Change(
                        event=PaymentDisputed(
                            provider=dispute.provider,
                            payment_id=dispute.payment_id,
                            dispute_id=dispute.dispute_id,
                            amount=dispute.amount,
                            reason=dispute.reason,
                        ),
                        then=(
                            OrderNeedsAttention(
                                reason="dispute",
                                provider=dispute.provider,
                                payment_id=dispute.payment_id,
                                amount=dispute.amount,
                            ),
                        ),
                        actor=actor,
                        at=self.now(),
                        set_fields={
                            "attention": f"dispute {dispute.dispute_id}",
                            # Under the order's version check: two of its events racing
                            # cannot both add it.
                            "disputes": [*state.disputes, dispute.dispute_id][-50:],
                        },
                    ),
                )
            except ConcurrentModification:
                continue
            return order_id
        raise ConcurrentModification(f"order {order_id} kept changing")

    def _attention(self, order_id: str, reason: str, payment: PaymentEvent, actor: str) -> None:
        for _ in range(MAX_ATTEMPTS):
            state = self.orders.get(order_id)
            if state is None or state.attention == reason:
                return
            try:
                self.orders.apply(
                    state,
                    Change(
                        event=OrderNeedsAttention(
                            reason=reason,
                            provider=payment.provider,
                            payment_id=payment.payment_id,
                            amount=payment.amount,
                        ),
                        actor=actor,
                        at=self.now(),
                        set_fields={"attention": reason},
                    ),
                )
            except ConcurrentModification:
                continue
            return

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
                for candidate in payments:
                    if _to_decide(candidate):
                        state = self._decide(state, candidate, payments, actor)
                        # What this decision counted is what the next one must see (split
                        # tender decided in one pass).
                        payments = self.records.of_order(order_id)
            except ConcurrentModification:
                continue
            return state
        raise ConcurrentModification(f"order {order_id} kept changing while settling payments")

    def money_in_flight(self, order_id: str) -> bool:
        """Money was flagged as received but no succeeded payment is recorded and decided yet
        (a webhook between its flag and its record)."""
        succeeded = [
            p for p in self.records.of_order(order_id) if p.status.paid and p.amount.amount > 0
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
        others = [
            p
            for p in payments
            if p.payment_id != payment.payment_id or p.provider != payment.provider
        ]
        verdict = decide(
            state.total,
            _collected(others, state.total.currency),
            payment.status,
            payment.amount,
            test_payment_for_live_order=self._test_money_for_live_order(state, test=payment.test),
            expected=self.expected(state.order_id, payment),
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
            # Money that must go back is a person's call (or a refund through the API).
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

        decision = verdict.decision
        if decision is PaymentDecision.TEST_PAYMENT_FOR_LIVE_ORDER:
            return refused(decision, expected=state.total)
        if state.status is OrderStatus.CANCELLED:
            return refused(PaymentDecision.ORDER_CANCELLED_REFUND_NEEDED)
        if decision in (PaymentDecision.CURRENCY_MISMATCH, PaymentDecision.AMOUNT_MISMATCH):
            return refused(decision, expected=state.total)
        if decision is PaymentDecision.ALREADY_PAID_REFUND_NEEDED:
            return refused(decision)
        if not state.payment_required:
            # Cash on delivery collected (Shopify orders/paid when the shop marks it paid):
            # expected money, recorded as paying the order; the order's course is unchanged.
            # Cash is collected whole: another amount is a mismatch, not a part.
            if decision is not PaymentDecision.PAYS_ORDER:
                return refused(PaymentDecision.AMOUNT_MISMATCH, expected=state.total)
            collected = Change(
                event=PaymentRecorded(**which, payment_status=payment.status),
                actor=actor,
                at=self.now(),
            )
            return decided_as(decision, collected, applied=True)
        if state.status in _ALREADY_PAID:
            # A further payment for a paid order, whatever its amount: money to give back.
            return refused(PaymentDecision.ALREADY_PAID_REFUND_NEEDED)
        if state.status not in WAITING_FOR_MONEY:
            # received: the workflow settles it when it starts waiting for payment.
            # backordered: the money stays undecided (and shows as received) until the order
            # can go on.
            return state
        return self._count(state, payment, verdict, which, decided_as, actor)

    def _count(  # noqa: PLR0917 - the decision's context, passed on from _decide
        self,
        state: OrderState,
        payment: PaymentRecord,
        verdict: Verdict,
        which: dict[str, object],
        decided_as: Callable[..., OrderState],
        actor: str,
    ) -> OrderState:
        """A payment that counts toward the total: a part, the whole, or more than it."""
        if verdict.decision is PaymentDecision.PARTIAL:
            outstanding = verdict.outstanding.amount if verdict.outstanding else 0
            part = Change(
                event=PaymentRecorded(
                    **which,
                    payment_status=payment.status,
                    reason=f"part payment; {outstanding} still to pay",
                ),
                actor=actor,
                at=self.now(),
            )
            return decided_as(PaymentDecision.PARTIAL, part, applied=True)
        then: tuple[DomainEvent, ...] = ()
        fields: dict[str, object] = {}
        if verdict.decision is PaymentDecision.OVERPAID:
            then = (
                OrderNeedsAttention(
                    reason=PaymentDecision.OVERPAID.value,
                    **which,
                    expected=state.total,
                    excess=verdict.excess,
                ),
            )
            fields["attention"] = PaymentDecision.OVERPAID.value
        paid = Change(
            event=OrderPaid(**which),
            then=then,
            to_status=OrderStatus.PAID,
            actor=actor,
            at=self.now(),
            set_fields=fields,
        )
        return decided_as(verdict.decision, paid, applied=True)

    def _test_money_for_live_order(self, state: OrderState, *, test: bool) -> bool:
        return test and not state.test and not self.accept_test_payments

    @staticmethod
    def _worth_a_note(state: OrderState, payment: PaymentEvent) -> bool:
        """Attempts that will not pay the order right away still belong on its timeline."""
        if payment.status in (
            PaymentStatus.PENDING,
            PaymentStatus.AUTHORIZED,
            PaymentStatus.FAILED,
            PaymentStatus.CANCELLED,
        ):
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
