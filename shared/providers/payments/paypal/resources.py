"""PayPal's REST resources (Orders v2 order, Payments v2 capture and refund, the legacy v1 sale)
and how each becomes orderhub's canonical payment or refund, the same way whether a webhook
carried it or the API answered with it (so a notification and a lookup merge into one record).

Shapes: paypal/paypal-rest-api-specifications openapi/checkout_orders_v2.json (order,
purchase_unit, capture) and openapi/payments_payment_v2.json (capture, refund, related_ids).

- The payment is the checkout order: its approval (CHECKOUT.ORDER.APPROVED) and its capture
  (PAYMENT.CAPTURE.*) carry the same payment_id, the order id (a capture names it in
  supplementary_data.related_ids.order_id, or in its "up" link), so they reduce to one record.
- The merchant reference is the purchase unit's `custom_id` (orderhub's order id), which PayPal
  copies onto the capture; the purchase unit's `reference_id` also carries the attempt.
- Sandbox or live: every resource and event links to its API host (api.sandbox.paypal.com or
  api-m.sandbox.paypal.com in the sandbox); PayPal has no livemode flag.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.kernel.time import UtcDatetime
from shared.payments.domain import PaymentEvent, PaymentStatus, RefundEvent, RefundStatus
from shared.payments.references import parse_merchant_reference
from shared.providers.payments.paypal.amounts import from_paypal

SOURCE = "paypal"

# PayPal ids are short upper-case alphanumerics (order "5O190127TN364715T", "WH-..." events);
# they end up in DynamoDB keys.
PayPalId = Annotated[
    str, StringConstraints(min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$")
]
Text = Annotated[str, StringConstraints(max_length=1000)]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Link(_Lenient):
    href: Text
    rel: Text
    method: Text | None = None


class Amount(_Lenient):
    currency_code: str = Field(pattern=r"^[A-Za-z]{3}$")
    value: str = Field(max_length=32)


class RelatedIds(_Lenient):
    order_id: PayPalId | None = None
    capture_id: PayPalId | None = None


class SupplementaryData(_Lenient):
    related_ids: RelatedIds | None = None


class StatusDetails(_Lenient):
    reason: Text | None = None


class _Transaction(_Lenient):
    """What a capture and a refund both carry (Payments v2)."""

    id: PayPalId
    status: Text
    status_details: StatusDetails | None = None
    amount: Amount
    custom_id: Text | None = None
    invoice_id: Text | None = None
    links: list[Link] = []
    create_time: UtcDatetime | None = None
    update_time: UtcDatetime | None = None


class Capture(_Transaction):
    supplementary_data: SupplementaryData | None = None


class Payments(_Lenient):
    captures: list[Capture] = []


class PurchaseUnit(_Lenient):
    reference_id: Text | None = None
    custom_id: Text | None = None
    invoice_id: Text | None = None
    amount: Amount | None = None
    payments: Payments | None = None


class Order(_Lenient):
    id: PayPalId
    status: Text
    intent: Text | None = None
    purchase_units: list[PurchaseUnit] = Field(default=[], max_length=10)
    payment_source: dict[str, Any] = {}
    links: list[Link] = []
    create_time: UtcDatetime | None = None
    update_time: UtcDatetime | None = None


class Refund(_Transaction):
    note_to_payer: Text | None = None


class SaleAmount(_Lenient):
    total: str = Field(max_length=32)
    currency: str = Field(pattern=r"^[A-Za-z]{3}$")


class Sale(_Lenient):
    """The legacy Payments v1 sale (PAYMENT.SALE.COMPLETED), as in PayPal's SDK samples."""

    id: PayPalId
    state: Text | None = None
    amount: SaleAmount
    custom: Text | None = None
    invoice_number: Text | None = None
    parent_payment: PayPalId | None = None


# -- the vocabulary ------------------------------------------------------------------------------

# Capture statuses (capture_status enum). A refunded capture was paid: refunds are their own
# records, a payment's status never goes back.
CAPTURE_STATUSES: dict[str, PaymentStatus] = {
    "COMPLETED": PaymentStatus.SUCCEEDED,
    "PARTIALLY_REFUNDED": PaymentStatus.SUCCEEDED,
    "REFUNDED": PaymentStatus.SUCCEEDED,
    "PENDING": PaymentStatus.PENDING,
    "DECLINED": PaymentStatus.FAILED,
    "FAILED": PaymentStatus.FAILED,
}
REFUND_STATUSES: dict[str, RefundStatus] = {
    "COMPLETED": RefundStatus.COMPLETED,
    "PENDING": RefundStatus.PENDING,
    "FAILED": RefundStatus.FAILED,
    "CANCELLED": RefundStatus.FAILED,
}
# payment_source keys (Orders v2) in orderhub's method words; others are left unnamed.
PAYMENT_SOURCES: dict[str, str] = {
    "paypal": "paypal",
    "card": "card",
    "blik": "blik",
    "p24": "bank_link",
    "apple_pay": "apple_pay",
    "google_pay": "google_pay",
}
SANDBOX_HOSTS = ("api.sandbox.paypal.com", "api-m.sandbox.paypal.com", "www.sandbox.paypal.com")


