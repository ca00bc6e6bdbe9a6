"""PayU's amounts: strings of integer minor units ("totalAmount": "200" is 2.00 PLN).

developers.payu.com/europe/docs/payment-flows/refunds: amounts are "in the lowest currency
unit" (1/100 PLN), HUF included ("for HUF, multiply the amount by 100": PayU counts HUF in
fillér, as ISO 4217 does). Every currency PayU settles (CHF CZK DKK EUR GBP HUF NOK PLN RON SEK
USD, plus BGN for cards) has two decimals, so PayU's unit is orderhub's ISO 4217 minor unit;
a currency with another exponent has no PayU meaning and is refused rather than guessed.
"""

from __future__ import annotations

import re
from typing import Any

from shared.kernel.money import Money, currency_exponent

_DIGITS = re.compile(r"^[0-9]{1,15}$")


class UnrepresentableAmount(ValueError):
    """An amount PayU cannot express (or sent in a form that is not an amount)."""


def _check_currency(currency: str) -> str:
    code = currency.upper()
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise UnrepresentableAmount(f"{currency!r} is not a currency code")
    if currency_exponent(code) != 2:
        raise UnrepresentableAmount(f"PayU amounts are hundredths: {code} has no such unit")
    return code


def minor_units(value: Any) -> int:
    """A PayU amount field ("200", or 200 where a response sends a number) as an int."""
    if isinstance(value, bool):
        raise UnrepresentableAmount("an amount is not a boolean")
    if isinstance(value, int):
        if not 0 <= value < 10**15:
            raise UnrepresentableAmount(f"amount {value} is out of range")
        return value
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return int(value)
    raise UnrepresentableAmount(f"{value!r} is not an amount in minor units")


def from_payu_amount(value: Any, currency: str) -> Money:
    return Money(amount=minor_units(value), currency=_check_currency(currency))


def to_payu_amount(money: Money) -> str:
    _check_currency(money.currency)
    if money.amount < 0:
        raise UnrepresentableAmount(f"PayU takes no negative amount ({money})")
    return str(money.amount)
