"""B2B bank transfer with a due date: placed, waited for past the payment window, reminded,
then cancelled or escalated when the date passes; paid by the recorded transfer."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from shared.fulfilment.service import Compensation
from shared.kernel.events import EventType
from shared.kernel.money import Money
from shared.orders.domain import OrderStatus, PaymentMethod
from shared.payments.transfers import (
    BankTransfers,
    NotOnTransfer,
    OnOverdue,
    record_transfer,
    wait_seconds,
)
from tests.unit.fakes import MUG, FakeWorld, a_world


@pytest.fixture
def world() -> FakeWorld:
    return a_world()


def transfers(world: FakeWorld) -> BankTransfers:
    return BankTransfers(orders=world.orders, records=world.records, now=world.clock)


def on_transfer(world: FakeWorld, *, days: int = 10, overdue: OnOverdue = OnOverdue.CANCEL) -> str:
    order_id = world.awaiting_payment()
    world.fulfilment.await_payment(order_id, "token-1", 3600)
    due = world.clock().date() + timedelta(days=days)
    transfers(world).place(
        order_id, due_date=due, on_overdue=overdue, remind_days_before=3, actor="api"
    )
    return order_id


def test_a_waiting_order_is_placed_on_transfer_with_its_terms(world: FakeWorld) -> None:
    order_id = on_transfer(world)
    state = world.state(order_id)
    assert state.status is OrderStatus.AWAITING_TRANSFER
    assert state.transfer_due == (world.clock().date() + timedelta(days=10)).isoformat()
    assert world.events(order_id)[-1] is EventType.BANK_TRANSFER_REQUESTED
    # The same terms again change nothing.
    version = state.version
    transfers(world).place(
        order_id,
        due_date=date.fromisoformat(str(state.transfer_due)),
        on_overdue=OnOverdue.CANCEL,
        remind_days_before=3,
        actor="api",
    )
    assert world.state(order_id).version == version


@pytest.mark.parametrize("days", [-1, 181])
def test_a_due_date_in_the_past_or_too_far_is_refused(world: FakeWorld, days: int) -> None:
    order_id = world.awaiting_payment()
    with pytest.raises(NotOnTransfer):
        transfers(world).place(
            order_id,
            due_date=world.clock().date() + timedelta(days=days),
            on_overdue=OnOverdue.CANCEL,
            remind_days_before=3,
            actor="api",
        )


def test_cash_on_delivery_cannot_be_placed_on_transfer(world: FakeWorld) -> None:
    world.stock_up(MUG, 5)
    order_id = world.received((MUG, 1, 4900), payment_method=PaymentMethod.CASH_ON_DELIVERY)
    world.fulfilment.reserve_stock(order_id)
    with pytest.raises(NotOnTransfer):
        transfers(world).place(
            order_id,
            due_date=world.clock().date() + timedelta(days=5),
            on_overdue=OnOverdue.CANCEL,
            remind_days_before=3,
            actor="api",
        )


def test_the_payment_window_closing_before_the_due_date_keeps_the_workflow_waiting(
    world: FakeWorld,
) -> None:
    order_id = on_transfer(world, days=10)
    world.clock.advance(timedelta(days=1))  # the 24 h payment window is over
    assert world.fulfilment.compensate(order_id, "payment_timeout") is Compensation.WAITING
    left = world.fulfilment.transfer_wait_seconds(order_id)
    assert timedelta(days=9) < timedelta(seconds=left) <= timedelta(days=10)
    assert world.status(order_id) is OrderStatus.AWAITING_TRANSFER


def test_the_reminder_is_due_days_before_and_is_emitted_once(world: FakeWorld) -> None:
    order_id = on_transfer(world, days=10)
    assert not transfers(world).remind(world.state(order_id), now=world.clock())
    world.clock.advance(timedelta(days=7, hours=1))
    assert transfers(world).remind(world.state(order_id), now=world.clock())
    assert not transfers(world).remind(world.state(order_id), now=world.clock())
    assert world.events(order_id).count(EventType.PAYMENT_REMINDER_DUE) == 1


def test_an_overdue_transfer_cancels_the_order_and_releases_its_stock(world: FakeWorld) -> None:
    order_id = on_transfer(world, days=2, overdue=OnOverdue.CANCEL)
    world.clock.advance(timedelta(days=3))
    assert wait_seconds(world.state(order_id), world.clock()) is None
    assert world.fulfilment.compensate(order_id, "payment_timeout") is Compensation.CANCELLED
    state = world.state(order_id)
    assert state.status is OrderStatus.CANCELLED
    assert state.reservations == ()


def test_an_overdue_transfer_on_escalate_goes_to_a_person(world: FakeWorld) -> None:
    order_id = on_transfer(world, days=2, overdue=OnOverdue.ESCALATE)
    world.clock.advance(timedelta(days=3))
    outcome = world.fulfilment.compensate(order_id, "payment_timeout")
    assert outcome is Compensation.NEEDS_ATTENTION
    state = world.state(order_id)
    assert state.status is OrderStatus.AWAITING_TRANSFER
    assert state.attention == "transfer_overdue"


def test_the_recorded_transfer_pays_the_order_once(world: FakeWorld) -> None:
    order_id = on_transfer(world)
    for _ in range(2):  # the same statement line recorded twice
        record_transfer(
            world.payments,
            order_id,
            amount=Money(amount=4900, currency="PLN"),
            reference="stmt-0001",
            received_at=world.clock(),
            actor="api",
        )
    assert world.status(order_id) is OrderStatus.PAID
    assert world.events(order_id).count(EventType.ORDER_PAID) == 1
    assert len(world.workflow.resumed) == 1
