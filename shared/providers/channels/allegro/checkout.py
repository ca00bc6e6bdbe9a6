"""Allegro's checkout form (GET /order/checkout-forms/{id}) as the canonical order, and the
stored journal item ({"event", "checkoutForm"}) as a ParsedWebhook. Pure: no I/O.

developer.allegro.pl/documentation, "Get an order's details" and "Get order events"; the
tutorial developer.allegro.pl/tutorials/jak-obslugiwac-zamowienia-GRaj0qyvwtR. The form's
`status` decides, not the event type: events repeat and arrive out of order, and the form
was read when the event was polled. BOUGHT (not filled in) and FILLED_IN (not paid) are not
orders yet; READY_FOR_PROCESSING is one; CANCELLED is one the buyer or Allegro cancelled.
`updatedAt` in epoch ms is the revision (a higher one wins); Allegro's own `revision` string
goes into channel_refs, since the fulfillment PUT names it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from shared.inbox.contract import (
    EventId,
    MalformedWebhook,
    ParsedWebhook,
    WebhookRequest,
    parse_json_model,
    parse_model,
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
    Order,
    OrderLine,
    PaymentMethod,
    PickupPoint,
    Totals,
)
from shared.orders.inbound import OrderReported

SOURCE = "allegro"
# Allegro lists prices gross; a line without `tax` (sellers outside VAT invoicing) is taken
# at Poland's standard rate.
DEFAULT_VAT_RATE = Decimal(23)
ORDER_STATUSES = frozenset({"READY_FOR_PROCESSING", "CANCELLED"})
NOT_YET = {
    "BOUGHT": "the buyer has not filled in the checkout form yet",
    "FILLED_IN": "the checkout form is not paid yet",
}
# Fulfillment statuses set in the seller's panel that withdraw the order.
CANCELLED_FULFILMENT = frozenset({"CANCELLED"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Text = Annotated[str, StringConstraints(max_length=1000)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Amount(_Lenient):
    amount: Annotated[str, StringConstraints(max_length=40)]
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$")]

    def money(self) -> Money:
        return Money.from_decimal(self.amount, self.currency)


class FormRef(_Lenient):
    id: Id
    revision: Text | None = None


class EventOrder(_Lenient):
    checkoutForm: FormRef  # Allegro's field names, here and below


class OrderEvent(_Lenient):
    """One item of GET /order/events: {id, type, occurredAt, order{checkoutForm{id}, ...}}."""

    id: EventId
    type: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    occurredAt: UtcDatetime | None = None
    order: EventOrder


class External(_Lenient):
    id: Text | None = None


class Offer(_Lenient):
    id: Id
    name: Text = ""
    external: External | None = None


class Tax(_Lenient):
    rate: Annotated[str, StringConstraints(max_length=20)] | None = None


class LineItem(_Lenient):
    id: Id
    offer: Offer
    quantity: int = Field(ge=1, le=MAX_QUANTITY)
    price: Amount
    tax: Tax | None = None
    boughtAt: UtcDatetime | None = None


class FormAddress(_Lenient):
    firstName: Text | None = None
    lastName: Text | None = None
    companyName: Text | None = None
    street: Text | None = None
    city: Text | None = None
    zipCode: Text | None = None
    postCode: Text | None = None  # buyer.address says postCode, the others zipCode
    countryCode: Text | None = None
    phoneNumber: Text | None = None


class FormBuyer(_Lenient):
    email: Text | None = None
    login: Text | None = None
    firstName: Text | None = None
    lastName: Text | None = None
    companyName: Text | None = None
    phoneNumber: Text | None = None


class Payment(_Lenient):
    id: Text | None = None
    type: Text | None = None
    paidAmount: Amount | None = None


class Method(_Lenient):
    id: Text | None = None
    name: Text | None = None


class PickupPointRef(_Lenient):
    id: Id
    name: Text | None = None


class FormDelivery(_Lenient):
    address: FormAddress | None = None
    method: Method | None = None
    pickupPoint: PickupPointRef | None = None
    cost: Amount | None = None


class Company(_Lenient):
    name: Text | None = None
    taxId: Text | None = None


class NaturalPerson(_Lenient):
    firstName: Text | None = None
    lastName: Text | None = None


class InvoiceAddress(_Lenient):
    street: Text | None = None
    city: Text | None = None
    zipCode: Text | None = None
    countryCode: Text | None = None
    company: Company | None = None
    naturalPerson: NaturalPerson | None = None


class Invoice(_Lenient):
    required: bool = False
    address: InvoiceAddress | None = None


class Fulfillment(_Lenient):
    status: Text | None = None


class Summary(_Lenient):
    totalToPay: Amount


class Marketplace(_Lenient):
    id: Text | None = None


class CheckoutForm(_Lenient):
    id: Id
    status: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    updatedAt: UtcDatetime
    revision: Text | None = None
    messageToSeller: Text | None = None
    buyer: FormBuyer | None = None
    payment: Payment | None = None
    fulfillment: Fulfillment | None = None
    delivery: FormDelivery | None = None
    invoice: Invoice | None = None
    lineItems: list[LineItem] = Field(default_factory=list, max_length=1000)
    summary: Summary | None = None
    marketplace: Marketplace | None = None


class _FormStatus(_Lenient):
    """What `parse` reads before deciding whether the form is an order at all."""

    id: Id
    status: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class JournalItem(_Lenient):
    """What the poller stores: the event and the form it named, as Allegro sent them."""

    event: OrderEvent
    checkoutForm: dict[str, Any] | None


# -- mapping -------------------------------------------------------------------------------------
def epoch_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _name(first: str | None, last: str | None) -> str | None:
    return " ".join(part for part in (first, last) if part) or None


def _vat(tax: Tax | None) -> Decimal:
    if tax is None or not tax.rate:
        return DEFAULT_VAT_RATE
    rate = Decimal(tax.rate)  # "23.00": a percent
    if not rate.is_finite() or not 0 <= rate <= 100:
        raise ValueError(f"tax rate {tax.rate!r} is not a percentage")
    # 23.00 -> 23, 5.50 -> 5.5 (normalize alone turns 20 into 2E+1)
    return rate.quantize(Decimal(1)) if rate == rate.to_integral_value() else rate.normalize()


def _line_vat(gross: Money, rate: Decimal) -> int:
    """The VAT inside a gross amount, in minor units (rounded half up)."""
    tax = Decimal(gross.amount) * rate / (100 + rate)
    return int(tax.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _sku(item: LineItem) -> str | None:
    external = (item.offer.external.id if item.offer.external else None) or ""
    return external.strip() or None


def _address(address: FormAddress | None) -> Address | None:
    if address is None or not address.street or not address.city or not address.countryCode:
        return None
    return Address(
        name=_name(address.firstName, address.lastName),
        company=address.companyName or None,
        line1=address.street,
        postal_code=address.zipCode or address.postCode,
        city=address.city,
        country_code=address.countryCode.upper(),
        phone=address.phoneNumber,
    )


def pickup_carrier(method: Method | None) -> str:
    """'Allegro Paczkomaty InPost' -> inpost; any other method's name, lowercased."""
    name = (method.name if method else None) or ""
    lowered = name.lower()
    if "inpost" in lowered or "paczkomat" in lowered:
        return "inpost"
    return lowered.strip() or "unknown"


