"""The REST API v3 order resource as WooCommerce sends it, in a webhook body and in
GET /wp-json/wc/v3/orders (woocommerce-rest-api-docs, wp-api-v3/_orders.md, "Order properties").

A webhook's body for an order is exactly that resource (WC_Webhook::get_wp_api_payload builds it
from the same REST controller), so one model serves both. Money is sent as decimal strings in the
store's price decimals ("29.35"); line `price` is a float and is not used. Every `*_gmt` date is
GMT without an offset ("2017-03-22T19:28:08"), whole seconds.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from shared.inbox.contract import not_a_boolean
from shared.kernel.time import UtcDatetime
from shared.orders.domain import MAX_QUANTITY

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Far beyond any order, far inside Decimal's and DynamoDB's comfort (hostile bodies send 1e999).
_AMOUNT_LIMIT = Decimal(10) ** 12


def _gmt(value: Any) -> Any:
    """WooCommerce's *_gmt dates carry no offset: they are GMT by name."""
    if isinstance(value, str):
        moment = datetime.fromisoformat(value)
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return value


def _text(value: Any) -> Any:
    # Plugins (sequential order numbers, custom meta) send numbers where core sends strings.
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def _object(value: Any) -> Any:
    # PHP serialises an empty associative array as [] (an order with no shipping address).
    return {} if value == [] else value


GmtDatetime = Annotated[UtcDatetime, BeforeValidator(_gmt)]
Amount = Annotated[
    Decimal,
    BeforeValidator(_text),
    Field(allow_inf_nan=False, ge=-_AMOUNT_LIMIT, le=_AMOUNT_LIMIT),
]
# Generous: a long product name or address must not make a real order malformed.
Text = Annotated[str, BeforeValidator(_text), Field(max_length=10_000)]
ResourceId = Annotated[int, BeforeValidator(not_a_boolean), Field(ge=0, lt=2**63)]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class WooMeta(_Lenient):
    key: str = Field(max_length=255)
    value: Any = None


class WooAddress(_Lenient):
    first_name: Text | None = None
    last_name: Text | None = None
    company: Text | None = None
    address_1: Text | None = None
    address_2: Text | None = None
    city: Text | None = None
    state: Text | None = None
    postcode: Text | None = None
    country: Text | None = None
    email: Text | None = None
    phone: Text | None = None


class WooTaxShare(_Lenient):
    """One tax rate's share of a line (`taxes[]`): `id` is the rate id tax_lines name."""

    id: ResourceId
    total: Text | None = None


class WooLineItem(_Lenient):
    id: ResourceId
    name: Text = ""
    product_id: ResourceId = 0
    variation_id: ResourceId = 0
    quantity: int = Field(ge=1, le=MAX_QUANTITY)
    # WooCommerce keeps line subtotal (before coupons) and total (after) net of tax, whatever
    # the store's prices_include_tax; the taxes are beside them.
    subtotal: Amount
    subtotal_tax: Amount = Decimal(0)
    total: Amount
    total_tax: Amount = Decimal(0)
    taxes: list[WooTaxShare] = []
    sku: Text | None = None
    meta_data: list[WooMeta] = []


class WooTaxLine(_Lenient):
    id: ResourceId = 0
    rate_id: ResourceId = 0
    rate_code: Text | None = None
    label: Text | None = None
    compound: bool = False
    # Present since WooCommerce 5.7 (the rate in percent, "23.0000"); older stores omit it.
    rate_percent: Annotated[Decimal, BeforeValidator(_text), Field(ge=0, le=100)] | None = None


class WooShippingLine(_Lenient):
    id: ResourceId = 0
    method_id: Text = ""
    method_title: Text = ""
    total: Amount = Decimal(0)
    total_tax: Amount = Decimal(0)
    meta_data: list[WooMeta] = []


class WooFeeLine(_Lenient):
    id: ResourceId = 0
    name: Text = ""
    total: Amount = Decimal(0)
    total_tax: Amount = Decimal(0)
    taxes: list[WooTaxShare] = []


class WooOrder(_Lenient):
    id: ResourceId = Field(ge=1)
    number: Text | None = None
    status: str = Field(min_length=1, max_length=40)
    currency: str = Field(pattern=r"^[A-Za-z]{3}$")
    date_created_gmt: GmtDatetime
    date_modified_gmt: GmtDatetime | None = None
    discount_total: Amount = Decimal(0)
    discount_tax: Amount = Decimal(0)
    shipping_total: Amount = Decimal(0)
    shipping_tax: Amount = Decimal(0)
    total: Amount
    total_tax: Amount = Decimal(0)
    prices_include_tax: bool = False
    customer_note: str | None = None  # free text: no limit beyond the body's
    billing: Annotated[WooAddress, BeforeValidator(_object)] = WooAddress()
    shipping: Annotated[WooAddress, BeforeValidator(_object)] = WooAddress()
    payment_method: Text = ""
    payment_method_title: Text | None = None
    transaction_id: Text | None = None
    date_paid_gmt: GmtDatetime | None = None
    meta_data: list[WooMeta] = []
    line_items: list[WooLineItem]
    tax_lines: list[WooTaxLine] = []
    shipping_lines: list[WooShippingLine] = []
    fee_lines: list[WooFeeLine] = []

    @property
    def modified_at(self) -> datetime:
        return self.date_modified_gmt or self.date_created_gmt


class WooOrderVersion(_Lenient):
    """Just what names one version of an order: its dedupe key and revision."""

    id: ResourceId = Field(ge=1)
    date_created_gmt: GmtDatetime | None = None
    date_modified_gmt: GmtDatetime | None = None

    @property
    def modified_at(self) -> datetime | None:
        return self.date_modified_gmt or self.date_created_gmt


class WooDeleted(_Lenient):
    """order.deleted: WC_Webhook::build_payload sends only {"id": N} for a deleted resource."""

    id: ResourceId = Field(ge=1)
    date_modified_gmt: GmtDatetime | None = None


class WooIdOnly(_Lenient):
    """Is this body an order, or only an order's id?"""

    id: ResourceId = Field(ge=1)
    line_items: list[Any] | None = None


def epoch_ms(moment: datetime) -> int:
    """Exact milliseconds since the epoch (no float rounding)."""
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def order_event_id(order_id: int, modified_at: datetime) -> str:
    """The dedupe key of one version of an order: the webhook and the repair poll of the same
    version give the same key (X-WC-Webhook-Delivery-ID cannot be one: WooCommerce derives it
    from the webhook id and the second of delivery, so it differs per delivery and can repeat)."""
    return f"order-{order_id}-{epoch_ms(modified_at)}"


def deleted_event_id(order_id: int) -> str:
    return f"order-{order_id}-deleted"
