"""B2B orders paid by bank transfer with a due date.

`place` moves an order that waits for payment to `awaiting_transfer`, due by the end of a
UTC day; the workflow keeps waiting (its payment wait, then, when that window closes before
the due date, a wait until the due date: shared/fulfilment/service.py `compensate`). A
reminder is due `remind_days_before` the date (the payment reconciler emits
`PaymentReminderDue` once; the customer-notification issue sends it). Past the date the
order is cancelled or escalated to a person, as placed. The transfer itself is recorded
through the API when the bank statement shows it (`record`), and pays the order through the
same reducer as every provider.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from shared.kernel.errors import ConcurrentModification, DomainError, OrderNotFound
from shared.kernel.money import Money
from shared.kernel.time import utc_iso
from shared.orders.domain import OrderStatus
from shared.orders.ports import OrderStore
from shared.orders.store import Change, OrderState
from shared.payments.domain import PaymentEvent, PaymentStatus
from shared.payments.events import BankTransferRequested, PaymentReminderDue
from shared.payments.ports import PaymentRecordStore
from shared.payments.service import PaymentReport, PaymentService
from shared.payments.store import left_to_pay
from shared.platform.clock import Clock, utc_now

PROVIDER = "bank_transfer"
ACTOR = "bank transfer"
MAX_ATTEMPTS = 5
MAX_TERM = timedelta(days=180)


class OnOverdue(StrEnum):
    CANCEL = "cancel"
    ESCALATE = "escalate"


class NotOnTransfer(DomainError):
    """The order cannot be placed on (or paid by) bank transfer in its state."""

    code = "not_payable"


def due_end(due_date: str) -> datetime:
    """A transfer due on a date is due until the end of that day, UTC."""
    return datetime.combine(date.fromisoformat(due_date), time.max, tzinfo=UTC)


def transfer_reference(state: OrderState) -> str:
    """The title the buyer writes on the transfer: the shop's order number and our id."""
    number = state.external_number or state.external_id
    return f"{number} {state.order_id}"


@dataclass
class BankTransfers:
    orders: OrderStore
    records: PaymentRecordStore
    now: Clock = utc_now

    def place(
        self,
        order_id: str,
        *,
        due_date: date,
        on_overdue: OnOverdue,
        remind_days_before: int,
        actor: str,
    ) -> OrderState:
        """awaiting_payment -> awaiting_transfer (or new terms for one already on transfer)."""
        today = self.now().date()
        if due_date < today:
            raise NotOnTransfer(f"the due date {due_date} has passed")
        if due_date - today > MAX_TERM:
            raise NotOnTransfer(f"a transfer is due within {MAX_TERM.days} days")
        remind_at = max(
            datetime.combine(due_date - timedelta(days=remind_days_before), time(8), tzinfo=UTC),
            self.now(),
        )
        for _ in range(MAX_ATTEMPTS):
            state = self.orders.get(order_id)
            if state is None:
                raise OrderNotFound(order_id)
            if not state.payment_required:
                raise NotOnTransfer(f"order {order_id} is not prepaid: nothing to transfer")
            if state.status not in (OrderStatus.AWAITING_PAYMENT, OrderStatus.AWAITING_TRANSFER):
                raise NotOnTransfer(
                    f"order {order_id} is {state.status.value}: only an order waiting for its "
                    "payment can be placed on bank transfer"
                )
            fields = {
                "transfer_due": due_date.isoformat(),
                "transfer_on_overdue": on_overdue.value,
                "transfer_remind_at": utc_iso(remind_at),
                "transfer_reminded": False,
            }
            if state.status is OrderStatus.AWAITING_TRANSFER and all(
                getattr(state, k) == v for k, v in fields.items()
            ):
                return state  # the same terms again
            left = left_to_pay(state.total.amount, self.records.of_order(order_id))
            try:
                return self.orders.apply(
                    state,
                    Change(
                        event=BankTransferRequested(
                            due_date=due_date.isoformat(),
                            amount=Money(
                                amount=max(left, 0),
                                currency=state.total.currency,
                            ),
                            reference=transfer_reference(state),
                            on_overdue=on_overdue.value,
                        ),
                        to_status=OrderStatus.AWAITING_TRANSFER
                        if state.status is OrderStatus.AWAITING_PAYMENT
                        else None,
                        actor=actor,
                        at=self.now(),
                        set_fields=fields,
                    ),
                )
            except ConcurrentModification:
                continue
        raise ConcurrentModification(f"order {order_id} kept changing")

    def remind(self, state: OrderState, *, now: datetime) -> bool:
        """Emit the reminder once it is due; True when this call emitted it."""
        if (
            state.status is not OrderStatus.AWAITING_TRANSFER
            or state.transfer_reminded
            or state.transfer_due is None
            or state.transfer_remind_at is None
            or now < datetime.fromisoformat(state.transfer_remind_at)
            or now > due_end(state.transfer_due)
        ):
            return False
        left = left_to_pay(state.total.amount, self.records.of_order(state.order_id))
        try:
            self.orders.apply(
                state,
                Change(
                    event=PaymentReminderDue(
                        due_date=state.transfer_due,
                        outstanding=Money(
                            amount=max(left, 0),
                            currency=state.total.currency,
                        ),
                    ),
                    actor=ACTOR,
                    at=self.now(),
                    set_fields={"transfer_reminded": True},
                ),
            )
        except ConcurrentModification:
            return False  # the next run sees the order afresh
        return True


def wait_seconds(state: OrderState, now: datetime) -> int | None:
    """How long the workflow still waits for a transfer (None: not on transfer, or overdue)."""
    if state.status is not OrderStatus.AWAITING_TRANSFER or state.transfer_due is None:
        return None
    left = (due_end(state.transfer_due) - now).total_seconds()
    return int(left) + 1 if left > 0 else None


def record_transfer(
    payments: PaymentService,
    order_id: str,
    *,
    amount: Money,
    reference: str,
    received_at: datetime,
    actor: str,
) -> PaymentReport:
    """A transfer the bank statement shows: a payment like any provider's (idempotent by its
    reference: the same statement line recorded twice is one payment)."""
    return payments.report(
        PaymentEvent(
            provider=PROVIDER,
            provider_event_id=f"{reference}:received",
            payment_id=reference,
            order_id=order_id,
            status=PaymentStatus.SUCCEEDED,
            amount=amount,
            method=PROVIDER,
            occurred_at=received_at,
        ),
        actor=actor,
    )