def _delivery(delivery: FormDelivery | None) -> Address | PickupPoint | None:
    if delivery is None:
        return None
    if delivery.pickupPoint is not None:
        return PickupPoint(
            carrier=pickup_carrier(delivery.method),
            point_id=delivery.pickupPoint.id,
            name=delivery.pickupPoint.name,
            phone=delivery.address.phoneNumber if delivery.address else None,
        )
    return _address(delivery.address)


def _billing(invoice: Invoice | None) -> Address | None:
    address = invoice.address if invoice else None
    if address is None or not address.street or not address.city or not address.countryCode:
        return None
    person = address.naturalPerson
    company = address.company.name if address.company else None
    return Address(
        name=_name(person.firstName, person.lastName) if person else company,
        company=company,
        line1=address.street,
        postal_code=address.zipCode,
        city=address.city,
        country_code=address.countryCode.upper(),
    )


def to_order(form: CheckoutForm) -> Order:
    """A READY_FOR_PROCESSING or CANCELLED checkout form as the canonical order."""
    try:
        return _to_order(form)
    except ValidationError as error:
        raise MalformedWebhook(f"checkout form {form.id}: {validation_message(error)}") from error
    except (ValueError, ArithmeticError, InvalidOperation) as error:
        raise MalformedWebhook(f"checkout form {form.id}: {error}") from error


