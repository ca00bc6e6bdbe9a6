"""A WooCommerce REST v3 order as the canonical Order (shared/orders/domain.py).

Prices: WooCommerce keeps every line's subtotal/total net of tax with the tax beside it;
`prices_include_tax` says how the shop prices, so lines are mapped gross (net + tax) when it is
set and net otherwise, and `Order.prices_include_vat` says which. Amounts are rounded to the
currency's minor unit (a store may show more price decimals than the currency has).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pydantic import ValidationError

from shared.inbox.contract import MalformedWebhook, validation_message
from shared.kernel.money import Money, currency_exponent, total_of
from shared.orders.domain import (
    Address,
    Buyer,
    ChannelPayment,
    ChannelStatus,
    Order,
    OrderLine,
    PaymentMethod,
    PickupPoint,
    Totals,
)
from shared.orders.inbound import OrderWithdrawn
from shared.providers.channels.woocommerce.resources import (
    WooAddress,
    WooDeleted,
    WooFeeLine,
    WooLineItem,
    WooMeta,
    WooOrder,
    WooTaxShare,
    epoch_ms,
)

SOURCE = "woocommerce"
# WooCommerce's built-in "Cash on delivery" gateway id.
COD_GATEWAY = "cod"
# Statuses after which the store will not fulfil the order: cancelled here too.
CANCELLED_STATUSES = {
    # the shop or the buyer cancelled it (WooCommerce also cancels unpaid orders itself when
    # the "hold stock" time runs out)
    "cancelled": "cancelled in the store",
    # the whole total went back to the buyer (a partial refund keeps processing/completed):
    # nothing is left to ship
    "refunded": "refunded in full",
    # the payment failed or was declined: the order is not paid and will not be shipped as it
    # stands (a buyer who pays again from "Pay for order" makes it a new order here)
    "failed": "payment failed",
    # the shop moved it to the bin: to the store it is gone (order.deleted says the same)
    "trash": "moved to the trash",
}
# The statuses WooCommerce reaches once the gateway took the money (payment_complete()).
PAID_STATUSES = frozenset({"processing", "completed"})
# The block checkout's unfinished cart: not an order yet (nothing to fulfil, no buyer yet).
DRAFT_STATUS = "checkout-draft"

# Where Polish and EU VAT plugins keep the buyer's NIP / VAT id (order meta).
TAX_ID_KEYS = (
    "_billing_nip",
    "billing_nip",
    "_billing_vat",
    "billing_vat",
    "_billing_vat_number",
    "billing_vat_number",
    "_vat_number",
    "vat_number",
)
# Where InPost plugins keep the chosen Paczkomat (shipping line meta or order meta).
LOCKER_KEYS = (
    "_paczkomat_id",
    "paczkomat_id",
    "_inpost_point_id",
    "inpost_point_id",
    "_parcel_machine_id",
    "parcel_machine_id",
)
# A shipping method that names InPost lockers: official plugin ids start "easypack_".
_LOCKER_METHOD = re.compile(r"inpost|paczkomat|parcel[ _-]?(machine|locker)|easypack", re.I)
# InPost point ids: "KRA010M", "WAW22A", "POP-KRA12".
_POINT_ID = re.compile(r"^[A-Z0-9][A-Z0-9-]{2,31}$")
MAX_TAX_ID_LENGTH = 40
# Rates in use in the EU (standard and reduced): a rate computed from rounded amounts within
# rounding distance of one of these is that rate.
_RATES = "0 3 4 5 5.5 6 7 8 9 10 12 13 13.5 14 15 16 17 19 20 21 22 23 24 25 25.5 27"
KNOWN_RATES = tuple(Decimal(rate) for rate in _RATES.split(" "))


def to_order(source: WooOrder) -> Order:
    """Map a REST v3 order; whatever the canonical model refuses (negative totals, an order
    without lines) is a MalformedWebhook naming the order."""
    try:
        return _to_order(source)
    except ValidationError as error:
        raise MalformedWebhook(f"order {source.id}: {validation_message(error)}") from error
    except (ValueError, ArithmeticError) as error:
        raise MalformedWebhook(f"order {source.id}: {error}") from error


def withdrawn(source: WooDeleted, received_at: datetime) -> OrderWithdrawn:
    """order.deleted: the body names only the order; when it happened is when it arrived."""
    moment = source.date_modified_gmt or received_at
    return OrderWithdrawn(
        channel=SOURCE, external_id=str(source.id), revision=epoch_ms(moment), reason="deleted"
    )


def _to_order(source: WooOrder) -> Order:
    currency = source.currency.upper()
    gross = source.prices_include_tax
    rates = {
        line.rate_id: line.rate_percent
        for line in source.tax_lines
        if line.rate_percent is not None
    }
    lines = [
        _line(number, item, currency, gross, rates)
        for number, item in enumerate(source.line_items, start=1)
    ]
    extra_discount = Money.zero(currency)
    for fee in source.fee_lines:
        amount = _amount(fee.total, currency) + (
            _amount(fee.total_tax, currency) if gross else Money.zero(currency)
        )
        if amount.amount > 0:
            lines.append(_fee_line(len(lines) + 1, fee, amount, rates, currency))
        elif amount.amount < 0:
            # A negative fee is how some plugins give a discount; a line cannot be negative.
            extra_discount = Money(amount=-amount.amount, currency=currency) + extra_discount
    total = _amount(source.total, currency)
    shipping = _amount(source.shipping_total, currency)
    if gross:
        shipping = shipping + _amount(source.shipping_tax, currency)
    delivery = _delivery(source)
    tax_id = _meta_text(source.meta_data, TAX_ID_KEYS)
    if tax_id is not None and len(tax_id) > MAX_TAX_ID_LENGTH:
        tax_id = None  # not a tax id: some free text a plugin stored under that key
    billing = _address(source.billing)
    cash_on_delivery = source.payment_method == COD_GATEWAY
    return Order(
        channel=SOURCE,
        external_id=str(source.id),
        external_number=source.number or None,
        revision=epoch_ms(source.modified_at),
        placed_at=source.date_created_gmt,
        currency=currency,
        prices_include_vat=gross,
        lines=lines,
        buyer=Buyer(
            name=_name(source.billing) or _name(source.shipping),
            email=_blank(source.billing.email),
            phone=_blank(source.billing.phone),
            company=_blank(source.billing.company),
            tax_id=tax_id,
        ),
        delivery=delivery,
        payment_method=(
            PaymentMethod.CASH_ON_DELIVERY if cash_on_delivery else PaymentMethod.PREPAID
        ),
        totals=Totals(
            # Lines before their discounts, the discounts, shipping: all in the lines' basis
            # (gross or net), so items + shipping - discount (+ tax when net) is the total.
            items=total_of([line.unit_price.times(line.quantity) for line in lines], currency),
            shipping=shipping,
            discount=total_of([line.discount for line in lines if line.discount], currency)
            + extra_discount,
            tax=_amount(source.total_tax, currency),
            total=total,
        ),
        channel_payment=_channel_payment(source, total, cash_on_delivery),
        note=_blank(source.customer_note),
        channel_status=(
            ChannelStatus.CANCELLED if source.status in CANCELLED_STATUSES else ChannelStatus.OPEN
        ),
        invoice_requested=tax_id is not None,
        # The invoice's address when the buyer asked for one or it is not where goods go.
        billing_address=billing
        if billing is not None and (tax_id is not None or billing != delivery)
        else None,
        channel_refs={"status": source.status},
    )


def _line(
    number: int, item: WooLineItem, currency: str, gross: bool, rates: dict[int, Decimal]
) -> OrderLine:
    subtotal = _amount(item.subtotal, currency)
    total = _amount(item.total, currency)
    subtotal_tax = _amount(item.subtotal_tax, currency)
    total_tax = _amount(item.total_tax, currency)
    before = subtotal + subtotal_tax if gross else subtotal  # before coupons
    after = total + total_tax if gross else total
    charged = max(before.amount, after.amount)
    # The unit price rounded up, so the rounding is never a negative discount: the line still
    # comes to exactly what WooCommerce charged for it.
    unit = -(-charged // item.quantity)
    discount = unit * item.quantity - after.amount
    listing = item.variation_id or item.product_id  # a variation is what was bought
    return OrderLine(
        line_no=number,
        sku=_blank(item.sku),
        listing_id=str(listing) if listing else None,
        channel_line_id=str(item.id) if item.id else None,
        name=_unescaped(item.name),  # WooCommerce sends names HTML-escaped ("&ndash;")
        quantity=item.quantity,
        unit_price=Money(amount=unit, currency=currency),
        vat_rate=_vat_rate(total_tax, total, item.taxes, rates)
        if total.amount
        else _vat_rate(subtotal_tax, subtotal, item.taxes, rates),
        discount=Money(amount=discount, currency=currency) if discount else None,
    )


def _fee_line(
    number: int, fee: WooFeeLine, amount: Money, rates: dict[int, Decimal], currency: str
) -> OrderLine:
    """A fee (a COD surcharge, packaging) is charged like a line that holds no stock."""
    return OrderLine(
        line_no=number,
        sku=None,
        listing_id=None,
        channel_line_id=str(fee.id) if fee.id else None,
        name=_unescaped(fee.name) or "Fee",
        quantity=1,
        unit_price=amount,
        vat_rate=_vat_rate(
            _amount(fee.total_tax, currency), _amount(fee.total, currency), fee.taxes, rates
        ),
    )


def _unescaped(text: str) -> str:
    """The name as the shop wrote it. A reference html.unescape cannot read (a decimal one of
    over 4,300 digits: Python's int limit) leaves the text as sent: a name never fails an
    order, and the webhook's screen relies on that (screening.py)."""
    try:
        return html.unescape(text)
    except ValueError:
        return text


def _amount(value: Decimal, currency: str) -> Money:
    quantum = Decimal(1).scaleb(-currency_exponent(currency))
    return Money.from_decimal(value.quantize(quantum, rounding=ROUND_HALF_UP), currency)


def _vat_rate(
    tax: Money, net: Money, shares: list[WooTaxShare], rates: dict[int, Decimal]
) -> Decimal:
    """The line's VAT rate in percent: the store's own rates when its tax_lines name them
    (rate_percent, WooCommerce 5.7+), else tax / net snapped to a known rate."""
    if tax.amount == 0:
        return Decimal(0)  # untaxed (exempt, reverse charge, 0 %), whatever rate applies
    ids = [share.id for share in shares]
    if ids and all(rate_id in rates for rate_id in ids):
        return _percent(sum((rates[rate_id] for rate_id in ids), Decimal(0)))
    if net.amount <= 0:
        raise ValueError(f"a line taxed {tax} on {net} has no VAT rate")
    computed = Decimal(tax.amount) * 100 / Decimal(net.amount)
    # The tax was rounded to a minor unit: the rate is known to within half a unit of net.
    tolerance = Decimal(50) / Decimal(net.amount)
    nearest = min(KNOWN_RATES, key=lambda rate: abs(rate - computed))
    if abs(nearest - computed) <= tolerance:
        return nearest
    return _percent(computed.quantize(Decimal("0.01")))


def _percent(value: Decimal) -> Decimal:
    normal = value.normalize()
    # normalize() gives 2E+1 for 20: undo the exponent.
    exponent = normal.as_tuple().exponent
    return normal.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else normal


def _channel_payment(
    source: WooOrder, total: Money, cash_on_delivery: bool
) -> ChannelPayment | None:
    """The store's own gateway took the money: date_paid is set and the order moved on to
    processing or completed. Pending and on-hold orders are prepaid but not paid yet. COD is
    never paid to the store at checkout, though WooCommerce stamps date_paid when a COD order
    reaches processing (WC_Order::maybe_set_date_paid): the courier collects it."""
    if cash_on_delivery or source.date_paid_gmt is None or source.status not in PAID_STATUSES:
        return None
    payment_id = _blank(source.transaction_id) or f"order-{source.id}"
    return ChannelPayment(provider=SOURCE, payment_id=payment_id, amount=total)


def _delivery(source: WooOrder) -> Address | PickupPoint | None:
    locker = _locker(source)
    phone = _blank(source.shipping.phone) or _blank(source.billing.phone)
    if locker is not None:
        return PickupPoint(carrier="inpost", point_id=locker, phone=phone)
    address = _address(source.shipping, phone)
    if address is None and source.shipping_lines:
        # Shipped, with no separate shipping address: WooCommerce ships to the billing one.
        address = _address(source.billing, phone)
    return address


def _locker(source: WooOrder) -> str | None:
    """The Paczkomat the buyer chose: named in the shipping line's meta, or in the order's
    when the shipping method is an InPost locker method (order meta can outlive a change of
    method at checkout)."""
    for line in source.shipping_lines:
        point = _point_id(_meta_text(line.meta_data, LOCKER_KEYS))
        if point is not None:
            return point
    by_method = any(
        _LOCKER_METHOD.search(f"{line.method_id} {line.method_title}")
        for line in source.shipping_lines
    )
    return _point_id(_meta_text(source.meta_data, LOCKER_KEYS)) if by_method else None


def _point_id(value: str | None) -> str | None:
    if value is None:
        return None
    point = value.strip().upper()
    return point if _POINT_ID.fullmatch(point) else None


def _address(address: WooAddress, phone: str | None = None) -> Address | None:
    line1, city, country = (
        _blank(address.address_1),
        _blank(address.city),
        _blank(address.country),
    )
    if line1 is None or city is None or country is None:
        return None
    return Address(
        name=_name(address),
        company=_blank(address.company),
        line1=line1,
        line2=_blank(address.address_2),
        postal_code=_blank(address.postcode),
        city=city,
        region=_blank(address.state),
        country_code=country.upper(),
        phone=phone or _blank(address.phone),
    )


def _name(address: WooAddress) -> str | None:
    return (
        " ".join(part for part in (_blank(address.first_name), _blank(address.last_name)) if part)
        or None
    )


def _meta_text(meta: Iterable[WooMeta], keys: tuple[str, ...]) -> str | None:
    """The first of `keys` with a non-empty text value (meta values can be anything)."""
    values: dict[str, Any] = {entry.key: entry.value for entry in meta}
    for key in keys:
        value = values.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool):
            text = str(value).strip()
            if text:
                return text
    return None


def _blank(value: str | None) -> str | None:
    return (value or "").strip() or None
