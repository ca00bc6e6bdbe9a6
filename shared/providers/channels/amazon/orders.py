"""An SP-API order (Orders API v0 `getOrder` and `getOrderItems` payloads) as the canonical Order.

Field names and meanings from the official model, github.com/amzn/selling-partner-api-models
models/orders-api-model/ordersV0.json (definitions Order, OrderItem, BuyerInfo, BuyerTaxInfo,
Address, Money), also rendered at developer-docs.amazon.com/sp-api/docs/orders-api-v0-reference.

What each OrderStatus becomes (the model's enum descriptions):
- Pending, PendingAvailability: "payment has not been authorized. The order is not ready for
  shipment" (Amazon: do not ship), and getOrderItems carries no prices yet: ignored; the
  ORDER_CHANGE to Unshipped brings it.
- Unshipped, PartiallyShipped, Shipped: open. InvoiceUnconfirmed ("all items in the order have
  been shipped", the invoice not yet confirmed to Amazon) is a shipped order, still open: the
  channel has not cancelled it, and shipping is ours to record, not Amazon's status to copy.
- Canceled: channel_status cancelled. Amazon may drop a cancelled order's prices (no
  OrderTotal, QuantityOrdered 0): then it is OrderWithdrawn, which cancels it just the same.
- Unfulfillable "applies only to Amazon-fulfilled orders": like every FulfillmentChannel AFN
  (FBA) order it is ignored, since Amazon ships those from its own stock; counting them here
  would reserve and ship our stock a second time.

Money: ItemPrice is the line's total (unit price x quantity), ItemTax its tax, both inclusive
of VAT in VAT marketplaces (marketplaces.py); PromotionDiscount is the line's discount,
ShippingPrice its share of shipping. The unit price is ItemPrice / QuantityOrdered; when that
does not divide into minor units, the line is split in two lines (the same channel line id)
whose prices differ by one minor unit, so the amounts stay exact. Amazon collects the money
itself: a channel payment of OrderTotal, unless PaymentMethod is COD (cash on delivery).
The buyer's name, email, tax details and the address lines are restricted data, present only
when fetched with a restricted data token (notifications.py does). The buyer's tax id comes
from BuyerInfo.BuyerTaxInfo (v0 documents it for business orders in Brazil, Mexico and India)
or BuyerTaxInformation (Turkey); for EU business orders v0 names none (IsBusinessOrder still
marks the invoice as requested): the VAT number there is in Orders API 2026-01-01
`taxRegistrations`, not read yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from shared.inbox.contract import MalformedWebhook, validation_message
from shared.kernel.money import Money, currency_exponent, total_of
from shared.kernel.time import UtcDatetime
from shared.orders.domain import (
    MAX_QUANTITY,
    Address,
    Buyer,
    ChannelPayment,
    ChannelStatus,
    Order,
    OrderLine,
    PaymentMethod,
    Totals,
)
from shared.orders.inbound import OrderReported, OrderWithdrawn
from shared.providers.channels.amazon.marketplaces import (
    country_of,
    prices_include_tax,
    vat_percent,
)

CHANNEL = "amazon"
OPEN_STATUSES = frozenset({"Unshipped", "PartiallyShipped", "Shipped", "InvoiceUnconfirmed"})
UNPAID_STATUSES = frozenset({"Pending", "PendingAvailability"})
CANCELLED = "Canceled"
AMAZON_FULFILLED = "AFN"
# TaxClassifications: each Value is "the buyer's tax identifier"; Name ("the type of tax") is
# not enumerated in v0, so one naming VAT is preferred, else the first with a value.
VAT_NAMES = ("vat",)

Text = Annotated[str, StringConstraints(max_length=1000)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class AmazonMoney(_Lenient):
    CurrencyCode: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$")]
    Amount: Annotated[str, StringConstraints(max_length=40)]


class AmazonAddress(_Lenient):
    Name: Text | None = None
    CompanyName: Text | None = None
    AddressLine1: Text | None = None
    AddressLine2: Text | None = None
    AddressLine3: Text | None = None
    City: Text | None = None
    StateOrRegion: Text | None = None
    PostalCode: Text | None = None
    CountryCode: Text | None = None
    Phone: Text | None = None


class AmazonTaxClassification(_Lenient):
    Name: Text | None = None
    Value: Text | None = None


class AmazonBuyerTaxInfo(_Lenient):
    CompanyLegalName: Text | None = None
    TaxingRegion: Text | None = None
    TaxClassifications: list[AmazonTaxClassification] = []


class AmazonBuyerInfo(_Lenient):
    BuyerEmail: Text | None = None
    BuyerName: Text | None = None
    BuyerTaxInfo: AmazonBuyerTaxInfo | None = None
    PurchaseOrderNumber: Text | None = None


class AmazonBuyerTaxInformation(_Lenient):
    BuyerLegalCompanyName: Text | None = None
    BuyerTaxRegistrationId: Text | None = None


class AmazonOrder(_Lenient):
    """The getOrder payload."""

    AmazonOrderId: Id
    PurchaseDate: UtcDatetime
    LastUpdateDate: UtcDatetime
    OrderStatus: Annotated[str, StringConstraints(max_length=50)]
    FulfillmentChannel: Text | None = None
    OrderTotal: AmazonMoney | None = None
    PaymentMethod: Text | None = None
    MarketplaceId: Annotated[str, StringConstraints(max_length=500)] | None = None
    IsBusinessOrder: bool = False
    BuyerInvoicePreference: Text | None = None
    BuyerTaxInformation: AmazonBuyerTaxInformation | None = None
    ShippingAddress: AmazonAddress | None = None
    BuyerInfo: AmazonBuyerInfo | None = None
    NumberOfItemsShipped: int | None = None
    NumberOfItemsUnshipped: int | None = None


class AmazonOrderItem(_Lenient):
    """One OrderItems entry of the getOrderItems payload."""

    ASIN: Id
    OrderItemId: Id
    SellerSKU: Text | None = None
    Title: Text | None = None
    QuantityOrdered: int = Field(ge=0, le=MAX_QUANTITY)
    QuantityShipped: int | None = Field(default=None, ge=0, le=MAX_QUANTITY)
    ItemPrice: AmazonMoney | None = None
    ItemTax: AmazonMoney | None = None
    ShippingPrice: AmazonMoney | None = None
    ShippingTax: AmazonMoney | None = None
    ShippingDiscount: AmazonMoney | None = None
    ShippingDiscountTax: AmazonMoney | None = None
    PromotionDiscount: AmazonMoney | None = None
    PromotionDiscountTax: AmazonMoney | None = None
    CODFee: AmazonMoney | None = None
    CODFeeDiscount: AmazonMoney | None = None


@dataclass(frozen=True)
class Ignored:
    """Nothing to do with this order (the reason is stored with the delivery)."""

    reason: str


OrderEvent = OrderReported | OrderWithdrawn


def to_event(order: AmazonOrder, items: list[AmazonOrderItem]) -> OrderEvent | Ignored:
    """What the channel says happened to the order; MalformedWebhook if it cannot be mapped."""
    status = order.OrderStatus
    if order.FulfillmentChannel == AMAZON_FULFILLED:
        return Ignored(
            f"order {order.AmazonOrderId} is fulfilled by Amazon (AFN, status {status}): "
            "Amazon ships it from its own stock"
        )
    if status in UNPAID_STATUSES:
        return Ignored(
            f"order {order.AmazonOrderId} is {status}: payment not authorised yet, Amazon "
            "says not to ship it"
        )
    if status == CANCELLED:
        if not any(item.QuantityOrdered > 0 and item.ItemPrice for item in items):
            return OrderWithdrawn(
                channel=CHANNEL,
                external_id=order.AmazonOrderId,
                revision=revision_of(order),
                reason=CANCELLED,
            )
        return OrderReported(order=to_order(order, items, ChannelStatus.CANCELLED))
    if status in OPEN_STATUSES:
        return OrderReported(order=to_order(order, items, ChannelStatus.OPEN))
    return Ignored(f"order {order.AmazonOrderId} is {status}: not a status orderhub acts on")


def revision_of(order: AmazonOrder) -> int:
    return int(order.LastUpdateDate.timestamp() * 1000)


def to_order(
    order: AmazonOrder,
    items: list[AmazonOrderItem],
    channel_status: ChannelStatus = ChannelStatus.OPEN,
) -> Order:
    try:
        return _to_order(order, items, channel_status)
    except (ValidationError, ValueError, ArithmeticError) as error:
        message = validation_message(error) if isinstance(error, ValidationError) else str(error)
        raise MalformedWebhook(f"amazon order {order.AmazonOrderId}: {message}") from error


def _to_order(
    order: AmazonOrder, items: list[AmazonOrderItem], channel_status: ChannelStatus
) -> Order:
    currency = _currency_of(order, items)
    includes_tax = prices_include_tax(order.MarketplaceId, currency)
    address = order.ShippingAddress
    countries = (_country(address), country_of(order.MarketplaceId))
    ordered = [item for item in items if item.QuantityOrdered > 0]
    if not ordered:
        raise ValueError("no item with a quantity ordered")
    money = _Amounts(currency)
    lines: list[OrderLine] = []
    for item in ordered:
        lines.extend(_lines_of(item, money, includes_tax, countries, first_no=len(lines) + 1))
    items_total = total_of([money.of(item.ItemPrice) for item in ordered], currency)
    shipping = total_of(
        [money.of(item.ShippingPrice) + money.of(item.CODFee) for item in ordered], currency
    )
    discount = total_of(
        [
            money.of(item.PromotionDiscount)
            + money.of(item.ShippingDiscount)
            + money.of(item.CODFeeDiscount)
            for item in ordered
        ],
        currency,
    )
    tax = total_of(
        [
            money.of(item.ItemTax)
            + money.of(item.ShippingTax)
            - money.of(item.PromotionDiscountTax)
            - money.of(item.ShippingDiscountTax)
            for item in ordered
        ],
        currency,
    )
    computed = items_total + shipping - discount + (Money.zero(currency) if includes_tax else tax)
    total = money.of(order.OrderTotal) if order.OrderTotal is not None else computed
    cash_on_delivery = (order.PaymentMethod or "").upper() == "COD"
    buyer = _buyer(order)
    return Order(
        channel=CHANNEL,
        external_id=order.AmazonOrderId,
        external_number=order.AmazonOrderId,
        revision=revision_of(order),
        placed_at=order.PurchaseDate,
        currency=currency,
        prices_include_vat=includes_tax,
        lines=lines,
        buyer=buyer,
        delivery=_address(address),
        payment_method=(
            PaymentMethod.CASH_ON_DELIVERY if cash_on_delivery else PaymentMethod.PREPAID
        ),
        totals=Totals(
            items=items_total, shipping=shipping, discount=discount, tax=tax, total=total
        ),
        # Amazon's checkout collected the total (the seller is paid out by Amazon).
        channel_payment=None
        if cash_on_delivery
        else ChannelPayment(provider=CHANNEL, payment_id=order.AmazonOrderId, amount=total),
        channel_status=channel_status,
        invoice_requested=(
            order.IsBusinessOrder
            or buyer.tax_id is not None
            or (order.BuyerInvoicePreference or "").upper() == "BUSINESS"
        ),
        channel_refs={"marketplace_id": order.MarketplaceId} if order.MarketplaceId else {},
    )


class _Amounts:
    """Amazon's Money objects in the order's currency (one currency per order)."""

    def __init__(self, currency: str) -> None:
        self.currency = currency

    def of(self, value: AmazonMoney | None) -> Money:
        if value is None:
            return Money.zero(self.currency)
        if value.CurrencyCode.upper() != self.currency:
            raise ValueError(f"{value.CurrencyCode} amount in a {self.currency} order")
        return Money.from_decimal(value.Amount.strip(), self.currency)


def _currency_of(order: AmazonOrder, items: list[AmazonOrderItem]) -> str:
    if order.OrderTotal is not None:
        return order.OrderTotal.CurrencyCode.upper()
    for item in items:
        if item.ItemPrice is not None:
            return item.ItemPrice.CurrencyCode.upper()
    raise ValueError("no OrderTotal and no item price: the order's currency is unknown")


def _lines_of(
    item: AmazonOrderItem,
    money: _Amounts,
    includes_tax: bool,
    countries: tuple[str | None, ...],
    *,
    first_no: int,
) -> list[OrderLine]:
    if item.ItemPrice is None:
        raise ValueError(f"item {item.OrderItemId} has no ItemPrice")
    price = money.of(item.ItemPrice)
    quantity = item.QuantityOrdered
    rate = vat_percent(
        price.to_decimal(),
        money.of(item.ItemTax).to_decimal(),
        includes_tax=includes_tax,
        countries=countries,
        exponent=currency_exponent(money.currency),
    )
    discount = money.of(item.PromotionDiscount)
    base, remainder = divmod(price.amount, quantity)
    # (units, unit price in minor units): one part, or two one minor unit apart.
    parts = [(quantity - remainder, base)] + ([(remainder, base + 1)] if remainder else [])
    sku = (item.SellerSKU or "").strip() or None
    return [
        OrderLine(
            line_no=first_no + index,
            sku=sku,
            listing_id=item.ASIN,
            channel_line_id=item.OrderItemId,
            name=item.Title or item.ASIN,
            quantity=units,
            unit_price=Money(amount=unit, currency=money.currency),
            vat_rate=rate,
            # The line's whole discount stays on its first part.
            discount=discount if index == 0 and discount.amount else None,
        )
        for index, (units, unit) in enumerate(parts)
    ]


def _country(address: AmazonAddress | None) -> str | None:
    code = (address.CountryCode or "").strip().upper() if address else ""
    return code or None


def _address(address: AmazonAddress | None) -> Address | None:
    """The delivery address, when its restricted lines were fetched (an RDT)."""
    if address is None or not address.AddressLine1 or not address.City:
        return None
    country = _country(address)
    if country is None:
        return None
    extra = ", ".join(line for line in (address.AddressLine2, address.AddressLine3) if line)
    return Address(
        name=address.Name or None,
        company=address.CompanyName or None,
        line1=address.AddressLine1,
        line2=extra or None,
        postal_code=address.PostalCode or None,
        city=address.City,
        region=address.StateOrRegion or None,
        country_code=country,
        phone=address.Phone or None,
    )


def _buyer(order: AmazonOrder) -> Buyer:
    info = order.BuyerInfo or AmazonBuyerInfo()
    tax_info = info.BuyerTaxInfo or AmazonBuyerTaxInfo()
    turkey = order.BuyerTaxInformation or AmazonBuyerTaxInformation()
    identifiers = [
        (entry.Name or "", entry.Value.strip())
        for entry in tax_info.TaxClassifications
        if entry.Value and entry.Value.strip()
    ]
    preferred = sorted(identifiers, key=lambda pair: not pair[0].lower().startswith(VAT_NAMES))
    tax_id = (preferred[0][1] if preferred else None) or (
        (turkey.BuyerTaxRegistrationId or "").strip() or None
    )
    address = order.ShippingAddress
    company = (
        tax_info.CompanyLegalName
        or turkey.BuyerLegalCompanyName
        or (address.CompanyName if address and order.IsBusinessOrder else None)
    )
    return Buyer(
        name=info.BuyerName or (address.Name if address else None) or None,
        email=info.BuyerEmail or None,
        phone=(address.Phone if address else None) or None,
        company=company or None,
        tax_id=tax_id,
    )
