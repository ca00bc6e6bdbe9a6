"""A missed webhook is not a lost payment: ask the providers about what is still open.

Every payment session orderhub opened stays on a watch list until its payment settles or
fails, and every refund until it completes or fails (GSI1PK = PAYWATCH#session / #refund).
On a schedule, for whatever has been open longer than a configurable time, the provider is
asked, and what it says goes through the same reducer as its notification would
(`PaymentService.report`, `RefundService.report`): a payment found this way and the same
payment's late webhook dedupe on the same record, because each lookup maps to the same
provider event id its notification would carry. What was found is the drift: a metric.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.kernel.time import utc_iso
from shared.orders.domain import OrderStatus
from shared.orders.store import OrderRepository
from shared.payments.gateway import GatewayError, RefundLookup
from shared.payments.gateways import GatewayLookup
from shared.payments.refunds import Refund, RefundRecords, RefundService
from shared.payments.service import PaymentService
from shared.payments.sessions import SessionRecord, SessionRecords
from shared.payments.transfers import BankTransfers
from shared.platform.clock import Clock, utc_now
from shared.platform.observability import logger

ACTOR = "payment reconciliation"
# A session older than this that never saw a payment is abandoned: it leaves the watch list
# (the provider expires it too: Stripe Checkout 24 h, PayU and P24 within days).
ABANDONED_AFTER = timedelta(days=3)


@dataclass
class Drift:
    """What the providers knew and orderhub had not heard."""

    payments_repaired: list[str] = field(default_factory=list)  # order ids
    refunds_repaired: list[str] = field(default_factory=list)  # refund ids
    sessions_abandoned: int = 0
    reminders_due: list[str] = field(default_factory=list)  # orders on bank transfer
    errors: int = 0


@dataclass
class PaymentReconciler:
    payments: PaymentService
    refunds: RefundService
    sessions: SessionRecords
    refund_records: RefundRecords
    gateways: GatewayLookup
    # Orders on bank transfer, for their reminders (None: no reminders from this run).
    transfers: BankTransfers | None = None
    orders: OrderRepository | None = None
    pending_after: timedelta = timedelta(minutes=15)
    now: Clock = utc_now

    def run(self, as_of: datetime | None = None) -> Drift:
        """Reconcile what was open `pending_after` before `as_of` (the schedule's time; now by
        default)."""
        drift = Drift()
        now = as_of or self.now()
        self._sessions(drift, now)
        self._refunds(drift, now)
        self._reminders(drift, now)
        return drift

    def _reminders(self, drift: Drift, now: datetime) -> None:
        """Each order on bank transfer whose reminder is due gets `PaymentReminderDue` once."""
        if self.transfers is None or self.orders is None:
            return
        start: dict[str, object] | None = None
        while True:
            page, start = self.orders.list_page(
                status=OrderStatus.AWAITING_TRANSFER,
                created_from=None,
                created_to=None,
                filters={},
                limit=100,
                start_key=start,
            )
            for row in page:
                state = self.orders.get(str(row["order_id"]))
                if state is not None and self.transfers.remind(state, now=now):
                    drift.reminders_due.append(state.order_id)
            if start is None:
                return

    def _sessions(self, drift: Drift, now: datetime) -> None:
        for session in self.sessions.watched(older_than=utc_iso(now - self.pending_after)):
            try:
                self._session(session, drift, now)
            except Exception as error:  # one bad item must not stop the others
                drift.errors += 1
                logger.exception(
                    "reconciling a session failed",
                    extra={"order_id": session.order_id, "error": type(error).__name__},
                )

    def _session(self, session: SessionRecord, drift: Drift, now: datetime) -> None:
        try:
            found = self.gateways(session.provider).session_status(session.lookup())
        except GatewayError as error:
            drift.errors += 1
            logger.warning(
                "provider lookup failed",
                extra={"order_id": session.order_id, "error": str(error)[:300]},
            )
            return
        if found is None:
            if session.created_at < utc_iso(now - ABANDONED_AFTER):
                self.sessions.settle(session.order_id, session.attempt, "abandoned")
                drift.sessions_abandoned += 1
            return
        known = {
            (p.provider, p.payment_id): p for p in self.payments.records.of_order(session.order_id)
        }
        before = known.get((found.provider, found.payment_id))
        self.payments.report(found, actor=ACTOR)
        if before is None or before.status != found.status:
            drift.payments_repaired.append(session.order_id)
            logger.warning(
                "reconciliation found a payment no notification had reported",
                extra={"order_id": session.order_id, "status": found.status.value},
            )

    def _refunds(self, drift: Drift, now: datetime) -> None:
        for refund in self.refund_records.watched(older_than=utc_iso(now - self.pending_after)):
            if refund.origin != "orderhub":
                continue
            try:
                self._refund(refund, drift)
            except Exception as error:  # one bad item must not stop the others
                drift.errors += 1
                logger.exception(
                    "reconciling a refund failed",
                    extra={"refund_id": refund.refund_id, "error": type(error).__name__},
                )

    def _refund(self, refund: Refund, drift: Drift) -> None:
        # A refund never sent (the stream retried out) is sent now: idempotent by part id.
        current = self.refunds.dispatch(refund.order_id, refund.refund_id) or refund
        for part in current.parts:
            if part.status.value not in ("pending", "requested"):
                continue
            lookup = RefundLookup(
                refund_id=part.part_id,
                order_id=refund.order_id,
                payment_id=part.payment_id,
                amount=refund.amount.model_copy(update={"amount": part.amount}),
                provider_refund_id=part.provider_refund_id,
            )
            try:
                found = self.gateways(part.provider).refund_status(lookup)
            except GatewayError as error:
                drift.errors += 1
                logger.warning("provider refund lookup failed", extra={"error": str(error)[:300]})
                continue
            if found is not None and found.status.value != part.status.value:
                self.refunds.report(found, actor=ACTOR)
                drift.refunds_repaired.append(refund.refund_id)
