"""Stripe's amount units against ISO 4217 minor units, for every currency Stripe lists."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.kernel.money import Money, currency_exponent
from shared.providers.payments.stripe.amounts import (
    SUPPORTED,
    THREE_DECIMAL,
    ZERO_DECIMAL,
    UnrepresentableAmount,
    from_stripe_amount,
    stripe_exponent,
    to_stripe_amount,
)

CURRENCIES = sorted(SUPPORTED)


def test_the_special_cases_stripe_documents() -> None:
    # ISK: no decimals in ISO 4217, two in Stripe's API (amounts divisible by 100).
    assert (currency_exponent("ISK"), stripe_exponent("ISK")) == (0, 2)
    # MGA: two decimals in ISO 4217, zero-decimal in Stripe's API.
    assert (currency_exponent("MGA"), stripe_exponent("MGA")) == (2, 0)
    # HUF and TWD are two-decimal in the API (zero-decimal only for payouts); UGX zero.
    assert stripe_exponent("HUF") == stripe_exponent("TWD") == 2
    assert stripe_exponent("UGX") == currency_exponent("UGX") == 0
    assert ZERO_DECIMAL | THREE_DECIMAL <= SUPPORTED


@given(currency=st.sampled_from(CURRENCIES), units=st.integers(0, 10**12))
def test_a_whole_amount_survives_the_round_trip_in_every_currency(
    currency: str, units: int
) -> None:
    # Whole units of any currency are representable on both sides.
    money = Money(amount=units * 10 ** currency_exponent(currency), currency=currency)
    assert from_stripe_amount(to_stripe_amount(money), currency) == money


@given(currency=st.sampled_from(CURRENCIES), amount=st.integers(0, 10**14))
def test_every_stripe_amount_maps_exactly_or_is_refused(currency: str, amount: int) -> None:
    try:
        money = from_stripe_amount(amount, currency.lower())
    except UnrepresentableAmount:
        # Only where Stripe's unit is finer than ISO's (ISK: 1/100 of a whole krona).
        assert stripe_exponent(currency) > currency_exponent(currency)
        return
    assert to_stripe_amount(money) == amount
    assert money.to_decimal() * 10 ** stripe_exponent(currency) == amount


@pytest.mark.parametrize("currency", CURRENCIES)
def test_one_major_unit_in_each_currency(currency: str) -> None:
    one = Money.from_decimal("1", currency)
    assert to_stripe_amount(one) == 10 ** stripe_exponent(currency)
