"""Which WooCommerce orders certainly map, so the webhook (and the poll) can store them
without mapping them (shared/channels/screening.py explains the domain; decision 65).

WooCommerce's mapping derives a line's unit price and VAT rate from its totals
(mapping.py `_line`, `_vat_rate`), so the domain holds what that arithmetic needs: no negative
amount anywhere (a negative fee is a plugin's discount: mapped in the webhook), no tax above
its net (a rate over 100 %), and the store's rates, where a line names them, summing to at most
100 %.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from shared.channels.screening import (
    plain_country,
    plain_currency,
    plain_moment,
    plain_text,
)

if TYPE_CHECKING:
    from shared.providers.channels.woocommerce.resources import (
        WooFeeLine,
        WooLineItem,
        WooOrder,
        WooTaxShare,
    )

MAX_SKU = 255  # shared/kernel/sku.py
ZERO = Decimal(0)


def plainly_mappable(order: WooOrder) -> bool:
    """True only if `to_order(order)` cannot fail; False says nothing (map it to find out)."""
    # The rates exactly as mapping.py `_to_order` collects them.
    rates = {
        line.rate_id: line.rate_percent for line in order.tax_lines if line.rate_percent is not None
    }
    return (
        _plain_order(order)
        and all(_plain_line(item, rates) for item in order.line_items)
        and all(_plain_fee(fee, rates) for fee in order.fee_lines)
    )


def _plain_order(order: WooOrder) -> bool:
    totals = (order.total, order.total_tax, order.shipping_total, order.shipping_tax)
    return (
        bool(order.line_items)
        and plain_currency(order.currency)
        and plain_moment(order.date_created_gmt)
        and plain_moment(order.date_modified_gmt)
        and plain_text(order.number)
        and all(amount >= ZERO for amount in totals)
        and plain_country(order.shipping.country)
        and plain_country(order.billing.country)
    )


def _plain_line(item: WooLineItem, rates: dict[int, Decimal]) -> bool:
    amounts = (item.subtotal, item.subtotal_tax, item.total, item.total_tax)
    return (
        all(amount >= ZERO for amount in amounts)
        and plain_text(item.sku, MAX_SKU)
        # `_vat_rate` reads the totals, or the subtotals when the total is zero: both hold.
        and _plain_rate(item.taxes, rates, (item.total_tax, item.total))
        and _plain_rate(item.taxes, rates, (item.subtotal_tax, item.subtotal))
    )


def _plain_fee(fee: WooFeeLine, rates: dict[int, Decimal]) -> bool:
    return (
        fee.total >= ZERO
        and fee.total_tax >= ZERO
        and _plain_rate(fee.taxes, rates, (fee.total_tax, fee.total))
    )


def _plain_rate(
    shares: list[WooTaxShare], rates: dict[int, Decimal], tax_on_net: tuple[Decimal, Decimal]
) -> bool:
    """The line's rate is at most 100 %, however `_vat_rate` finds it."""
    tax, net = tax_on_net
    ids = [share.id for share in shares]
    if ids and all(rate_id in rates for rate_id in ids):
        return sum((rates[rate_id] for rate_id in ids), ZERO) <= 100
    return tax <= net  # tax / net, or no tax at all
