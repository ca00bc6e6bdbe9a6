"""Shopify order webhooks: X-Shopify-Hmac-Sha256 over the raw body, REST Order resource payloads.

Docs: shopify.dev/docs/apps/build/webhooks (delivery-structure, verify). The body of an
orders/* webhook is the REST Admin Order resource without the {"order": ...} wrapper.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from shared.inbox.contract import (
    EventId,
    MalformedWebhook,
    ParsedWebhook,
    SignatureMismatch,
    WebhookRequest,
    parse_json_model,
    parse_value,
    validation_message,
)
from shared.kernel.money import Money, total_of
from shared.kernel.time import UtcDatetime
from shared.orders.domain import (
    MAX_QUANTITY,
    Address,
    Buyer,
    ChannelPayment,
    Order,
    OrderLine,
    PaymentMethod,
    Totals,
)
from shared.orders.inbound import OrderReported
from shared.payments.domain import ChannelOrderRef, PaymentEvent, PaymentStatus
from shared.payments.inbound import PaymentReported

SOURCE = "shopify"
HMAC_HEADER = "X-Shopify-Hmac-Sha256"
TOPIC_HEADER = "X-Shopify-Topic"
WEBHOOK_ID_HEADER = "X-Shopify-Webhook-Id"
SHOP_DOMAIN_HEADER = "X-Shopify-Shop-Domain"
AUDIT_HEADERS = (
    TOPIC_HEADER,
    WEBHOOK_ID_HEADER,
    SHOP_DOMAIN_HEADER,
    "X-Shopify-API-Version",
    "X-Shopify-Triggered-At",
    "X-Shopify-Event-Id",
)
# Shopify's built-in manual payment method for cash on delivery is named exactly this.
_COD_GATEWAY = "cash on delivery"
# The financial_status that means Shopify collected the whole total.
PAID_STATUSES = frozenset({"paid"})
Topic = Annotated[str, StringConstraints(pattern=r"^[a-z_]+/[a-z_]+$", max_length=64)]


class UnknownShop(SignatureMismatch):
    """Correctly signed by the app, but for a shop this deployment does not serve."""

    code = "unknown_shop"


def sign(raw_body: bytes, client_secret: str) -> str:
    """The X-Shopify-Hmac-Sha256 value: base64(HMAC-SHA256(client secret, raw body))."""
    digest = hmac.new(client_secret.encode(), raw_body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ShopifyAddress(_Lenient):
    first_name: str | None = None
    last_name: str | None = None
    name: str | None = None
    company: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    zip: str | None = None
    province_code: str | None = None
    country_code: str | None = None
    phone: str | None = None


class ShopifyTaxLine(_Lenient):
    # A fraction (0.23); anything outside 0..1 is not a tax rate (and 1e308 breaks Decimal math).
    rate: Decimal = Field(ge=0, le=1)
    price: str


class ShopifyDiscountAllocation(_Lenient):
    amount: str


class ShopifyLineItem(_Lenient):
    id: int
    sku: str | None = None
    name: str | None = None
    title: str | None = None
    quantity: int = Field(ge=1, le=MAX_QUANTITY)
    price: str
    tax_lines: list[ShopifyTaxLine] = []
    discount_allocations: list[ShopifyDiscountAllocation] = []


class ShopifyShippingLine(_Lenient):
    price: str


class ShopifyCustomer(_Lenient):
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None


class ShopifyOrder(_Lenient):
    id: int = Field(ge=1, lt=2**63)
    name: str | None = None
    created_at: UtcDatetime
    updated_at: UtcDatetime | None = None
    currency: str
    taxes_included: bool = False
    total_price: str
    subtotal_price: str | None = None
    total_line_items_price: str | None = None
    total_tax: str = "0"
    total_discounts: str = "0"
    line_items: list[ShopifyLineItem]
    shipping_lines: list[ShopifyShippingLine] = []
    shipping_address: ShopifyAddress | None = None
    billing_address: ShopifyAddress | None = None
    customer: ShopifyCustomer | None = None
    email: str | None = None
    phone: str | None = None
    financial_status: str | None = None
    gateway: str | None = None
    payment_gateway_names: list[str] = []
    note: str | None = None
    test: bool = False


class ShopifyWebhooks:
    """Adapter for POST /webhooks/orders/shopify."""

    source = SOURCE

    def verify(self, request: WebhookRequest, secrets: Mapping[str, Any]) -> None:
        received = request.headers.get(HMAC_HEADER, "").strip()
        if not received:
            raise SignatureMismatch(f"missing {HMAC_HEADER}")
        expected = sign(request.raw_body, str(secrets["webhook_secret"]))
        if not hmac.compare_digest(expected.encode(), received.encode()):
            raise SignatureMismatch(f"{HMAC_HEADER} does not match the body")
        # One app secret signs for every shop that installed the app: only our shop counts.
        shop = str(secrets.get("shop_domain") or "").strip().lower()
        sender = request.headers.get(SHOP_DOMAIN_HEADER, "").strip().lower()
        if shop and sender != shop:
            raise UnknownShop(f"{SHOP_DOMAIN_HEADER} {sender or '(missing)'} is not this shop")

    def parse(self, request: WebhookRequest) -> ParsedWebhook:
        topic = parse_value(Topic, request.headers.require(TOPIC_HEADER), TOPIC_HEADER)
        webhook_id = parse_value(
            EventId, request.headers.require(WEBHOOK_ID_HEADER), WEBHOOK_ID_HEADER
        )
        audit = {name: request.headers[name] for name in AUDIT_HEADERS if name in request.headers}

        def ignored(reason: str) -> ParsedWebhook:
            return ParsedWebhook(
                event_id=webhook_id,
                topic=topic,
                event=None,
                ignored_reason=reason,
                audit_headers=audit,
            )

        # The topic header is not signed: it only chooses what to look for. What the order is
        # and whether it is paid come from the signed body, so a captured orders/create of a
        # pending order resent as orders/paid pays nothing.
        if topic == "orders/create":
            shopify_order = parse_json_model(ShopifyOrder, request.raw_body)
            event: OrderReported | PaymentReported = OrderReported(order=to_order(shopify_order))
        elif topic == "orders/paid":
            shopify_order = parse_json_model(ShopifyOrder, request.raw_body)
            if shopify_order.financial_status not in PAID_STATUSES:
                return ignored(
                    f"the signed body says financial_status={shopify_order.financial_status}, "
                    "not paid"
                )
            event = PaymentReported(payment=to_payment(shopify_order, webhook_id))
        else:
            return ignored(f"topic {topic} is not handled")
        return ParsedWebhook(event_id=webhook_id, topic=topic, event=event, audit_headers=audit)


def _money(value: str, currency: str) -> Money:
    return Money.from_decimal(value, currency)


def _full_name(first: str | None, last: str | None) -> str | None:
    name = " ".join(part for part in (first, last) if part)
    return name or None


def _vat_percent(tax_lines: list[ShopifyTaxLine]) -> Decimal:
    # Shopify reports rates as fractions (0.23); one line can carry several taxes (e.g. state
    # and county); their sum is the line's rate.
    percent = (sum((line.rate for line in tax_lines), Decimal(0)) * 100).normalize()
    # normalize() gives 23 for 23.00 and 5.5 for 5.500, but 2E+1 for 20: undo the exponent.
    exponent = percent.as_tuple().exponent
    return percent.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else percent


def _is_cash_on_delivery(order: ShopifyOrder) -> bool:
    gateways = [*order.payment_gateway_names, order.gateway or ""]
    return any(_COD_GATEWAY in gateway.lower() for gateway in gateways)


def _payment_method(order: ShopifyOrder) -> PaymentMethod:
    return PaymentMethod.CASH_ON_DELIVERY if _is_cash_on_delivery(order) else PaymentMethod.PREPAID


def _address(address: ShopifyAddress | None) -> Address | None:
    if address is None or not address.address1 or not address.city or not address.country_code:
        return None
    return Address(
        name=address.name or _full_name(address.first_name, address.last_name),
        company=address.company or None,
        line1=address.address1,
        line2=address.address2 or None,
        postal_code=address.zip,
        city=address.city,
        region=address.province_code,
        country_code=address.country_code.upper(),
        phone=address.phone,
    )


def to_order(source: ShopifyOrder) -> Order:
    """Map a Shopify REST Order to the canonical order. Lines name the internal SKU in `sku`."""
    try:
        return _to_order(source)
    except (ValidationError, ValueError) as error:
        message = validation_message(error) if isinstance(error, ValidationError) else str(error)
        raise MalformedWebhook(f"order {source.id}: {message}") from error


def _to_order(source: ShopifyOrder) -> Order:
    currency = source.currency.upper()
    lines = [
        OrderLine(
            line_no=number,
            sku=(item.sku or "").strip() or None,
            name=item.name or item.title or "",
            quantity=item.quantity,
            unit_price=_money(item.price, currency),
            vat_rate=_vat_percent(item.tax_lines),
            discount=total_of(
                [_money(d.amount, currency) for d in item.discount_allocations], currency
            )
            if item.discount_allocations
            else None,
        )
        for number, item in enumerate(source.line_items, start=1)
    ]
    items_total = (
        _money(source.total_line_items_price, currency)
        if source.total_line_items_price is not None
        else total_of([line.unit_price.times(line.quantity) for line in lines], currency)
    )
    total = _money(source.total_price, currency)
    customer = source.customer
    billing = source.billing_address
    buyer = Buyer(
        name=_full_name(customer.first_name, customer.last_name) if customer else None,
        email=source.email or (customer.email if customer else None),
        phone=source.phone or (customer.phone if customer else None),
        company=billing.company if billing and billing.company else None,
    )
    channel_payment = (
        ChannelPayment(provider=SOURCE, payment_id=str(source.id), amount=total)
        if source.financial_status in PAID_STATUSES
        else None
    )
    return Order(
        channel=SOURCE,
        external_id=str(source.id),
        external_number=source.name,
        revision=int((source.updated_at or source.created_at).timestamp() * 1000),
        placed_at=source.created_at,
        currency=currency,
        prices_include_vat=source.taxes_included,
        lines=lines,
        buyer=buyer,
        delivery=_address(source.shipping_address),
        payment_method=_payment_method(source),
        totals=Totals(
            items=items_total,
            shipping=total_of([_money(s.price, currency) for s in source.shipping_lines], currency),
            discount=_money(source.total_discounts, currency),
            tax=_money(source.total_tax, currency),
            total=total,
        ),
        channel_payment=channel_payment,
        note=source.note,
        test=source.test,
    )


def to_payment(source: ShopifyOrder, webhook_id: str) -> PaymentEvent:
    """orders/paid: Shopify collected the whole order total itself."""
    try:
        return PaymentEvent(
            provider=SOURCE,
            provider_event_id=webhook_id,
            payment_id=str(source.id),
            channel_order=ChannelOrderRef(channel=SOURCE, external_id=str(source.id)),
            status=PaymentStatus.SUCCEEDED,
            amount=_money(source.total_price, source.currency.upper()),
            method=source.payment_gateway_names[0] if source.payment_gateway_names else None,
            occurred_at=source.updated_at or source.created_at,
            test=source.test,
        )
    except (ValidationError, ValueError) as error:
        message = validation_message(error) if isinstance(error, ValidationError) else str(error)
        raise MalformedWebhook(f"order {source.id}: {message}") from error
