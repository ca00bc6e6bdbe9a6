"""Which Shopify orders certainly map, so the webhook can answer without mapping them
(shared/channels/screening.py explains the domain; decision 65)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.channels.screening import (
    plain_amount,
    plain_country,
    plain_currency,
    plain_moment,
    plain_rate_sum,
    plain_text,
)

if TYPE_CHECKING:
    from shared.providers.channels.shopify.webhook import ShopifyAddress, ShopifyOrder

MAX_SKU = 255  # shared/kernel/sku.py
MAX_ID = 200  # listing and line ids, external_id


def plainly_mappable(order: ShopifyOrder) -> bool:
    """True only if `to_order(order)` cannot fail; False says nothing (map it to find out)."""
    if not order.line_items or not plain_currency(order.currency):
        return False
    if not all(
        plain_moment(moment) for moment in (order.created_at, order.updated_at, order.cancelled_at)
    ):
        return False
    amounts = [order.total_price, order.total_tax, order.total_discounts]
    if order.total_line_items_price is not None:
        amounts.append(order.total_line_items_price)
    amounts.extend(line.price for line in order.shipping_lines)
    for item in order.line_items:
        if not (plain_text(item.sku, MAX_SKU) and plain_rate_sum([t.rate for t in item.tax_lines])):
            return False
        amounts.append(item.price)
        amounts.extend(d.amount for d in item.discount_allocations)
    return (
        all(plain_amount(amount) for amount in amounts)
        and plain_text(order.name)
        and _plain_address(order.shipping_address)
        and _plain_address(order.billing_address)
    )


def _plain_address(address: ShopifyAddress | None) -> bool:
    return address is None or plain_country(address.country_code)
