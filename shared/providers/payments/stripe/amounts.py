"""Stripe's amount units, which are not ISO 4217 minor units for every currency.

docs.stripe.com/currencies: an API `amount` is in the currency's "smallest unit" as Stripe
defines it. For most currencies that is the ISO 4217 minor unit, but not for all:
- zero-decimal in Stripe's API (the amount is whole units): BIF, CLP, DJF, GNF, JPY, KMF, KRW,
  MGA, PYG, RWF, UGX, VND, VUV, XAF, XOF, XPF. MGA has two decimals in ISO 4217.
- three-decimal: BHD, JOD, KWD, OMR, TND (charges must end in 0).
- special cases: ISK became effectively zero-decimal (ISO 4217 has no decimals) but stays
  two-decimal in the API for backwards compatibility (amounts divisible by 100); HUF and TWD are
  two-decimal in the API and zero-decimal only for payouts; UGX is zero-decimal in the API (as
  in ISO 4217), its payouts two-decimal. Everything else is two-decimal.
orderhub stores ISO 4217 minor units (shared.domain.money), so every Stripe amount crosses this
boundary in both directions.
"""

from __future__ import annotations

from shared.kernel.money import Money, currency_exponent


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


ZERO_DECIMAL = _codes("BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF")
THREE_DECIMAL = _codes("BHD JOD KWD OMR TND")
# The presentment currencies Stripe lists (docs.stripe.com/currencies#presentment-currencies).
SUPPORTED = _codes(
    """
    USD AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD
    BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CVE CZK DJF DKK DOP DZD EGP ETB EUR FJD FKP GBP
    GEL GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR ISK JMD JOD JPY KES KGS KHR KMF KRW
    KWD KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MUR MVR MWK MXN MYR MZN NAD
    NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SEK
    SGD SHP SLE SOS SRD STD SZL THB TJS TND TOP TRY TTD TWD TZS UAH UGX UYU UZS VND VUV WST
    XAF XCD XOF XPF YER ZAR ZMW
    """
)


class UnrepresentableAmount(ValueError):
    """An amount that has no exact equivalent on the other side of the boundary."""


def stripe_exponent(currency: str) -> int:
    """How many decimals Stripe's API puts in an `amount` of this currency."""
    code = currency.upper()
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def from_stripe_amount(amount: int, currency: str) -> Money:
    """A Stripe API amount as orderhub Money (ISO 4217 minor units); exact or refused."""
    code = currency.upper()
    shift = currency_exponent(code) - stripe_exponent(code)
    if shift >= 0:
        return Money(amount=amount * 10**shift, currency=code)
    whole, rest = divmod(amount, 10**-shift)
    if rest:
        raise UnrepresentableAmount(
            f"{amount} in Stripe's {code} units has fractions of the ISO 4217 minor unit"
        )
    return Money(amount=whole, currency=code)


def to_stripe_amount(money: Money) -> int:
    """orderhub Money as a Stripe API amount; refused when Stripe cannot express it exactly."""
    shift = stripe_exponent(money.currency) - currency_exponent(money.currency)
    if shift >= 0:
        return int(money.amount * 10**shift)
    whole, rest = divmod(money.amount, 10**-shift)
    if rest:
        raise UnrepresentableAmount(f"Stripe cannot charge {money}: it has no such fraction")
    return int(whole)
