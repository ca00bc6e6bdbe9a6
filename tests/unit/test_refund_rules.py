"""The pure rules of refunds and payment sessions: a refund's overall status from its parts,
part ids and back, drawing a refund on an order's payments newest first, and which session a
repeated checkout request gets."""

from __future__ import annotations

import pytest

from shared.kernel.money import Money
from shared.payments.domain import PaymentStatus, RefundStatus
from shared.payments.refunds import (
    RefundPart,
    RefundRefused,
    RefundService,
    overall,
    part_id,
    refund_id_of,
    refundable,
)
from shared.payments.sessions import SessionRecord, SessionService
from shared.payments.store import PaymentRecord

R, P, C, F = (
    RefundStatus.REQUESTED,
    RefundStatus.PENDING,
    RefundStatus.COMPLETED,
    RefundStatus.FAILED,
)


def parts(*statuses: RefundStatus) -> tuple[RefundPart, ...]:
    return tuple(
        RefundPart(
            part_id=part_id("rf_0123456789abcdef01234567", i),
            provider="stripe",
            payment_id=f"pi_{i}",
            amount=100,
            status=status,
        )
        for i, status in enumerate(statuses)
    )


def payment(
    payment_id: str,
    amount: int,
    *,
    provider: str = "stripe",
    at: str | None = "2026-12-01T10:00:00.000Z",
    status: PaymentStatus = PaymentStatus.SUCCEEDED,
    attempt: int | None = None,
) -> PaymentRecord:
    return PaymentRecord(
        provider=provider,
        payment_id=payment_id,
        status=status,
        amount=Money(amount=amount, currency="PLN"),
        applied=True,
        method="blik",
        decision="partial" if status.paid else None,
        last_event_id=f"evt_{payment_id}",
        updated_at="2026-12-01T12:00:00.000Z",
        attempt=attempt,
        occurred_at=at,
    )


# -- overall --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ((C,), C),
        ((C, C), C),
        ((F,), F),
        ((F, F), F),
        ((C, F), C),  # partly: the failed part's amount went back to the ledger
        ((F, C), C),
        ((R,), R),
        ((R, R), R),
        ((P,), P),
        ((R, P), P),
        ((C, P), P),
        ((F, P), P),
        ((F, R), P),
        ((C, R), P),
    ],
)
def test_a_refunds_status_is_what_its_parts_add_up_to(
    statuses: tuple[RefundStatus, ...], expected: RefundStatus
) -> None:
    assert overall(parts(*statuses)) is expected


# -- part ids -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "refund_id", ["rf_0123456789abcdef01234567", "rf_ffffffffffffffffffffff00"]
)
@pytest.mark.parametrize("index", [0, 1, 2, 9, 10, 11])
def test_a_part_id_names_its_refund(refund_id: str, index: int) -> None:
    assert refund_id_of(part_id(refund_id, index)) == refund_id


def test_the_first_part_is_the_refund_id_itself_and_the_others_are_numbered() -> None:
    assert part_id("rf_abc", 0) == "rf_abc"
    assert [part_id("rf_abc", i) for i in (1, 2)] == ["rf_abc-1", "rf_abc-2"]


@pytest.mark.parametrize(
    "foreign",
    [
        "rx_0123456789abcdef01234567",  # a refund made in the provider's panel
        "re_3PpXyZ-2",  # someone else's id that happens to end in -<digits>
        "rf_abc-x",
        "rf_abc-",
        "12345-6",
    ],
)
def test_an_id_that_is_not_a_numbered_part_is_its_own_refund(foreign: str) -> None:
    assert refund_id_of(foreign) == foreign


# -- drawing on payments --------------------------------------------------------------------------


GIFT = payment("pi_gift", 3000, at="2026-12-01T10:00:00.000Z")
BLIK = payment("payu_blik", 1900, provider="payu", at="2026-12-01T10:05:00.000Z")


def test_a_refund_is_drawn_on_the_newest_payment_first_then_the_older() -> None:
    draws = RefundService._allocate([GIFT, BLIK], {}, 2500, None)
    assert draws == [(("payu", "payu_blik"), 1900), (("stripe", "pi_gift"), 600)]


def test_a_refund_within_the_newest_payment_draws_only_on_it() -> None:
    assert RefundService._allocate([GIFT, BLIK], {}, 1000, None) == [(("payu", "payu_blik"), 1000)]


def test_what_was_committed_before_is_not_drawn_again() -> None:
    committed = {("payu", "payu_blik"): 1900, ("stripe", "pi_gift"): 500}
    assert RefundService._allocate([BLIK, GIFT], committed, 2500, None) == [
        (("stripe", "pi_gift"), 2500)
    ]
    with pytest.raises(RefundRefused, match=r"exceeds what is left to refund \(2500\)"):
        RefundService._allocate([BLIK, GIFT], committed, 2501, None)


def test_a_payment_without_its_provider_time_sorts_by_when_it_was_recorded() -> None:
    late = payment("pi_late", 1000, at=None)  # recorded 12:00
    assert RefundService._allocate([late, BLIK], {}, 500, None) == [(("stripe", "pi_late"), 500)]


