"""Shopify order webhooks: X-Shopify-Hmac-Sha256 over the raw body, REST Order resource payloads.

Docs: shopify.dev/docs/apps/build/webhooks (delivery-structure, verify) and
shopify.dev/docs/api/admin-rest/latest/resources/order. The body of an orders/* webhook is the
REST Admin Order resource without the {"order": ...} wrapper.

Topics:
- `orders/create`, `orders/updated`, `orders/cancelled`: the full order, mapped to
  OrderReported. Whether it is cancelled is read from the signed body (`cancelled_at`), never
  from the topic: the X-Shopify-Topic header is not signed, so a captured orders/updated
  relabelled orders/cancelled cancels nothing, and an orders/updated sent after a cancel still
  says cancelled.
- `orders/paid`: Shopify collected the money (PaymentReported), again judged by the body.
- `orders/edited`: its body is `{"order_edit": ...}` (what changed), not an order; Shopify sends
  orders/updated with the whole edited order as well, so it is ignored.

Ordering: deliveries are retried and unordered (orders/updated can come before
orders/create). Order.revision is the body's `updated_at` in epoch milliseconds (its
`cancelled_at` when that is later), so intake keeps the newest. X-Shopify-Triggered-At is not
used for this: it is an unsigned header anyone replaying a body could set, and it says when
the webhook fired, not when the order changed. It is kept in the audit headers only.

Shopify has no tax-id field at checkout. Shops that sell B2B in Poland collect the NIP (or an
EU VAT number) as a cart/checkout attribute, which the order carries in `note_attributes`; an
attribute named nip, vat, vat_id, vat_number or tax_id (any case, spaces or dashes for
underscores) is the buyer's tax id and means a VAT invoice is requested. InPost lockers
(Paczkomat) come from checkout apps the same way: a shipping line naming InPost/Paczkomat plus
the locker id in an attribute (paczkomat, inpost_point, locker, ...) or in the shipping line
code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)

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
    ChannelStatus,
    Delivery,
    Order,
    OrderLine,
    PaymentMethod,
    PickupPoint,
    Totals,
)
from shared.orders.inbound import ORDER_KIND, OrderReported
from shared.payments.domain import ChannelOrderRef, PaymentEvent, PaymentStatus
from shared.payments.inbound import PaymentReported
from shared.providers.channels.shopify.screening import plainly_mappable

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
# Every topic whose body is the full Order resource and becomes OrderReported.
ORDER_TOPICS = frozenset({"orders/create", "orders/updated", "orders/cancelled"})
EDITED_TOPIC = "orders/edited"
PAID_TOPIC = "orders/paid"
# Shopify's built-in manual payment method for cash on delivery is named exactly this.
_COD_GATEWAY = "cash on delivery"
# The financial_status that means Shopify collected the whole total.
PAID_STATUSES = frozenset({"paid"})
Topic = Annotated[str, StringConstraints(pattern=r"^[a-z_]+/[a-z_]+$", max_length=64)]

# note_attributes names (normalised: lower case, runs of space/dash as "_") that carry...
TAX_ID_ATTRIBUTES = frozenset({"nip", "vat", "vat_id", "vat_number", "tax_id"})
LOCKER_ATTRIBUTES = frozenset(
    {
        "paczkomat",
        "paczkomat_id",
        "inpost_point",
        "inpost_point_id",
        "inpost_paczkomat",
        "inpost_locker",
        "locker",
        "locker_id",
    }
)
_LOCKER_SHIPPING_WORDS = ("paczkomat", "inpost")
# A tax id as written on an invoice once spaces, dots and dashes are gone: an optional country
# prefix and 4..20 letters, digits or the + and * some EU formats use (PL1234567890, 123456789).
_TAX_ID = re.compile(r"^[A-Z0-9+*]{4,20}$")
# InPost point names: three letters, digits, an optional letter suffix (KRA01M, WAW123APP),
# or a PaczkoPunkt (POP-WAW123).
_LOCKER_ID = re.compile(r"\b(POP-[A-Z]{3}\d{1,5}|[A-Z]{3}\d{1,4}[A-Z]{0,4})\b", re.IGNORECASE)
# What the buyer's attribute says of the point is kept short: it is a label, not a document.
MAX_POINT_NAME = 200
_GRAPHQL_ORDER_ID = re.compile(r"^gid://shopify/Order/\d{1,19}$")


class UnknownShop(SignatureMismatch):
    """Correctly signed by the app, but for a shop this deployment does not serve."""

    code = "unknown_shop"


def sign(raw_body: bytes, client_secret: str) -> str:
    """The X-Shopify-Hmac-Sha256 value: base64(HMAC-SHA256(client secret, raw body))."""
    digest = hmac.new(client_secret.encode(), raw_body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


ShopifyId = Annotated[int, Field(ge=1, lt=2**63)]


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
    id: ShopifyId
    variant_id: ShopifyId | None = None
    product_id: ShopifyId | None = None
    sku: str | None = None
    name: str | None = None
    title: str | None = None
    quantity: int = Field(ge=1, le=MAX_QUANTITY)
    price: str
    tax_lines: list[ShopifyTaxLine] = []
    discount_allocations: list[ShopifyDiscountAllocation] = []


class ShopifyShippingLine(_Lenient):
    price: str
    code: str | None = None
    title: str | None = None


class ShopifyNoteAttribute(_Lenient):
    """A cart/checkout attribute: {"name": ..., "value": ...} as the storefront sent it."""

    name: str = ""
    value: str | None = None

    @field_validator("name", "value", mode="before")
    @classmethod
    def _scalar_as_text(cls, raw: Any, info: ValidationInfo) -> Any:
        # Storefront scripts send numbers and booleans too: an odd attribute is kept as text,
        # anything else (null, a list, an object) names nothing, and is no broken order.
        if isinstance(raw, bool | int | float):
            return str(raw)
        if isinstance(raw, str):
            return raw
        return "" if info.field_name == "name" else None


class ShopifyCustomer(_Lenient):
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None


class ShopifyOrder(_Lenient):
    id: ShopifyId
    admin_graphql_api_id: str | None = None
    name: str | None = None
    created_at: UtcDatetime
    updated_at: UtcDatetime | None = None
    cancelled_at: UtcDatetime | None = None
    cancel_reason: str | None = None
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
    note_attributes: list[ShopifyNoteAttribute] = []
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

    def screen(self, request: WebhookRequest) -> ParsedWebhook:
        """What the webhook runs before it answers. An order inside the plainly mappable domain
        (screening.py) is accepted without building the canonical order, which the stream
        router builds from the same bytes; anything else is mapped here, as `parse` does, so
        a body that cannot become an order is still refused (decision 65)."""
        topic, webhook_id, audit = _envelope(request)
        if topic in ORDER_TOPICS:
            shopify_order = parse_json_model(ShopifyOrder, request.raw_body)
            if plainly_mappable(shopify_order):
                return ParsedWebhook.screened(webhook_id, topic, ORDER_KIND, audit)
            # Outside the domain: mapped here, from the model already read (not read twice).
            event = OrderReported(order=to_order(shopify_order))
            return ParsedWebhook(event_id=webhook_id, topic=topic, event=event, audit_headers=audit)
        return self.parse(request)

    def parse(self, request: WebhookRequest) -> ParsedWebhook:
        topic, webhook_id, audit = _envelope(request)

        def ignored(reason: str) -> ParsedWebhook:
            return ParsedWebhook(
                event_id=webhook_id,
                topic=topic,
                event=None,
                ignored_reason=reason,
                audit_headers=audit,
            )

        # The topic header is not signed: it only chooses what to look for. What the order is,
        # whether it is cancelled and whether it is paid come from the signed body, so a
        # captured orders/create of a pending order resent as orders/paid pays nothing.
        if topic in ORDER_TOPICS:
            shopify_order = parse_json_model(ShopifyOrder, request.raw_body)
            event: OrderReported | PaymentReported = OrderReported(order=to_order(shopify_order))
        elif topic == PAID_TOPIC:
            shopify_order = parse_json_model(ShopifyOrder, request.raw_body)
            if shopify_order.financial_status not in PAID_STATUSES:
                return ignored(
                    f"the signed body says financial_status={shopify_order.financial_status}, "
                    "not paid"
                )
            event = PaymentReported(payment=to_payment(shopify_order, webhook_id))
        elif topic == EDITED_TOPIC:
            return ignored(
                "orders/edited carries the order edit, not the order: "
                "the orders/updated Shopify sends with it reports the edited order"
            )
        else:
            return ignored(f"topic {topic} is not handled")
        return ParsedWebhook(event_id=webhook_id, topic=topic, event=event, audit_headers=audit)


def _envelope(request: WebhookRequest) -> tuple[str, str, dict[str, str]]:
    """The topic, the webhook id and the headers kept for audit (none of them signed)."""
    topic = parse_value(Topic, request.headers.require(TOPIC_HEADER), TOPIC_HEADER)
    webhook_id = parse_value(EventId, request.headers.require(WEBHOOK_ID_HEADER), WEBHOOK_ID_HEADER)
    audit = {name: request.headers[name] for name in AUDIT_HEADERS if name in request.headers}
    return topic, webhook_id, audit


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


def _attribute_key(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _attributes(order: ShopifyOrder, names: frozenset[str]) -> Iterable[str]:
    """The non-blank values of the note attributes with one of `names`, in order."""
    for attribute in order.note_attributes:
        if _attribute_key(attribute.name) in names and attribute.value and attribute.value.strip():
            yield attribute.value.strip()


def _tax_id(order: ShopifyOrder) -> str | None:
    """The buyer's NIP or EU VAT number from the checkout attributes, as an invoice prints it
    (PL 123-456-78-90 -> PL1234567890). Text that is no tax id ("brak", "-") is none."""
    for value in _attributes(order, TAX_ID_ATTRIBUTES):
        compact = re.sub(r"[\s.\-]+", "", value).upper()
        if _TAX_ID.fullmatch(compact) and any(ch.isdigit() for ch in compact):
            return compact
    return None


def _locker(order: ShopifyOrder) -> PickupPoint | None:
    """An InPost locker the buyer chose: a shipping line naming InPost/Paczkomat, and the
    locker's id in a checkout attribute or the shipping line's code."""
    lockers = [
        line
        for line in order.shipping_lines
        if any(
            word in f"{line.code or ''} {line.title or ''}".lower()
            for word in _LOCKER_SHIPPING_WORDS
        )
    ]
    if not lockers:
        return None
    for value in _attributes(order, LOCKER_ATTRIBUTES):
        found = _LOCKER_ID.search(value)
        if found:
            # "KRA01M, ul. Floriańska 3, Kraków": what follows the id names the point.
            rest = value[found.end() :].strip(" ,;:-\u2013") or None
            return _pickup_point(order, found.group(1), rest)
    for line in lockers:
        found = _LOCKER_ID.search(line.code or "")
        if found:
            return _pickup_point(order, found.group(1), line.title)
    return None


def _pickup_point(order: ShopifyOrder, point_id: str, name: str | None) -> PickupPoint:
    shipping = order.shipping_address
    phone = (shipping.phone if shipping else None) or order.phone
    if phone is None and order.customer is not None:
        phone = order.customer.phone
    return PickupPoint(
        carrier="inpost",
        point_id=point_id.upper(),
        name=name[:MAX_POINT_NAME] if name else None,
        phone=phone,
    )


def _line(number: int, item: ShopifyLineItem, currency: str) -> OrderLine:
    # The listing is the variant (what a Shopify listing mapping names); a product without
    # variants has only its product id. Lines naming neither (a tip, a custom line without a
    # SKU) hold no stock.
    listing = item.variant_id or item.product_id
    return OrderLine(
        line_no=number,
        sku=(item.sku or "").strip() or None,
        listing_id=str(listing) if listing else None,
        channel_line_id=str(item.id),
        name=item.name or item.title or "",
        quantity=item.quantity,
        unit_price=_money(item.price, currency),
        vat_rate=_vat_percent(item.tax_lines),
        discount=total_of([_money(d.amount, currency) for d in item.discount_allocations], currency)
        if item.discount_allocations
        else None,
    )


def to_order(source: ShopifyOrder) -> Order:
    """Map a Shopify REST Order to the canonical order. Lines name the channel's SKU in `sku`
    and the variant in `listing_id`; intake maps them to internal SKUs."""
    try:
        return _to_order(source)
    except (ValidationError, ValueError) as error:
        message = validation_message(error) if isinstance(error, ValidationError) else str(error)
        raise MalformedWebhook(f"order {source.id}: {message}") from error


def _revision(source: ShopifyOrder) -> int:
    moments = [source.updated_at or source.created_at]
    if source.cancelled_at is not None:
        moments.append(source.cancelled_at)  # a cancel never ranks below what it cancelled
    return int(max(moments).timestamp() * 1000)


def _to_order(source: ShopifyOrder) -> Order:
    currency = source.currency.upper()
    lines = [_line(number, item, currency) for number, item in enumerate(source.line_items, 1)]
    items_total = (
        _money(source.total_line_items_price, currency)
        if source.total_line_items_price is not None
        else total_of([line.unit_price.times(line.quantity) for line in lines], currency)
    )
    total = _money(source.total_price, currency)
    customer = source.customer
    billing = source.billing_address
    shipping = source.shipping_address
    company = (billing.company if billing else None) or (shipping.company if shipping else None)
    tax_id = _tax_id(source)
    buyer = Buyer(
        name=_full_name(customer.first_name, customer.last_name) if customer else None,
        email=source.email or (customer.email if customer else None),
        phone=source.phone or (customer.phone if customer else None),
        company=company or None,
        tax_id=tax_id,
    )
    channel_payment = (
        ChannelPayment(provider=SOURCE, payment_id=str(source.id), amount=total)
        if source.financial_status in PAID_STATUSES
        else None
    )
    delivery: Delivery | None = _locker(source) or _address(shipping)
    refs = {}
    graphql_id = (source.admin_graphql_api_id or "").strip()
    if _GRAPHQL_ORDER_ID.fullmatch(graphql_id):
        refs["admin_graphql_api_id"] = graphql_id
    return Order(
        channel=SOURCE,
        external_id=str(source.id),
        external_number=source.name,
        revision=_revision(source),
        placed_at=source.created_at,
        currency=currency,
        prices_include_vat=source.taxes_included,
        lines=lines,
        buyer=buyer,
        delivery=delivery,
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
        channel_status=ChannelStatus.CANCELLED
        if source.cancelled_at is not None
        else ChannelStatus.OPEN,
        invoice_requested=tax_id is not None,
        billing_address=_address(billing) if tax_id is not None else None,
        channel_refs=refs,
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
