"""Money as integer minor units plus an ISO 4217 currency; never float."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Self, cast

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]

# ISO 4217 exponents that differ from the usual 2.
_EXPONENTS: dict[str, int] = {
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
}


MAX_DIGITS = 15
MAX_DECIMALS = 18


class CurrencyMismatch(ValueError):
    """Two amounts in different currencies were combined."""


def currency_exponent(currency: str) -> int:
    return _EXPONENTS.get(currency, 2)


def _is_currency_code(text: str) -> bool:
    # CurrencyCode's pattern, without a regex: three ASCII capitals.
    return len(text) == 3 and text.isascii() and text.isalpha() and text.isupper()


class Money(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: int = Field(description="Integer minor units (grosze, cents).")
    currency: CurrencyCode

    @classmethod
    def zero(cls, currency: str) -> Self:
        return cls(amount=0, currency=currency)

    @classmethod
    def _checked(cls, amount: int, currency: str) -> Self:
        """Money whose fields this module has just checked itself: built without a second
        validation, as mapping a webhook builds a dozen of them (docs/performance.md)."""
        if not _is_currency_code(currency):
            return cls(amount=amount, currency=currency)  # raises the model's own error
        return cast(Self, cls.model_construct(amount=amount, currency=currency))

    @classmethod
    def from_decimal(cls, value: str | Decimal, currency: str) -> Self:
        """Parse a provider's decimal string ("409.94") exactly; reject sub-minor precision."""
        currency = currency.upper()
        try:
            exact = Decimal(value)
        except InvalidOperation as error:
            raise ValueError(f"not a decimal amount: {value!r}") from error
        if not exact.is_finite():
            raise ValueError(f"not a finite amount: {value!r}")
        # No shop charges 10^15 of anything, and no provider sends 18 decimals: refusing such
        # input keeps Decimal's context limits (overflow, silent underflow) out of the way.
        exponent = exact.as_tuple().exponent
        if exact and exact.adjusted() > MAX_DIGITS:
            raise ValueError(f"amount out of range: {value!r}")
        if exact and isinstance(exponent, int) and exponent < -MAX_DECIMALS:
            raise ValueError(f"{value!r} has more precision than {currency} minor units")
        scaled = exact.scaleb(currency_exponent(currency))
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{value!r} has more precision than {currency} minor units")
        return cls._checked(int(scaled), currency)

    def to_decimal(self) -> Decimal:
        return Decimal(self.amount).scaleb(-currency_exponent(self.currency))

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"{self.currency} vs {other.currency}")

    # Arithmetic on valid Money gives valid Money: the currency is one already checked.
    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money.model_construct(amount=self.amount + other.amount, currency=self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money.model_construct(amount=self.amount - other.amount, currency=self.currency)

    def times(self, quantity: int) -> Money:
        if type(quantity) is not int:
            return Money(amount=self.amount * quantity, currency=self.currency)  # validated
        return Money.model_construct(amount=self.amount * quantity, currency=self.currency)

    def __str__(self) -> str:
        return f"{self.to_decimal():f} {self.currency}"


def total_of(amounts: list[Money], currency: str) -> Money:
    result = Money.zero(currency)
    for amount in amounts:
        result = result + amount
    return result