def test_a_named_payment_is_the_only_one_drawn_on() -> None:
    assert RefundService._allocate([GIFT, BLIK], {}, 2000, "pi_gift") == [
        (("stripe", "pi_gift"), 2000)
    ]
    with pytest.raises(RefundRefused, match="on payment payu_blik"):
        RefundService._allocate([GIFT, BLIK], {}, 2000, "payu_blik")
    with pytest.raises(RefundRefused, match="not a payment of this order"):
        RefundService._allocate([GIFT, BLIK], {}, 100, "pi_nobody")


def test_money_not_taken_is_never_refunded() -> None:
    failed = payment("pi_failed", 9000, status=PaymentStatus.FAILED, at="2026-12-02T00:00:00Z")
    pending = payment("pi_pending", 9000, status=PaymentStatus.PENDING, at="2026-12-02T00:00:00Z")
    zero = payment("cs_zero", 0, at="2026-12-02T00:00:00Z")
    assert [refundable(p, 0) for p in (failed, pending, zero)] == [0, 0, 0]
    assert RefundService._allocate([failed, pending, zero, GIFT], {}, 3000, None) == [
        (("stripe", "pi_gift"), 3000)
    ]
    with pytest.raises(RefundRefused):
        RefundService._allocate([failed, pending, zero], {}, 1, None)


@pytest.mark.parametrize("amount", [0, -1])
def test_a_refund_returns_a_positive_amount(amount: int) -> None:
    with pytest.raises(RefundRefused, match="positive"):
        RefundService._allocate([GIFT], {}, amount, None)


def test_what_a_payment_can_still_give_back() -> None:
    assert refundable(GIFT, 0) == 3000
    assert refundable(GIFT, 2999) == 1
    assert refundable(GIFT, 3000) == 0
    assert refundable(GIFT, 3500) == 0


# -- which session a checkout request gets --------------------------------------------------------


def session(
    attempt: int,
    *,
    provider: str = "stripe",
    method: str | None = "card",
    state: str = "open",
    amount: int = 4900,
    payment_id: str | None = None,
) -> SessionRecord:
    return SessionRecord(
        order_id="ord_1",
        attempt=attempt,
        provider=provider,
        method=method,
        return_url="https://shop.example/thanks",
        amount=Money(amount=amount, currency="PLN"),
        state=state,
        created_at="2026-12-01T10:00:00.000Z",
        session_id=f"cs_{attempt}" if state != "creating" else None,
        payment_id=payment_id,
    )


def reusable(
    sessions: list[SessionRecord],
    payments: list[PaymentRecord] | None = None,
    provider: str = "stripe",
    method: str | None = "card",
    outstanding: int = 4900,
) -> SessionRecord | None:
    return SessionService._reusable(sessions, payments or [], provider, method, outstanding)


def test_the_same_provider_and_method_reuse_the_open_session() -> None:
    open_ = session(1)
    assert reusable([open_]) is open_


def test_a_session_still_being_created_is_reused_to_be_completed() -> None:
    creating = session(1, state="creating")
    assert reusable([creating]) is creating


def test_nothing_to_reuse_starts_an_attempt() -> None:
    assert reusable([]) is None


@pytest.mark.parametrize("state", ["failed", "cancelled"])
def test_an_ended_session_is_not_reused(state: str) -> None:
    assert reusable([session(1, state=state)]) is None


@pytest.mark.parametrize("status", [PaymentStatus.FAILED, PaymentStatus.CANCELLED])
def test_a_failed_payment_ends_its_session_by_attempt(status: PaymentStatus) -> None:
    failed = payment("pi_1", 4900, status=status, attempt=1)
    assert reusable([session(1)], [failed]) is None
    # Another attempt's failure does not end this one
    other = payment("pi_2", 4900, status=status, attempt=2)
    assert reusable([session(1)], [other]) is not None


def test_a_failed_payment_ends_its_session_by_the_providers_id() -> None:
    failed = payment("pi_intent", 4900, status=PaymentStatus.FAILED)  # no attempt carried
    assert reusable([session(1, payment_id="pi_intent")], [failed]) is None
    assert reusable([session(1, payment_id="pi_other")], [failed]) is not None


def test_a_failed_payment_at_another_provider_ends_nothing() -> None:
    failed = payment("pi_1", 4900, status=PaymentStatus.FAILED, attempt=1, provider="payu")
    assert reusable([session(1)], [failed]) is not None


def test_another_method_or_provider_starts_a_new_attempt() -> None:
    card = session(1)
    assert reusable([card], method="blik") is None
    assert reusable([card], method=None) is None
    assert reusable([card], provider="payu") is None


def test_another_amount_left_to_pay_starts_a_new_attempt() -> None:
    assert reusable([session(1)], outstanding=1900) is None


def test_the_latest_session_of_that_provider_and_method_decides() -> None:
    first, blik, latest = session(1), session(2, method="blik"), session(3)
    assert reusable([first, blik, latest]) is latest
    # The latest failed: a new attempt, not the older open one
    assert reusable([first, blik, session(3, state="failed")]) is None
    assert reusable([first, blik, latest], method="blik") is blik


def test_a_session_knows_its_payment() -> None:
    open_ = session(2, payment_id="pi_intent")
    assert open_.is_for(payment("pi_any", 4900, attempt=2))
    assert not open_.is_for(payment("pi_intent", 4900, attempt=3))  # the attempt decides
    assert open_.is_for(payment("pi_intent", 4900))
    assert open_.is_for(payment("cs_2", 4900))  # the session id itself
    assert not open_.is_for(payment("pi_intent", 4900, provider="payu"))
