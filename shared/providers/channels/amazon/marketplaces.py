"""Amazon marketplaces (developer-docs.amazon.com/sp-api/docs/marketplace-ids) and the VAT rates
the mapping rounds an item's tax to.

Amazon reports a line's tax as an amount (`ItemTax`), never as a rate; the canonical line needs
the rate. In VAT countries the price includes the tax, so tax / (price - tax) gives the rate,
blurred by the rounding of the tax to cents (0.19 VAT on a 0.99 item reads as 23.75 %). The
rate is therefore the one of the destination's (or the marketplace's) rates whose rounded tax
is exactly Amazon's, which also tells a reduced rate from the standard one. US and Canadian
prices exclude sales tax, which has no fixed rate: there the ratio itself is kept.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

# Marketplace id -> country (ISO 3166-1; the UK's is GB).
MARKETPLACE_COUNTRIES: dict[str, str] = {
    "ATVPDKIKX0DER": "US",
    "A2EUQ1WTGCTBG2": "CA",
    "A1AM78C64UM0Y8": "MX",
    "A2Q3Y263D00KWC": "BR",
    "A1PA6795UKMFR9": "DE",
    "A1RKKUPIHCS9HS": "ES",
    "A13V1IB3VIYZZH": "FR",
    "APJ6JRA9NG5V4": "IT",
    "A1F83G8C2ARO7P": "GB",
    "A1805IZSGTT6HS": "NL",
    "A2NODRKZP88ZB9": "SE",
    "A1C3SOZRARQ6R3": "PL",
    "AMEN7PMS3EDWL": "BE",
    "A28R8C7NBKEWEA": "IE",
    "A33AVAJ2PDY3EV": "TR",
    "A21TJRUUN4KGV": "IN",
    "A1VC38T7YXB528": "JP",
    "A39IBJ37TRP1C6": "AU",
    "A19VAU5U5O7RUS": "SG",
}
# Where a listed price does not include the tax (it is added at checkout).
NET_PRICE_COUNTRIES = frozenset({"US", "CA"})

# VAT rates in percent, standard first (EU VAT rates as of 2025, and the UK's).
VAT_RATES: dict[str, tuple[Decimal, ...]] = {
    country: tuple(Decimal(rate) for rate in rates)
    for country, rates in {
        "PL": ("23", "8", "5", "0"),
        "DE": ("19", "7", "0"),
        "GB": ("20", "5", "0"),
        "SE": ("25", "12", "6", "0"),
        "FR": ("20", "10", "5.5", "2.1", "0"),
        "IT": ("22", "10", "5", "4", "0"),
        "ES": ("21", "10", "4", "0"),
        "NL": ("21", "9", "0"),
        "BE": ("21", "12", "6", "0"),
        "IE": ("23", "13.5", "9", "4.8", "0"),
        "AT": ("20", "13", "10", "0"),
        "CZ": ("21", "12", "0"),
        "SK": ("23", "19", "5", "0"),
        "DK": ("25", "0"),
        "FI": ("25.5", "14", "10", "0"),
        "LU": ("17", "14", "8", "3", "0"),
        "PT": ("23", "13", "6", "0"),
    }.items()
}
_EVERY_RATE = tuple(sorted({rate for rates in VAT_RATES.values() for rate in rates}))
_NEAR = Decimal(1)  # a rate this close to the ratio is taken when no rate's tax matches


def country_of(marketplace_id: str | None) -> str | None:
    return MARKETPLACE_COUNTRIES.get(marketplace_id or "")


def prices_include_tax(marketplace_id: str | None, currency: str) -> bool:
    country = country_of(marketplace_id)
    if country is None:
        return currency not in ("USD", "CAD")
    return country not in NET_PRICE_COUNTRIES


def vat_percent(
    price: Decimal,
    tax: Decimal,
    *,
    includes_tax: bool,
    countries: tuple[str | None, ...],
    exponent: int = 2,
) -> Decimal:
    """The rate (percent) of `tax` on a line priced `price` (gross when `includes_tax`)."""
    if tax == 0:
        return Decimal(0)
    net = price - tax if includes_tax else price
    if net <= 0 or tax < 0:
        raise ValueError(f"tax {tax} does not fit a price of {price}")
    ratio = tax / net * 100
    if not includes_tax:
        return _plain(ratio.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    candidates: tuple[Decimal, ...] = tuple(
        rate for country in countries if country for rate in VAT_RATES.get(country, ())
    )
    candidates = candidates or _EVERY_RATE
    quantum = Decimal(1).scaleb(-exponent)
    exact = [rate for rate in candidates if _tax_in(price, rate, quantum) == tax]
    near = exact or [rate for rate in candidates if abs(rate - ratio) <= _NEAR]
    if near:
        return min(near, key=lambda rate: abs(rate - ratio))
    return _plain(ratio.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _tax_in(gross: Decimal, rate: Decimal, quantum: Decimal) -> Decimal:
    """The tax a gross price holds at `rate`, rounded as invoices round it."""
    return (gross - gross * 100 / (100 + rate)).quantize(quantum, rounding=ROUND_HALF_UP)


def _plain(percent: Decimal) -> Decimal:
    """23 for 23.00 and 10.1 for 10.10 (normalize() alone writes 20 as 2E+1)."""
    normal = percent.normalize()
    exponent = normal.as_tuple().exponent
    return normal.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else normal
