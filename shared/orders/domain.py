"""The canonical order and its status machine."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from shared.kernel.errors import InvalidTransition
from shared.kernel.money import CurrencyCode, Money
from shared.kernel.sku import Sku
from shared.kernel.time import UtcDatetime

CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
# More units than any shop sells in one line; keeps amounts far inside DynamoDB's 38 digits.
MAX_QUANTITY = 1_000_000


class OrderStatus(StrEnum):
    RECEIVED = "received"
    AWAITING_PAYMENT = "awaiting_payment"
    AWAITING_TRANSFER = "awaiting_transfer"  # B2B: a bank transfer due by a date
    PAID = "paid"
    BACKORDERED = "backordered"
    READY_TO_SHIP = "ready_to_ship"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


_S = OrderStatus
# Every allowed move. Anything not listed is a bug or a late, out-of-order message.
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    _S.RECEIVED: frozenset({_S.AWAITING_PAYMENT, _S.READY_TO_SHIP, _S.BACKORDERED, _S.CANCELLED}),
    _S.AWAITING_PAYMENT: frozenset({_S.PAID, _S.AWAITING_TRANSFER, _S.CANCELLED}),
    _S.AWAITING_TRANSFER: frozenset({_S.PAID, _S.CANCELLED}),
    _S.PAID: frozenset({_S.READY_TO_SHIP, _S.CANCELLED}),
    _S.BACKORDERED: frozenset({_S.AWAITING_PAYMENT, _S.READY_TO_SHIP, _S.CANCELLED}),
    _S.READY_TO_SHIP: frozenset({_S.SHIPPED, _S.CANCELLED}),
    _S.SHIPPED: frozenset({_S.DELIVERED}),
    _S.DELIVERED: frozenset(),
    _S.CANCELLED: frozenset(),
}

TERMINAL_STATUSES = frozenset(status for status, moves in TRANSITIONS.items() if not moves)


def can_transition(current: OrderStatus, target: OrderStatus) -> bool:
    return target in TRANSITIONS[current]


def ensure_transition(current: OrderStatus, target: OrderStatus) -> None:
    if not can_transition(current, target):
        raise InvalidTransition(current.value, target.value)


class PaymentMethod(StrEnum):
    PREPAID = "prepaid"
    CASH_ON_DELIVERY = "cash_on_delivery"


class ChannelStatus(StrEnum):
    """What the channel says of its order: still to be fulfilled, or cancelled there (by the
    buyer, the marketplace or the shop's panel)."""

    OPEN = "open"
    CANCELLED = "cancelled"


class _Canonical(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OrderLine(_Canonical):
    line_no: int = Field(ge=1)
    sku: Sku | None = Field(
        description="The SKU the channel names for the line (its seller SKU); intake replaces "
        "it with the internal SKU the line's listing maps to. None with no `listing_id`: the "
        "line holds no stock (a tip, a gift card)."
    )
    listing_id: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None,
        description="The channel's listing the line was bought from (Allegro offer id, Shopify "
        "variant id, Amazon ASIN, WooCommerce product or variation id): what the shop's listing "
        "mapping turns into an internal SKU.",
    )
    channel_line_id: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None,
        description="The channel's id of this line (what a shipment confirmation names).",
    )
    name: str
    quantity: int = Field(ge=1, le=MAX_QUANTITY)
    unit_price: Money = Field(description="Price of one unit as the channel charged it.")
    vat_rate: Decimal = Field(ge=0, le=100, description="VAT rate in percent.")
    discount: Money | None = None

    @model_validator(mode="after")
    def _one_currency(self) -> OrderLine:
        if self.discount is not None and self.discount.currency != self.unit_price.currency:
            raise ValueError("line discount and unit price differ in currency")
        if self.unit_price.amount < 0 or (self.discount is not None and self.discount.amount < 0):
            raise ValueError("a line's price and discount cannot be negative")
        return self


class Buyer(_Canonical):
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    company: str | None = None
    tax_id: str | None = Field(default=None, description="NIP or EU VAT number for B2B invoices.")


class Address(_Canonical):
    kind: Literal["address"] = "address"
    name: str | None = None
    company: str | None = None
    line1: str
    line2: str | None = None
    postal_code: str | None = None
    city: str
    region: str | None = None
    country_code: CountryCode
    phone: str | None = None


class PickupPoint(_Canonical):
    kind: Literal["pickup_point"] = "pickup_point"
    carrier: str
    point_id: str
    name: str | None = None
    phone: str | None = None


Delivery = Annotated[Address | PickupPoint, Field(discriminator="kind")]


class Totals(_Canonical):
    items: Money
    shipping: Money
    discount: Money
    tax: Money
    total: Money = Field(description="What the buyer pays; the channel's figure is authoritative.")

    @model_validator(mode="after")
    def _one_currency(self) -> Totals:
        amounts = (self.items, self.shipping, self.discount, self.tax, self.total)
        if {m.currency for m in amounts} != {self.total.currency}:
            raise ValueError("order totals mix currencies")
        if any(m.amount < 0 for m in amounts):
            raise ValueError("order totals cannot be negative")
        return self


class ChannelPayment(_Canonical):
    """A payment the channel itself already collected (Shopify Payments, marketplace checkout)."""

    provider: str
    payment_id: str
    amount: Money


class Order(_Canonical):
    """An order as every channel's webhook maps to it."""

    channel: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]+$")]
    external_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    external_number: str | None = Field(
        default=None, max_length=255, description="Human number, e.g. #1001."
    )
    revision: int = Field(ge=0, description="Channel revision; a higher one wins.")
    placed_at: UtcDatetime
    currency: CurrencyCode
    prices_include_vat: bool
    lines: list[OrderLine] = Field(min_length=1)
    buyer: Buyer
    delivery: Delivery | None
    payment_method: PaymentMethod
    totals: Totals
    channel_payment: ChannelPayment | None = None
    note: str | None = None
    test: bool = Field(default=False, description="The channel marks it a test order.")
    channel_status: ChannelStatus = Field(
        default=ChannelStatus.OPEN, description="`cancelled`: the channel cancelled it."
    )
    invoice_requested: bool = Field(
        default=False, description="The buyer asked for a VAT invoice (B2B: `buyer.tax_id`)."
    )
    billing_address: Address | None = Field(
        default=None, description="Where the invoice is addressed, when it differs."
    )
    channel_refs: dict[
        Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,40}$")],
        Annotated[str, StringConstraints(max_length=500)],
    ] = Field(
        default_factory=dict,
        max_length=10,
        description="What the channel's API needs to hear back about the order (Amazon "
        "`marketplace_id`, Shopify `admin_graphql_api_id`, Allegro `revision`).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Order:
        if self.totals.total.currency != self.currency:
            raise ValueError("order total is not in the order currency")
        if any(line.unit_price.currency != self.currency for line in self.lines):
            raise ValueError("a line is priced in another currency than the order")
        numbers = [line.line_no for line in self.lines]
        if len(set(numbers)) != len(numbers):
            raise ValueError("line numbers repeat")
        return self

    @property
    def payment_required(self) -> bool:
        return self.payment_method is PaymentMethod.PREPAID and self.totals.total.amount > 0

    def stock_demand(self) -> dict[str, int]:
        """Units per SKU across lines (a SKU may appear on several lines)."""
        demand: dict[str, int] = {}
        for line in self.lines:
            if line.sku is not None:
                demand[line.sku] = demand.get(line.sku, 0) + line.quantity
        return demand
