"""Read models for the API: an order's full picture from its partition, list rows, cursors,
and the models that describe those views in the OpenAPI document."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.kernel.events import EventType
from shared.kernel.money import Money
from shared.kernel.time import utc_iso
from shared.orders.domain import (
    Address,
    Buyer,
    Delivery,
    OrderLine,
    OrderStatus,
    PaymentMethod,
    Totals,
)
from shared.orders.store import (
    DETAILS_SK,
    ORDER_SK,
    OrderState,
    details_of,
    timeline_entry_of,
)
from shared.payments.domain import PaymentDecision, PaymentStatus, RefundStatus, Risk
from shared.payments.refunds import Refund, sum_refunded
from shared.payments.store import PaymentRecord, left_to_pay
from shared.platform.blobs import BlobStore
from shared.platform.table import Item
from shared.shipping.events import ShippedLine
from shared.shipping.shipments import SHIPMENT_PREFIX, Shipment
from shared.stock.domain import Allocation


class InvalidCursor(ValueError):
    pass


def money(amount: int, currency: str) -> dict[str, Any]:
    return {"amount": amount, "currency": currency}


def list_row(item: Item) -> dict[str, Any]:
    return {
        "order_id": item["order_id"],
        "status": item["status"],
        "channel": item["channel"],
        "external_id": item["external_id"],
        "external_number": item.get("external_number"),
        "created_at": item["created_at"],
        "payment_method": item.get("payment_method"),
        "total": money(item["total"], item["currency"]),
    }


def payment_status(  # noqa: PLR0911 - one return per word, in order of precedence
    state: OrderState, payments: list[PaymentRecord], refunded: int = 0
) -> str:
    """One word for the order's money: refunded / partially_refunded (money went back), paid,
    partially_paid (split tender under way), received (money in, not applied yet: e.g. the
    order is backordered), authorized, pending, rejected, failed, unpaid, not_required."""
    paid = sum(p.amount.amount for p in payments if p.counts_toward_total)
    taken = sum(p.amount.amount for p in payments if p.status.paid)
    if refunded > 0:
        return "refunded" if refunded >= taken else "partially_refunded"
    if paid >= state.total.amount > 0 or any(
        p.decision == PaymentDecision.PAYS_ORDER for p in payments
    ):
        return "paid"
    if not state.payment_required:
        return "not_required"
    if paid > 0:
        return "partially_paid"
    if any(p.status.paid and p.decision is None for p in payments):
        return "received"
    if any(p.status is PaymentStatus.AUTHORIZED for p in payments):
        return "authorized"
    if any(p.status is PaymentStatus.PENDING for p in payments):
        return "pending"
    if any(p.decision is not None for p in payments):
        return "rejected"
    if payments and all(
        p.status in (PaymentStatus.FAILED, PaymentStatus.CANCELLED) for p in payments
    ):
        return "failed"
    return "unpaid"


def _payment_summary(
    state: OrderState, payments: list[PaymentRecord], refunds: list[Refund]
) -> dict[str, Any]:
    currency = state.total.currency
    paid = sum(p.amount.amount for p in payments if p.counts_toward_total)
    refunded = sum_refunded(refunds)
    methods = sorted({p.method for p in payments if p.method and p.status.paid})
    return {
        "status": payment_status(state, payments, refunded),
        "paid": money(paid, currency),
        "refunded": money(refunded, currency),
        # What a session would ask for: net of refunds drawn on payments before it was paid.
        "outstanding": money(max(left_to_pay(state.total.amount, payments), 0), currency),
        "method": methods[0] if len(methods) == 1 else (", ".join(methods) or None),
        "payments": [
            {
                "provider": p.provider,
                "payment_id": p.payment_id,
                "status": p.status.value,
                "amount": p.amount.model_dump(),
                "method": p.method,
                "decision": p.decision,
                "updated_at": p.updated_at,
                **({"failure_reason": p.failure_reason} if p.failure_reason else {}),
                **({"risk": p.risk.model_dump(exclude_none=True)} if p.risk else {}),
            }
            for p in payments
        ],
        "refunds": [r.view() for r in sorted(refunds, key=lambda r: r.created_at)],
    }


def order_view(items: list[Item], blobs: BlobStore | None = None) -> dict[str, Any] | None:
    by_sk = {item["SK"]: item for item in items}
    hot = by_sk.get(ORDER_SK)
    if hot is None:
        return None
    state = OrderState.from_item(hot)
    details = details_of(by_sk[DETAILS_SK], blobs) if DETAILS_SK in by_sk else None
    payments = [PaymentRecord.from_item(i) for i in items if i["SK"].startswith("PAYMENT#")]
    refunds = [Refund.from_item(i) for i in items if i["SK"].startswith("REFUND#")]
    timeline = [timeline_entry_of(i) for i in items if i["SK"].startswith("EVENT#")]
    shipments = sorted(
        (Shipment.from_item(i) for i in items if i["SK"].startswith(SHIPMENT_PREFIX)),
        key=lambda shipment: shipment.created_at,
    )
    return {
        "order_id": state.order_id,
        "status": state.status.value,
        "status_reason": state.status_reason,
        "channel": state.channel,
        "external_id": state.external_id,
        "external_number": state.external_number,
        "created_at": state.created_at,
        "received_at": state.received_at,
        "updated_at": state.updated_at,
        "version": state.version,
        "payment_method": state.payment_method.value,
        "lines": [line.model_dump(mode="json") for line in details.lines] if details else [],
        "buyer": details.buyer.model_dump(mode="json") if details else None,
        "delivery": details.delivery.model_dump(mode="json")
        if details and details.delivery
        else None,
        "totals": details.totals.model_dump(mode="json")
        if details
        else {"total": state.total.model_dump()},
        "note": details.note if details else None,
        "invoice_requested": details.invoice_requested if details else False,
        "billing_address": details.billing_address.model_dump(mode="json")
        if details and details.billing_address
        else None,
        "revision": state.revision,
        "payment": _payment_summary(state, payments, refunds),
        "shipments": [shipment.view() for shipment in shipments],
        "held": state.held,
        "attention": state.attention,
        "bank_transfer": {
            "due_date": state.transfer_due,
            "on_overdue": state.transfer_on_overdue,
            "reminded": state.transfer_reminded,
        }
        if state.transfer_due
        else None,
        "reservations": [r.model_dump() for r in state.reservations],
        "timeline": [
            {
                "version": entry.version,
                "type": entry.type.value,
                "at": utc_iso(entry.at),
                "status": entry.status,
                "actor": entry.actor,
                "detail": entry.event.model_dump(mode="json", exclude_none=True),
            }
            for entry in sorted(timeline, key=lambda e: e.version)
        ],
    }


def _fingerprint(filters: dict[str, Any]) -> str:
    canonical = json.dumps(filters, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode_cursor(last_key: dict[str, Any], filters: dict[str, Any]) -> str:
    """Opaque, bound to the filters it was issued for (reusing it with others is an error)."""
    payload = json.dumps({"k": last_key, "f": _fingerprint(filters)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, filters: dict[str, Any]) -> dict[str, Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        last_key = payload["k"]
        fingerprint = payload["f"]
    except (ValueError, KeyError, TypeError) as error:
        raise InvalidCursor("cursor is not one this API issued") from error
    if fingerprint != _fingerprint(filters) or not isinstance(last_key, dict):
        raise InvalidCursor("cursor belongs to a different query")
    for value in last_key.values():
        if not (isinstance(value, dict) and set(value) == {"S"} and isinstance(value["S"], str)):
            raise InvalidCursor("cursor is not one this API issued")
    return last_key


# Signed cursors: "<payload>.<HMAC-SHA256 of the payload>", both base64url. The payload alone
# (encode_cursor) binds the key to its filters; the signature, with a per-deployment secret key,
# makes every cursor one this API issued, so nothing a caller makes up reaches DynamoDB.
def sign_cursor(cursor: str, key: bytes) -> str:
    return f"{cursor}.{_mac(cursor, key)}"


def verify_cursor(signed: str, key: bytes) -> str:
    """The payload of a cursor this deployment signed; InvalidCursor for anything else."""
    cursor, dot, signature = signed.rpartition(".")
    if not dot or not hmac.compare_digest(
        signature.encode("utf-8", "replace"), _mac(cursor, key).encode()
    ):
        raise InvalidCursor("cursor is not one this API issued")
    return cursor


def issue_cursor(last_key: dict[str, Any], filters: dict[str, Any], key: bytes) -> str:
    return sign_cursor(encode_cursor(last_key, filters), key)


def read_cursor(signed: str, filters: dict[str, Any], key: bytes) -> dict[str, Any]:
    return decode_cursor(verify_cursor(signed, key), filters)


def _mac(cursor: str, key: bytes) -> str:
    digest = hmac.new(key, cursor.encode("utf-8", "replace"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


# -- what the views look like (the OpenAPI document's response schemas) ---------------------
class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class OrderRow(_View):
    order_id: str
    status: OrderStatus
    channel: str
    external_id: str
    external_number: str | None
    created_at: datetime = Field(description="The channel's order time, UTC.")
    payment_method: PaymentMethod | None
    total: Money


class OrderPage(_View):
    items: list[OrderRow]
    next_cursor: str | None = Field(
        description="Pass as `cursor` with the same filters for the next page; null at the end."
    )


class PaymentView(_View):
    provider: str
    payment_id: str
    status: PaymentStatus
    amount: Money
    method: str | None
    decision: PaymentDecision | None
    updated_at: datetime
    failure_reason: str | None = Field(default=None, description="Only when it failed.")
    risk: Risk | None = Field(default=None, description="The provider's fraud signal.")


class RefundPartSummary(_View):
    provider: str
    payment_id: str
    amount: int
    status: RefundStatus
    provider_refund_id: str | None = None
    failure_reason: str | None = None


class RefundSummary(_View):
    refund_id: str
    status: RefundStatus
    amount: int
    currency: str
    reason: str
    origin: Literal["orderhub", "provider"]
    created_at: datetime
    updated_at: datetime
    parts: list[RefundPartSummary]


class PaymentSummary(_View):
    status: Literal[
        "refunded",
        "partially_refunded",
        "paid",
        "partially_paid",
        "received",
        "authorized",
        "pending",
        "rejected",
        "failed",
        "unpaid",
        "not_required",
    ] = Field(description="One word for the order's money (see payment_status).")
    paid: Money = Field(description="What payments counting toward the total add up to.")
    refunded: Money = Field(description="What completed refunds gave back.")
    outstanding: Money = Field(description="What is left to pay.")
    method: str | None = Field(description="How it was paid (blik, card, ...), when known.")
    payments: list[PaymentView]
    refunds: list[RefundSummary]


class TimelineView(_View):
    version: int
    type: EventType
    at: datetime
    status: str
    actor: str
    detail: dict[str, Any]


class TotalOnly(_View):
    """The totals of an order whose details are not stored (yet)."""

    total: Money


class BankTransferTerms(_View):
    due_date: str = Field(description="Due by the end of this day, UTC.")
    on_overdue: Literal["cancel", "escalate"]
    reminded: bool


class ShipmentSummary(_View):
    shipment_id: str
    carrier: str
    tracking_number: str
    tracking_url: str | None
    lines: list[ShippedLine]
    complete: bool
    created_at: datetime
    channel_notified: bool
    channel_reference: str | None


class OrderView(_View):
    order_id: str
    status: OrderStatus
    status_reason: str | None
    channel: str
    external_id: str
    external_number: str | None
    created_at: datetime
    received_at: datetime
    updated_at: datetime
    version: int
    payment_method: PaymentMethod
    lines: list[OrderLine]
    buyer: Buyer | None
    delivery: Delivery | None
    totals: Totals | TotalOnly
    note: str | None = Field(description="The buyer's note to the shop, as the channel sent it.")
    invoice_requested: bool = Field(description="The buyer asked for a VAT invoice.")
    billing_address: Address | None
    revision: int = Field(description="The channel's revision of the order applied here.")
    payment: PaymentSummary
    shipments: list[ShipmentSummary] = Field(
        description="Its shipments, oldest first, and whether its channel was told."
    )
    held: str | None = Field(
        description="Why the order waits for a person: a high-risk payment (before it ships), "
        "or `unknown_sku: ...` (lines to map with PUT /api/v1/listings/..., then release)."
    )
    bank_transfer: BankTransferTerms | None = Field(
        description="On bank transfer: the due date and what happens when it passes."
    )
    attention: str | None = Field(description="Why a person must look at the order.")
    reservations: list[Allocation]
    timeline: list[TimelineView]
