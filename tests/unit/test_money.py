"""Money: integer minor units, exact decimal parsing, ISO 4217 exponents, no mixed currencies."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.kernel.money import CurrencyMismatch, Money, currency_exponent, total_of

CURRENCIES = ["USD", "EUR", "PLN", "JPY", "KWD", "CLP", "BHD"]


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("409.94", "USD", 40994),
        ("409.9", "USD", 40990),
        ("0.00", "PLN", 0),
        ("-12.34", "EUR", -1234),
        ("1500", "JPY", 1500),
        ("1.234", "KWD", 1234),
        ("1", "KWD", 1000),
    ],
)
def test_from_decimal_parses_provider_strings_exactly(text: str, currency: str, minor: int) -> None:
    # Given a provider's decimal string, When parsed, Then the minor units are exact.
    assert Money.from_decimal(text, currency) == Money(amount=minor, currency=currency)


def test_from_decimal_upper_cases_the_currency() -> None:
    assert Money.from_decimal(Decimal("1.10"), "usd") == Money(amount=110, currency="USD")


@pytest.mark.parametrize(
    ("text", "currency"),
    [("0.001", "USD"), ("19.999", "EUR"), ("1.5", "JPY"), ("0.0001", "KWD")],
)
def test_from_decimal_rejects_more_precision_than_the_minor_unit(text: str, currency: str) -> None:
    with pytest.raises(ValueError, match="precision"):
        Money.from_decimal(text, currency)


@pytest.mark.parametrize("text", ["abc", "", "NaN", "Infinity", "-inf"])
def test_from_decimal_rejects_non_amounts(text: str) -> None:
    with pytest.raises(ValueError, match="not a"):
        Money.from_decimal(text, "USD")


def test_from_decimal_rejects_a_huge_exponent_with_value_error() -> None:
    with pytest.raises(ValueError, match="1E"):
        Money.from_decimal("1E+999999", "USD")


def test_from_decimal_rejects_a_tiny_nonzero_amount() -> None:
    with pytest.raises(ValueError, match="precision"):
        Money.from_decimal("1E-999999999", "USD")


def test_currency_must_be_three_upper_case_letters() -> None:
    with pytest.raises(ValidationError):
        Money(amount=1, currency="usd")


@pytest.mark.parametrize(("currency", "exponent"), [("USD", 2), ("JPY", 0), ("KWD", 3)])
def test_currency_exponents_follow_iso_4217(currency: str, exponent: int) -> None:
    assert currency_exponent(currency) == exponent


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (40994, "USD", "409.94 USD"),
        (0, "EUR", "0.00 EUR"),
        (1500, "JPY", "1500 JPY"),
        (1234, "KWD", "1.234 KWD"),
    ],
)
def test_str_shows_the_amount_in_major_units(amount: int, currency: str, text: str) -> None:
    assert str(Money(amount=amount, currency=currency)) == text


@settings(deadline=None)
@given(
    amount=st.integers(min_value=-(10**15), max_value=10**15), currency=st.sampled_from(CURRENCIES)
)
def test_decimal_roundtrip_is_exact(amount: int, currency: str) -> None:
    # Given any amount, When rendered as a decimal and parsed back, Then nothing is lost.
    money = Money(amount=amount, currency=currency)
    assert Money.from_decimal(money.to_decimal(), currency) == money
    assert Money.from_decimal(str(money.to_decimal()), currency) == money


def test_arithmetic_in_one_currency() -> None:
    price = Money(amount=1999, currency="PLN")
    assert price + Money(amount=1, currency="PLN") == Money(amount=2000, currency="PLN")
    assert price - Money(amount=1999, currency="PLN") == Money.zero("PLN")
    assert price.times(3) == Money(amount=5997, currency="PLN")


@pytest.mark.parametrize("combine", ["add", "sub"])
def test_combining_currencies_raises_currency_mismatch(combine: str) -> None:
    pln, eur = Money(amount=100, currency="PLN"), Money(amount=100, currency="EUR")
    with pytest.raises(CurrencyMismatch, match="PLN vs EUR"):
        _ = pln + eur if combine == "add" else pln - eur


def test_total_of_sums_and_refuses_a_foreign_amount() -> None:
    amounts = [Money(amount=a, currency="USD") for a in (100, 250, 50)]
    assert total_of(amounts, "USD") == Money(amount=400, currency="USD")
    assert total_of([], "USD") == Money.zero("USD")
    with pytest.raises(CurrencyMismatch):
        total_of([*amounts, Money(amount=1, currency="EUR")], "USD")