def _to_order(form: CheckoutForm) -> Order:
    if form.summary is None:
        raise ValueError("the form has no summary.totalToPay")
    total = form.summary.totalToPay.money()
    currency = total.currency
    lines, tax = [], 0
    for number, item in enumerate(form.lineItems, start=1):
        price = item.price.money()
        rate = _vat(item.tax)
        lines.append(
            OrderLine(
                line_no=number,
                sku=_sku(item),
                listing_id=item.offer.id,
                channel_line_id=item.id,
                name=item.offer.name,
                quantity=item.quantity,
                unit_price=price,
                vat_rate=rate,
            )
        )
        tax += _line_vat(price.times(item.quantity), rate)
    delivery = form.delivery
    shipping = delivery.cost.money() if delivery and delivery.cost else Money.zero(currency)
    buyer = form.buyer or FormBuyer()
    payment = form.payment or Payment()
    invoice = form.invoice if form.invoice and form.invoice.required else None
    company = invoice.address.company if invoice and invoice.address else None
    cash_on_delivery = (payment.type or "").upper() == "CASH_ON_DELIVERY"
    channel_payment = None
    if not cash_on_delivery and payment.paidAmount is not None and payment.id:
        channel_payment = ChannelPayment(
            provider=SOURCE, payment_id=payment.id, amount=payment.paidAmount.money()
        )
    bought = [item.boughtAt for item in form.lineItems if item.boughtAt is not None]
    refs = {"revision": form.revision or ""}
    if buyer.login:
        refs["buyer_login"] = buyer.login[:500]
    if form.marketplace and form.marketplace.id:
        refs["marketplace_id"] = form.marketplace.id[:500]
    cancelled = form.status == "CANCELLED" or (
        (form.fulfillment.status if form.fulfillment else None) in CANCELLED_FULFILMENT
    )
    return Order(
        channel=SOURCE,
        external_id=form.id,
        revision=epoch_ms(form.updatedAt),
        placed_at=min(bought) if bought else form.updatedAt,
        currency=currency,
        prices_include_vat=True,  # Allegro prices are gross
        lines=lines,
        buyer=Buyer(
            name=_name(buyer.firstName, buyer.lastName) or buyer.login,
            email=buyer.email,
            phone=buyer.phoneNumber,
            company=buyer.companyName or (company.name if company else None),
            tax_id=(company.taxId or None) if company else None,
        ),
        delivery=_delivery(delivery),
        payment_method=(
            PaymentMethod.CASH_ON_DELIVERY if cash_on_delivery else PaymentMethod.PREPAID
        ),
        totals=Totals(
            items=total_of([line.unit_price.times(line.quantity) for line in lines], currency),
            shipping=shipping,
            discount=Money.zero(currency),
            # the VAT inside the lines' gross prices (Allegro states no tax total; delivery's
            # VAT depends on the seller's invoice and is left out)
            tax=Money(amount=tax, currency=currency),
            total=total,
        ),
        channel_payment=channel_payment,
        note=form.messageToSeller or None,
        channel_status=ChannelStatus.CANCELLED if cancelled else ChannelStatus.OPEN,
        invoice_requested=invoice is not None,
        billing_address=_billing(invoice),
        channel_refs={key: value for key, value in refs.items() if value},
    )


def parse_item(request: WebhookRequest) -> ParsedWebhook:
    """A stored journal item -> the order its checkout form is now, or why it is none yet."""
    item = parse_json_model(JournalItem, request.raw_body)
    event = item.event

    def ignored(reason: str) -> ParsedWebhook:
        return ParsedWebhook(event_id=event.id, topic=event.type, event=None, ignored_reason=reason)

    if item.checkoutForm is None:
        return ignored("the checkout form could not be read when the event was polled (404)")
    status = parse_model(_FormStatus, item.checkoutForm)
    if status.id != event.order.checkoutForm.id:
        raise MalformedWebhook(
            f"event {event.id} names checkout form {event.order.checkoutForm.id}, "
            f"the stored form is {status.id}"
        )
    if status.status not in ORDER_STATUSES:
        reason = NOT_YET.get(status.status, f"checkout form status {status.status} is no order")
        return ignored(f"{reason} (status {status.status})")
    form = parse_model(CheckoutForm, item.checkoutForm)
    return ParsedWebhook(
        event_id=event.id, topic=event.type, event=OrderReported(order=to_order(form))
    )