def is_sandbox(links: list[Link]) -> bool:
    """Made in PayPal's sandbox: its links point at a sandbox host."""
    return any((urlsplit(link.href).hostname or "") in SANDBOX_HOSTS for link in links)


def linked_id(links: list[Link], rel: str, collection: str) -> str | None:
    """The id at the end of a `rel` link into `collection` (".../v2/checkout/orders/<id>")."""
    for link in links:
        if link.rel != rel:
            continue
        path = urlsplit(link.href).path.rstrip("/")
        parent, _, last = path.rpartition("/")
        if parent.endswith(collection) and last:
            return last
    return None


def capture_order_id(capture: Capture) -> str | None:
    """The checkout order a capture belongs to (related_ids, else its "up" link)."""
    related = capture.supplementary_data.related_ids if capture.supplementary_data else None
    if related is not None and related.order_id:
        return related.order_id
    return linked_id(capture.links, "up", "/v2/checkout/orders")


def refunded_capture_id(refund: Refund) -> str | None:
    """The capture a refund returns money from: its "up" link."""
    return linked_id(refund.links, "up", "/v2/payments/captures")


def payment_method(payment_source: dict[str, Any]) -> str | None:
    named = [PAYMENT_SOURCES[key] for key in payment_source if key in PAYMENT_SOURCES]
    return named[0] if len(named) == 1 else None


def _reference(text: str | None) -> tuple[str, int | None] | None:
    if not text or not text.strip():
        return None
    return parse_merchant_reference(text.strip())


def unit_reference(unit: PurchaseUnit) -> tuple[str, int | None] | None:
    """(order id, attempt) of a purchase unit: custom_id names the order; reference_id
    (`<order id>/<attempt>`) adds the attempt when it names the same order."""
    named = _reference(unit.custom_id)
    if named is None:
        return None
    order_id, attempt = named
    if attempt is None:
        by_unit = _reference(unit.reference_id)
        if by_unit is not None and by_unit[0] == order_id:
            attempt = by_unit[1]
    return order_id, attempt


# -- payments ------------------------------------------------------------------------------------


def capture_payment(
    capture: Capture,
    *,
    status: PaymentStatus,
    event_id: str,
    occurred_at: datetime,
    test: bool,
    reference: tuple[str, int | None] | None = None,
    order_id: str | None = None,
    method: str | None = None,
) -> PaymentEvent | str:
    """A capture as the payment; a reason string when it names no orderhub order.

    `reference` and `order_id` come from the order when the capture came inside one (the API's
    answers); a capture on its own (a webhook) names both itself."""
    named = reference or _reference(capture.custom_id)
    if named is None:
        return f"capture {capture.id} has no custom_id (not made by orderhub)"
    paypal_order = order_id or capture_order_id(capture)
    provider_data = {"capture_id": capture.id}
    if paypal_order:
        provider_data["paypal_order_id"] = paypal_order
    failure = None
    if status is PaymentStatus.FAILED:
        reason = capture.status_details.reason if capture.status_details else None
        failure = f"capture {capture.status.lower()}" + (f": {reason}" if reason else "")
    return PaymentEvent(
        provider=SOURCE,
        provider_event_id=event_id,
        payment_id=paypal_order or capture.id,
        order_id=named[0],
        attempt=named[1],
        status=status,
        amount=from_paypal(capture.amount.value, capture.amount.currency_code),
        method=method,
        occurred_at=occurred_at,
        failure_reason=failure,
        test=test,
        provider_data=provider_data,
    )


def latest_capture(order: Order) -> Capture | None:
    for unit in order.purchase_units:
        if unit.payments is not None and unit.payments.captures:
            return unit.payments.captures[-1]  # the latest attempt to capture
    return None


def order_payment(
    order: Order,
    *,
    event_id: str | None,
    occurred_at: datetime,
    reference: tuple[str, int | None] | None = None,
    test: bool | None = None,
) -> PaymentEvent | str | None:
    """An order as the payment: APPROVED is authorized money to capture; COMPLETED is its
    capture; VOIDED is cancelled; anything earlier is None (nothing happened yet).

    `event_id`: the notification's id; None names the status seen (API lookups), so that a
    repeated lookup dedupes and a new status does not."""
    if not order.purchase_units:
        return f"order {order.id} has no purchase units"
    unit = order.purchase_units[0]
    named = reference or unit_reference(unit)
    if named is None:
        return f"order {order.id} has no custom_id (not made by orderhub)"
    test = is_sandbox(order.links) if test is None else test
    method = payment_method(order.payment_source)
    capture = latest_capture(order)
    if capture is not None:
        # Captured (completed, pending or declined): the capture is what happened.
        return order_capture_payment(
            order, capture, event_id=event_id, reference=named, test=test, fallback=occurred_at
        )
    if order.status == "APPROVED":
        status = PaymentStatus.AUTHORIZED
    elif order.status == "VOIDED":
        status = PaymentStatus.CANCELLED
    else:
        return None
    if unit.amount is None:
        return f"order {order.id} has no amount"
    return PaymentEvent(
        provider=SOURCE,
        provider_event_id=event_id or f"{order.id}:order:{order.status}",
        payment_id=order.id,
        order_id=named[0],
        attempt=named[1],
        status=status,
        amount=from_paypal(unit.amount.value, unit.amount.currency_code),
        method=method,
        occurred_at=order.update_time or occurred_at,
        failure_reason="the order was voided" if status is PaymentStatus.CANCELLED else None,
        test=test,
        needs_capture=status is PaymentStatus.AUTHORIZED,
        provider_data={"paypal_order_id": order.id},
    )


