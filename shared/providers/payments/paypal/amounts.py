"""PayPal's amount strings, and the currencies whose amounts PayPal takes without decimals.

developer.paypal.com/api/rest/reference/currency-codes/ (the Orders v2 `amount` points there
for "supported currencies, decimal precision, and maximum charge amount"): HUF, JPY and TWD "do
not support decimals"; a decimal amount in them is refused. Every other listed currency takes two
decimals. HUF and TWD have two decimals in ISO 4217 (orderhub's Money), so 1000 HUF is "1000" to
PayPal and 100000 minor units here; a forint amount with fillér cannot be sent at all.
"""

from __future__ import annotations

import re
from decimal import Decimal

from shared.kernel.money import Money


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


ZERO_DECIMAL = _codes("HUF JPY TWD")
# PayPal's `money.value` pattern, without the minus sign (no payment or refund is negative).
_VALUE = re.compile(r"[0-9]+(\.[0-9]+)?|\.[0-9]+", re.ASCII)
# The currencies the REST API lists (BRL, MYR, CNY: in-country accounts only; PayPal decides).
SUPPORTED = _codes(
    "AUD BRL CAD CNY CZK DKK EUR HKD HUF ILS JPY MYR MXN TWD NZD NOK PHP PLN GBP SGD SEK CHF "
    "THB USD"
)


class UnrepresentableAmount(ValueError):
    """An amount PayPal cannot express exactly (or a currency it does not take)."""


def paypal_decimals(currency: str) -> int:
    return 0 if currency.upper() in ZERO_DECIMAL else 2


def from_paypal(value: str, currency_code: str) -> Money:
    """A PayPal `money` ({value, currency_code}) as orderhub Money; exact or refused."""
    if len(value) > 32 or not _VALUE.fullmatch(value):
        raise UnrepresentableAmount(f"not a PayPal amount: {value[:40]!r}")
    try:
        return Money.from_decimal(value, currency_code)
    except ValueError as error:
        raise UnrepresentableAmount(str(error)) from error


def to_paypal(money: Money) -> str:
    """orderhub Money as PayPal's `value` string ("409.94", "1000" for HUF/JPY/TWD)."""
    if money.currency not in SUPPORTED:
        raise UnrepresentableAmount(f"PayPal does not take {money.currency}")
    if money.amount <= 0:
        raise UnrepresentableAmount(f"PayPal takes positive amounts only, not {money}")
    exact = money.to_decimal()
    places = paypal_decimals(money.currency)
    quantum = Decimal(1).scaleb(-places)
    if exact != exact.quantize(quantum):
        raise UnrepresentableAmount(f"PayPal cannot charge {money}: it takes {places} decimals")
    return f"{exact.quantize(quantum):f}"
