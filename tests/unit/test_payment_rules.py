"""Payment rules: only an exact settled amount pays; statuses only move up in rank."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from shared.kernel.money import Money
from shared.payments.domain import (
    STATUS_RANK,
    ChannelOrderRef,
    PaymentDecision,
    PaymentEvent,
    PaymentStatus,
    decide,
)

TOTAL = Money(amount=40994, currency="USD")


NOTHING = Money(amount=0, currency="USD")


def test_an_exact_settled_payment_pays_the_order() -> None:
    verdict = decide(TOTAL, NOTHING, PaymentStatus.SUCCEEDED, TOTAL)
    assert verdict.decision is PaymentDecision.PAYS_ORDER


def test_a_part_counts_and_says_what_is_left() -> None:
    verdict = decide(TOTAL, NOTHING, PaymentStatus.SUCCEEDED, Money(amount=40000, currency="USD"))
    assert verdict.decision is PaymentDecision.PARTIAL
    assert verdict.outstanding == Money(amount=994, currency="USD")


def test_the_part_that_reaches_the_total_pays_the_order() -> None:
    collected = Money(amount=40000, currency="USD")
    rest = Money(amount=994, currency="USD")
    assert decide(TOTAL, collected, PaymentStatus.SUCCEEDED, rest).decision is (
        PaymentDecision.PAYS_ORDER
    )


def test_more_than_the_total_pays_and_names_the_excess() -> None:
    verdict = decide(TOTAL, NOTHING, PaymentStatus.SUCCEEDED, Money(amount=40995, currency="USD"))
    assert verdict.decision is PaymentDecision.OVERPAID
    assert verdict.excess == Money(amount=1, currency="USD")


def test_money_for_a_fully_paid_order_goes_back() -> None:
    verdict = decide(TOTAL, TOTAL, PaymentStatus.SUCCEEDED, Money(amount=1, currency="USD"))
    assert verdict.decision is PaymentDecision.ALREADY_PAID_REFUND_NEEDED


def test_another_currency_never_counts() -> None:
    other = Money(amount=40994, currency="EUR")
    assert decide(TOTAL, NOTHING, PaymentStatus.SUCCEEDED, other).decision is (
        PaymentDecision.CURRENCY_MISMATCH
    )


def test_an_amount_its_session_did_not_ask_for_never_counts() -> None:
    verdict = decide(
        TOTAL,
        NOTHING,
        PaymentStatus.SUCCEEDED,
        Money(amount=40993, currency="USD"),
        expected=TOTAL,
    )
    assert verdict.decision is PaymentDecision.AMOUNT_MISMATCH


@pytest.mark.parametrize(
    "status",
    [
        PaymentStatus.PENDING,
        PaymentStatus.AUTHORIZED,
        PaymentStatus.FAILED,
        PaymentStatus.CANCELLED,
    ],
)
def test_unsettled_statuses_never_pay_even_with_the_exact_amount(status: PaymentStatus) -> None:
    assert decide(TOTAL, NOTHING, status, TOTAL).decision is PaymentDecision.NOT_SETTLED


def test_status_rank_orders_pending_authorized_failed_paid() -> None:
    assert STATUS_RANK[PaymentStatus.PENDING] < STATUS_RANK[PaymentStatus.AUTHORIZED]
    assert STATUS_RANK[PaymentStatus.AUTHORIZED] < STATUS_RANK[PaymentStatus.FAILED]
    assert STATUS_RANK[PaymentStatus.FAILED] == STATUS_RANK[PaymentStatus.CANCELLED]
    assert STATUS_RANK[PaymentStatus.CANCELLED] < STATUS_RANK[PaymentStatus.SUCCEEDED]


def test_records_written_before_the_rename_still_read_as_paid() -> None:
    assert PaymentStatus("succeeded") is PaymentStatus.SUCCEEDED
    assert PaymentStatus.SUCCEEDED.value == "paid"


def _event(**overrides: Any) -> PaymentEvent:
    fields: dict[str, Any] = {
        "provider": "stripe",
        "provider_event_id": "evt_1",
        "payment_id": "pi_1",
        "status": PaymentStatus.SUCCEEDED,
        "amount": TOTAL,
        "occurred_at": datetime(2024, 5, 1, tzinfo=UTC),
    }
    fields.update(overrides)
    return PaymentEvent(**fields)


def test_a_payment_event_names_its_order_by_order_id_or_by_channel_order() -> None:
    assert _event(order_id="ord_1").order_id == "ord_1"
    ref = ChannelOrderRef(channel="shopify", external_id="450789469")
    assert _event(channel_order=ref).channel_order == ref


@pytest.mark.parametrize("both", [True, False])
def test_a_payment_event_must_name_exactly_one_order_reference(both: bool) -> None:
    extra: dict[str, Any] = (
        {"order_id": "ord_1", "channel_order": ChannelOrderRef(channel="shopify", external_id="1")}
        if both
        else {}
    )
    with pytest.raises(ValidationError, match="order_id or by channel_order"):
        _event(**extra)
