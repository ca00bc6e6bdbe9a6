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


def test_an_exact_succeeded_payment_pays_the_order() -> None:
    assert decide(TOTAL, PaymentStatus.SUCCEEDED, TOTAL) is PaymentDecision.PAYS_ORDER


@pytest.mark.parametrize(
    "amount",
    [
        Money(amount=40993, currency="USD"),  # one cent short
        Money(amount=40995, currency="USD"),  # overpaid is not "paid": it needs a refund
        Money(amount=40994, currency="EUR"),  # same number, other currency
    ],
)
def test_any_other_amount_is_a_mismatch(amount: Money) -> None:
    assert decide(TOTAL, PaymentStatus.SUCCEEDED, amount) is PaymentDecision.AMOUNT_MISMATCH


@pytest.mark.parametrize(
    "status", [PaymentStatus.PENDING, PaymentStatus.FAILED, PaymentStatus.REFUNDED]
)
def test_unsettled_statuses_never_pay_even_with_the_exact_amount(status: PaymentStatus) -> None:
    assert decide(TOTAL, status, TOTAL) is PaymentDecision.NOT_SETTLED


def test_status_rank_orders_pending_failed_succeeded_refunded() -> None:
    ranked = sorted(PaymentStatus, key=STATUS_RANK.__getitem__)
    assert ranked == [
        PaymentStatus.PENDING,
        PaymentStatus.FAILED,
        PaymentStatus.SUCCEEDED,
        PaymentStatus.REFUNDED,
    ]


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