def order_capture_payment(
    order: Order,
    capture: Capture,
    *,
    event_id: str | None,
    reference: tuple[str, int | None],
    test: bool,
    fallback: datetime,
) -> PaymentEvent | str:
    """A capture that came inside its order (the capture call's answer, a lookup, or
    CHECKOUT.ORDER.COMPLETED)."""
    status = CAPTURE_STATUSES.get(capture.status)
    if status is None:
        return f"capture {capture.id} has status {capture.status}"
    return capture_payment(
        capture,
        status=status,
        event_id=event_id or capture_event_id(order.id, capture),
        occurred_at=capture.update_time or capture.create_time or fallback,
        test=test,
        reference=reference,
        order_id=order.id,
        method=payment_method(order.payment_source),
    )


def capture_event_id(order_id: str, capture: Capture) -> str:
    """What names a capture's outcome seen through the API (the capture call, a lookup)."""
    return f"{order_id}:capture:{capture.id}:{capture.status}"


def sale_payment(
    sale: Sale, *, event_id: str, occurred_at: datetime, test: bool
) -> PaymentEvent | str:
    named = _reference(sale.custom)
    if named is None:
        return "legacy sale has no custom reference (not made by orderhub)"
    return PaymentEvent(
        provider=SOURCE,
        provider_event_id=event_id,
        payment_id=sale.parent_payment or sale.id,
        order_id=named[0],
        attempt=named[1],
        status=PaymentStatus.SUCCEEDED,
        amount=from_paypal(sale.amount.total, sale.amount.currency),
        method="paypal",
        occurred_at=occurred_at,
        test=test,
        provider_data={"sale_id": sale.id},
    )


# -- refunds -------------------------------------------------------------------------------------


MAX_INVOICE_ID = 127


def refund_invoice_id(order_id: str, refund_id: str) -> str | None:
    """What orderhub's refund carries as invoice_id: `<order id>/<refund id>` (PayPal refuses
    an invoice_id an earlier refund used); None when it would be too long for PayPal."""
    invoice_id = f"{order_id}/{refund_id}"
    return invoice_id if len(invoice_id) <= MAX_INVOICE_ID else None


def refund_order_id(invoice_id: str | None, refund_id: str | None) -> str | None:
    """The order an orderhub refund names (see refund_invoice_id); None for any other."""
    if not invoice_id or not refund_id:
        return None
    suffix = f"/{refund_id}"
    if invoice_id.endswith(suffix) and len(invoice_id) > len(suffix):
        return invoice_id[: -len(suffix)]
    return None


def refund_event(
    refund: Refund,
    *,
    event_id: str,
    occurred_at: datetime,
    test: bool,
    status: RefundStatus | None = None,
    order_id: str | None = None,
    payment_id: str | None = None,
    refund_id: str | None = None,
) -> RefundEvent | str:
    """A refund as the canonical refund.

    A refund resource names its capture (the "up" link) and what the refund request carried:
    orderhub sends custom_id = its refund id and invoice_id = `<order id>/<refund id>`. A
    refund made in PayPal's dashboard carries neither: it is named by the capture id alone
    (payment_id), and the order is found from the payment that capture belongs to."""
    mapped = status or REFUND_STATUSES.get(refund.status)
    if mapped is None:
        return f"refund {refund.id} has status {refund.status}"
    ours = (refund.custom_id or "").strip() or None
    named_order = order_id or refund_order_id(refund.invoice_id, ours)
    failure = None
    if mapped is RefundStatus.FAILED:
        reason = refund.status_details.reason if refund.status_details else None
        failure = f"refund {refund.status.lower()}" + (f": {reason}" if reason else "")
    return RefundEvent(
        provider=SOURCE,
        provider_event_id=event_id,
        order_id=named_order,
        payment_id=payment_id or refunded_capture_id(refund),
        refund_id=refund_id or ours,
        provider_refund_id=refund.id,
        status=mapped,
        amount=from_paypal(refund.amount.value, refund.amount.currency_code),
        occurred_at=occurred_at,
        failure_reason=failure,
        test=test,
    )
