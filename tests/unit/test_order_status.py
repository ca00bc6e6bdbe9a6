"""The order status machine: allowed moves, terminal statuses, conditional-write sources."""

from __future__ import annotations

import itertools

import pytest

from shared.kernel.errors import InvalidTransition
from shared.orders.domain import (
    TERMINAL_STATUSES,
    TRANSITIONS,
    OrderStatus,
    can_transition,
    ensure_transition,
)

S = OrderStatus


def test_every_status_has_an_entry_in_the_machine() -> None:
    assert set(TRANSITIONS) == set(OrderStatus)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.RECEIVED, S.AWAITING_PAYMENT),
        (S.RECEIVED, S.READY_TO_SHIP),  # cash on delivery, in stock
        (S.RECEIVED, S.BACKORDERED),
        (S.AWAITING_PAYMENT, S.PAID),
        (S.PAID, S.READY_TO_SHIP),
        (S.BACKORDERED, S.AWAITING_PAYMENT),
        (S.READY_TO_SHIP, S.SHIPPED),
        (S.SHIPPED, S.DELIVERED),
    ],
)
def test_happy_path_moves_are_allowed(current: OrderStatus, target: OrderStatus) -> None:
    assert can_transition(current, target)
    ensure_transition(current, target)  # does not raise


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.RECEIVED, S.PAID),  # a payment before the workflow asked for it
        (S.AWAITING_PAYMENT, S.SHIPPED),
        (S.PAID, S.AWAITING_PAYMENT),  # a late "pending" must not undo a payment
        (S.SHIPPED, S.CANCELLED),  # too late to cancel
        (S.DELIVERED, S.SHIPPED),
        (S.CANCELLED, S.RECEIVED),
    ],
)
def test_out_of_order_moves_raise_invalid_transition(
    current: OrderStatus, target: OrderStatus
) -> None:
    assert not can_transition(current, target)
    with pytest.raises(InvalidTransition) as raised:
        ensure_transition(current, target)
    assert (raised.value.current, raised.value.target) == (current.value, target.value)
    assert raised.value.code == "invalid_transition"


def test_no_status_moves_to_itself() -> None:
    assert not any(can_transition(status, status) for status in OrderStatus)


def test_delivered_and_cancelled_are_the_terminal_statuses() -> None:
    assert frozenset({S.DELIVERED, S.CANCELLED}) == TERMINAL_STATUSES
    for terminal, target in itertools.product(TERMINAL_STATUSES, OrderStatus):
        assert not can_transition(terminal, target)


def test_every_status_is_reachable_from_received() -> None:
    reached, frontier = {S.RECEIVED}, [S.RECEIVED]
    while frontier:
        for target in TRANSITIONS[frontier.pop()] - reached:
            reached.add(target)
            frontier.append(target)
    assert reached == set(OrderStatus)
