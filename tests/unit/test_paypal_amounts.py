"""PayPal's amount strings against orderhub Money (ISO 4217 minor units), both directions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.kernel.money import Money
from shared.providers.payments.paypal.amounts import (
    SUPPORTED,
    ZERO_DECIMAL,
    UnrepresentableAmount,
    from_paypal,
    paypal_decimals,
    to_paypal,
)


@pytest.mark.parametrize(
    ("value", "currency", "minor_units"),
    [
        ("409.94", "PLN", 40994),
        ("21.00", "USD", 2100),
        ("0.99", "EUR", 99),
        ("1000", "HUF", 100000),  # whole forints to PayPal, fillér in ISO 4217
        ("500", "JPY", 500),  # no decimals on either side
        ("1200", "TWD", 120000),
        ("10", "PLN", 1000),
    ],
)
def test_paypal_values_become_iso_minor_units(value: str, currency: str, minor_units: int) -> None:
    assert from_paypal(value, currency) == Money(amount=minor_units, currency=currency)


@pytest.mark.parametrize(
    ("money", "value"),
    [
        (Money(amount=40994, currency="PLN"), "409.94"),
        (Money(amount=2100, currency="USD"), "21.00"),
        (Money(amount=100000, currency="HUF"), "1000"),
        (Money(amount=500, currency="JPY"), "500"),
        (Money(amount=120000, currency="TWD"), "1200"),
    ],
)
def test_money_becomes_the_value_paypal_takes(money: Money, value: str) -> None:
    assert to_paypal(money) == value


def test_the_zero_decimal_currencies_are_the_documented_three() -> None:
    assert frozenset({"HUF", "JPY", "TWD"}) == ZERO_DECIMAL
    assert [paypal_decimals(c) for c in ("HUF", "jpy", "TWD", "PLN", "EUR")] == [0, 0, 0, 2, 2]


@pytest.mark.parametrize(
    "money",
    [
        Money(amount=100050, currency="HUF"),  # 1000.50 HUF: PayPal refuses decimals
        Money(amount=120001, currency="TWD"),
        Money(amount=1000, currency="KWD"),  # not a PayPal currency
        Money(amount=0, currency="PLN"),
        Money(amount=-5, currency="PLN"),
    ],
)
def test_what_paypal_cannot_charge_is_refused(money: Money) -> None:
    with pytest.raises(UnrepresentableAmount):
        to_paypal(money)


@pytest.mark.parametrize(
    "value", ["", "-1.00", "+1", "1e3", "1,00", "١٢", "NaN", "Infinity", "1.", " 1", "1" * 33]
)
def test_odd_values_are_refused(value: str) -> None:
    with pytest.raises(UnrepresentableAmount):
        from_paypal(value, "PLN")


def test_a_value_finer_than_the_minor_unit_is_refused() -> None:
    with pytest.raises(UnrepresentableAmount):
        from_paypal("1.005", "PLN")
    with pytest.raises(UnrepresentableAmount):
        from_paypal("1.5", "JPY")


@given(
    currency=st.sampled_from(sorted(SUPPORTED)),
    whole=st.integers(min_value=1, max_value=10**12),
    cents=st.integers(min_value=0, max_value=99),
)
def test_money_survives_a_round_trip(currency: str, whole: int, cents: int) -> None:
    exponent = 0 if currency == "JPY" else 2
    minor = whole * 10**exponent + (0 if currency in ZERO_DECIMAL else cents)
    money = Money(amount=minor, currency=currency)
    assert from_paypal(to_paypal(money), currency) == money
