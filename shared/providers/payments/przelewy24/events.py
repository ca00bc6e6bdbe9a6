"""How Przelewy24's words become orderhub's: payment method ids, transaction and refund
statuses, and event ids, shared by the notifications and the API lookups so that a notification
and a lookup of the same state deduplicate.

Payment method ids. P24's REST docs publish no id table (the ids come from
GET /api/v1/payment/methods/{lang} and differ per account); the ids below are the ones P24's
own WooCommerce plugin hard-codes (WC_P24\\Utilities\\Payment_Methods: BLIK_PAYMENT 181,
CARD_PAYMENT_ALT 147/218/220/241/242, GOOGLE_PAY_ALT 229/238/240/264/265, APPLE_PAY_ALT
232/239/252/253; mirrored at github.com/koncewicz-pl/woo-przelewy24) plus 154, BLIK on P24's
payment page (PPRO's Przelewy24 bank code table, docs developerhub.ppro.com/global-api/docs/
przelewy24). Every other id is a bank's pay-by-link or transfer.
"""

from __future__ import annotations

from datetime import datetime

from shared.kernel.money import Money
from shared.payments.domain import PaymentEvent, PaymentStatus, RefundEvent, RefundStatus
from shared.payments.references import parse_merchant_reference

PROVIDER = "przelewy24"

BLIK_METHOD_ID = 154  # BLIK on P24's page: what a session asking for BLIK sends as `method`
_METHODS: dict[int, str] = {
    **dict.fromkeys((154, 181), "blik"),
    **dict.fromkeys((147, 218, 220, 241, 242), "card"),
    **dict.fromkeys((229, 238, 240, 264, 265), "google_pay"),
    **dict.fromkeys((232, 239, 252, 253), "apple_pay"),
}

# Transaction status in GET /api/v1/transaction/by/sessionId (TransactionBySessionIdResponse):
# 0 no payment, 1 advance payment (paid, not verified), 2 payment made, 3 payment returned.
NO_PAYMENT, ADVANCE_PAYMENT, PAYMENT_MADE, PAYMENT_RETURNED = 0, 1, 2, 3

# Refund status in a refund notification (TransactionRefundResult): 0 completed, 1 rejected.
REFUND_DONE, REFUND_REJECTED = 0, 1
# ... and in GET /api/v1/refund/by/orderId (RefundsCollection): 1 completed, 2 pending,
# 3 awaiting P24's acceptance, 4 rejected.
_LISTED_REFUNDS: dict[int, RefundStatus] = {
    1: RefundStatus.COMPLETED,
    2: RefundStatus.PENDING,
    3: RefundStatus.PENDING,
    4: RefundStatus.FAILED,
}


def method_of(method_id: int | None) -> str | None:
    """orderhub's method for a P24 method id (0 or None: not paid yet, so not known)."""
    if not method_id:
        return None
    return _METHODS.get(method_id, "bank_link")


def notified_event_id(order_id: int) -> str:
    """P24 resends the same notification until the payment is verified: one key for all."""
    return f"{order_id}:notified"


def verified_event_id(order_id: int) -> str:
    return f"{order_id}:verified"


def refund_event_id(refund_reference: str, status: RefundStatus) -> str:
    """The refund notification's status (0 done, 1 rejected), or "pending" from a lookup."""
    word = {RefundStatus.COMPLETED: str(REFUND_DONE), RefundStatus.FAILED: str(REFUND_REJECTED)}
    return f"refund:{refund_reference}:{word.get(status, status.value)}"


def payment_event(
    *,
    order_id: int,
    session_id: str,
    amount: int,
    currency: str,
    method_id: int | None,
    verified: bool,
    occurred_at: datetime,
) -> PaymentEvent:
    """A P24 transaction as orderhub's payment. Unverified money is authorized and needs
    capture (transaction/verify): only a verified transaction is paid and settled.
    Raises pydantic's ValidationError for values no payment can hold."""
    orderhub_order, attempt = parse_merchant_reference(session_id)
    return PaymentEvent(
        provider=PROVIDER,
        provider_event_id=verified_event_id(order_id) if verified else notified_event_id(order_id),
        payment_id=str(order_id),
        order_id=orderhub_order,
        attempt=attempt,
        status=PaymentStatus.SUCCEEDED if verified else PaymentStatus.AUTHORIZED,
        amount=Money(amount=amount, currency=currency.upper()),
        method=method_of(method_id),
        occurred_at=occurred_at,
        needs_capture=not verified,
        provider_data=provider_data(order_id, session_id),
    )


def provider_data(order_id: int, session_id: str) -> dict[str, str]:
    """What transaction/verify, transaction/refund and the lookups need later."""
    return {"p24_order_id": str(order_id), "session_id": session_id}


def refund_event(
    *,
    order_id: int,
    session_id: str,
    refund_id: str | None,
    request_id: str | None,
    status: RefundStatus,
    amount: int,
    currency: str,
    occurred_at: datetime,
    failure_reason: str | None = None,
) -> RefundEvent:
    """Raises pydantic's ValidationError for values no refund can hold."""
    orderhub_order, _ = parse_merchant_reference(session_id)
    reference = refund_id or request_id or f"{order_id}-{int(occurred_at.timestamp())}"
    return RefundEvent(
        provider=PROVIDER,
        provider_event_id=refund_event_id(reference, status),
        order_id=orderhub_order,
        payment_id=str(order_id),
        refund_id=refund_id or None,
        provider_refund_id=request_id or None,
        status=status,
        amount=Money(amount=amount, currency=currency.upper()),
        occurred_at=occurred_at,
        failure_reason=failure_reason,
    )


def listed_refund_status(status: int) -> RefundStatus | None:
    return _LISTED_REFUNDS.get(status)
