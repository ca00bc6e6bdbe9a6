"""PayU notifications: POST /webhooks/payments/payu, to the notifyUrl of each order.

Authenticity (PayU-EMEA/openpayu_php, OpenPayU::verifyDocumentSignature and Util): the header
`OpenPayu-Signature` (or `X-OpenPayU-Signature`; names case-insensitive) holds ';'-separated
key=value pairs, e.g. `sender=checkout;signature=<hex>;algorithm=MD5;content=DOCUMENT`, in any
order. signature = hex(hash(raw body + second key)), the hash named by `algorithm` as the SDK
reads it: MD5, SHA1, SHA256, SHA384, SHA512 in any letter case, or exactly "SHA-1", "SHA-256",
"SHA-384", "SHA-512" or "SHA" (= SHA-256); anything else is refused. There is no timestamp:
a replayed notification is a duplicate, and the dedupe key absorbs it.

Bodies (developers.payu.com, "Notifications"; samples in tests/fixtures/payu/):
- order: {"order": {orderId, extOrderId, merchantPosId, currencyCode, totalAmount, payMethod,
  status, ...}, "localReceiptDateTime", "properties": [{"name": "PAYMENT_ID", ...}]}; statuses
  PENDING, WAITING_FOR_CONFIRMATION (auto-receive is off: the merchant must capture), COMPLETED,
  CANCELED, and the legacy NEW and REJECTED. PayU repeats a status and sends no event id, so the
  dedupe key is "<orderId>:<status>". Every status is mapped; a late PENDING after COMPLETED is
  not dropped here: the payment reducer's rank keeps it from downgrading the record.
- refund: {"orderId", "extOrderId", "refund": {refundId, extRefundId, amount, currencyCode,
  status FINALIZED | CANCELED, statusDateTime, reason, reasonDescription}}; key
  "refund:<refundId>:<status>".

merchantPosId: the docs' sample names it "{Id punktu płatności (pos_id)}", the POS the order was
created on, which is the one orderhub sends (client.py). A notification signed with this POS's
second key but naming another POS is refused (401); the docs' placeholder (not a number) and
bodies without the field (refunds) are not checked.

Fraud: PayU documents no fraud signal in notifications (its antifraud refuses an order when it
is created: BUSINESS_ERROR "Order was rejected by antifraud system"; WAITING_FOR_CONFIRMATION
means auto-receive is off, not a fraud review), so `risk` stays None.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    StrictInt,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)

from shared.inbox.contract import (
    MalformedWebhook,
    ParsedWebhook,
    ProviderNotConfigured,
    SignatureMismatch,
    WebhookRequest,
    parse_json_model,
    validation_message,
)
from shared.kernel.time import UtcDatetime
from shared.payments.domain import PaymentEvent, PaymentStatus, RefundEvent, RefundStatus
from shared.payments.inbound import PaymentReported, RefundReported
from shared.payments.references import parse_merchant_reference
from shared.providers.payments.payu.amounts import UnrepresentableAmount, from_payu_amount

SOURCE = "payu"
SIGNATURE_HEADERS = ("OpenPayu-Signature", "X-OpenPayU-Signature")

# openpayu_php Util::toHashAlgorithm: these exact spellings are renamed, then the name is
# upper-cased and must be one of _HASHES (so "sha256" passes and "sha-256" does not).
_SDK_ALIASES = {
    "SHA": "SHA256",
    "SHA-1": "SHA1",
    "SHA-256": "SHA256",
    "SHA-384": "SHA384",
    "SHA-512": "SHA512",
}
_HASHES = {
    "MD5": "md5",
    "SHA1": "sha1",
    "SHA256": "sha256",
    "SHA384": "sha384",
    "SHA512": "sha512",
}


def hash_name(algorithm: str) -> str | None:
    """hashlib's name for a header's `algorithm`, or None when PayU's SDK would refuse it."""
    return _HASHES.get(_SDK_ALIASES.get(algorithm, algorithm).upper())


def compute_signature(raw_body: bytes, second_key: str, algorithm: str = "MD5") -> str:
    """hex(hash(body + second key)). MD5 and SHA-1 are PayU's choice, not ours (the key is
    a suffix, so the length-extension weakness of hash(key + message) does not apply)."""
    name = hash_name(algorithm)
    if name is None:
        raise ValueError(f"PayU signs with no algorithm called {algorithm!r}")
    return hashlib.new(name, raw_body + second_key.encode()).hexdigest()


def signature_header(raw_body: bytes, second_key: str, algorithm: str = "MD5") -> str:
    """The header as PayU sends it (the docs' example notification headers)."""
    signature = compute_signature(raw_body, second_key, algorithm)
    return f"sender=checkout;signature={signature};algorithm={algorithm};content=DOCUMENT"


def parse_signature_header(header: str) -> dict[str, str]:
    """openpayu_php Util::parseSignature: ';'-separated key=value pairs (a trailing ';' is
    fine, an item without exactly one '=' makes the header invalid). Keys are compared
    case-insensitively and blanks around items are tolerated."""
    pairs: dict[str, str] = {}
    for item in header.rstrip(";").split(";"):
        parts = item.split("=")
        if len(parts) != 2:
            raise SignatureMismatch("OpenPayu-Signature is not a list of key=value pairs")
        key, value = parts[0].strip().lower(), parts[1].strip()
        if key in pairs and key in ("signature", "algorithm"):
            raise SignatureMismatch(f"OpenPayu-Signature names {key} twice")
        pairs[key] = value
    return pairs


def verify_signature(raw_body: bytes, header: str, second_key: str) -> str:
    """Check one signature header against the body; returns the algorithm it used."""
    pairs = parse_signature_header(header)
    signature, algorithm = pairs.get("signature"), pairs.get("algorithm")
    if not signature or not algorithm:
        raise SignatureMismatch("OpenPayu-Signature has no signature or no algorithm")
    if hash_name(algorithm) is None:
        raise SignatureMismatch(f"OpenPayu-Signature algorithm {algorithm!r} is not PayU's")
    expected = compute_signature(raw_body, second_key, algorithm)
    if not hmac.compare_digest(expected.encode(), signature.lower().encode()):
        raise SignatureMismatch("the signature does not match the body and the second key")
    return algorithm


# -- the bodies -------------------------------------------------------------------------------


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


# PayU's ids are short ASCII ("LDLW5N7MF4140324GUEST000P01", "912128"); they become keys.
PayUId = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")]
# Status words are upper-case identifiers; anything else is not PayU's.
StatusWord = Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=r"^[A-Za-z_]+$")]
Text = Annotated[str, StringConstraints(max_length=1000)]


class PayUPayMethod(_Lenient):
    type: Text | None = None
    value: Text | None = None


class PayUOrder(_Lenient):
    """An order as notifications and the order retrieve API carry it."""

    orderId: PayUId
    extOrderId: Text | None = None
    currencyCode: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$")]
    totalAmount: StrictInt | str
    status: StatusWord
    payMethod: PayUPayMethod | None = None


class PayURefund(_Lenient):
    """A refund as its notification and the refund retrieve API carry it."""

    refundId: PayUId
    extRefundId: Text | None = None
    amount: StrictInt | str
    currencyCode: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$")]
    status: StatusWord
    statusDateTime: Any = None
    reason: Any = None
    reasonDescription: Any = None
    statusError: Any = None


class PayUNotification(_Lenient):
    order: PayUOrder | None = None
    localReceiptDateTime: Any = None  # read when it is a timestamp; never refuses a body
    orderId: PayUId | None = None
    extOrderId: Text | None = None
    refund: PayURefund | None = None


class _PosProbe(_Lenient):
    class _Order(_Lenient):
        merchantPosId: Any = None

    order: _Order | None = None


# -- mapping ------------------------------------------------------------------------------------

# (status, needs_capture) per PayU order status (docs "Payment Lifecycle"; NEW and REJECTED
# are the SDK's legacy OpenPayuOrderStatus values).
ORDER_STATUSES: dict[str, tuple[PaymentStatus, bool]] = {
    "NEW": (PaymentStatus.PENDING, False),
    "PENDING": (PaymentStatus.PENDING, False),
    "WAITING_FOR_CONFIRMATION": (PaymentStatus.AUTHORIZED, True),
    "COMPLETED": (PaymentStatus.SUCCEEDED, False),
    "CANCELED": (PaymentStatus.CANCELLED, False),
    "REJECTED": (PaymentStatus.CANCELLED, False),
}
REFUND_STATUSES: dict[str, RefundStatus] = {
    "PENDING": RefundStatus.PENDING,
    "FINALIZED": RefundStatus.COMPLETED,
    "CANCELED": RefundStatus.FAILED,
}

# payMethod values (developers.payu.com "Implementation Details"; the per-currency pay-later
# codes as PayU's own Magento and WooCommerce plugins send them).
INSTALLMENTS_VALUES = frozenset({"ai"})
PAY_LATER_VALUES = frozenset(
    {
        "dp",  # PayU | Pay later (older docs)
        "dpkl",
        "dpklczk",
        "dpklron",
        "dpkleur",
        "dpklhuf",  # Klarna
        "dpp",
        "dppron",  # PayPo
        "dpt",
        "dpcz",
        "dpts",  # Twisto, Twisto Pay in 3
        "ppf",  # PragmaPay
        "blikbnpl",  # BLIK Pay Later
    }
)
_VALUE_METHODS = {"blik": "blik", "c": "card", "jp": "apple_pay", "ap": "google_pay"}


_TYPE_METHODS = {
    "INSTALLMENTS": "installments",
    "BLIK_AUTHORIZATION_CODE": "blik",
    "BLIK_TOKEN": "blik",
    "CARD_TOKEN": "card",
    "PBL": "bank_link",
}


def method_of(pay_method: PayUPayMethod | None) -> str | None:
    """orderhub's word for a payMethod: PBL "blik" -> blik, other PBL -> bank_link,
    CARD_TOKEN -> card, INSTALLMENTS or "ai" -> installments, pay-later codes -> pay_later."""
    if pay_method is None:
        return None
    value = (pay_method.value or "").lower()
    if value in INSTALLMENTS_VALUES:
        return "installments"
    if value in PAY_LATER_VALUES:
        return "pay_later"
    return _VALUE_METHODS.get(value) or _TYPE_METHODS.get((pay_method.type or "").upper())


_STORABLE = TypeAdapter(UtcDatetime)


def moment(text: Any, fallback: datetime) -> datetime:
    """PayU's ISO timestamp with an offset ("2016-03-02T12:58:14.828+01:00"), or `fallback`
    when absent, without an offset or unstorable: a cosmetic field never refuses a payment."""
    if isinstance(text, str) and text:
        try:
            stored: datetime = _STORABLE.validate_python(datetime.fromisoformat(text))
        except (ValueError, ValidationError):
            return fallback
        return stored
    return fallback


def payment_from_order(
    order: PayUOrder,
    *,
    occurred_at: datetime,
    reference: str | None = None,
) -> PaymentEvent | str:
    """The canonical payment of a PayU order (a notification's, or the retrieve API's), or
    the reason it maps to none. `reference`: the merchant reference to assume when the order
    does not carry its extOrderId. Raises MalformedWebhook for values no payment can hold."""
    mapped = ORDER_STATUSES.get(order.status.upper())
    if mapped is None:
        return f"PayU order status {order.status} is not one orderhub knows"
    ext_order_id = order.extOrderId or reference
    if not ext_order_id:
        return "PayU order has no extOrderId: it was not opened by orderhub"
    status, needs_capture = mapped
    order_id, attempt = parse_merchant_reference(ext_order_id)
    provider_data = {"payu_order_id": order.orderId, "ext_order_id": ext_order_id}
    try:
        return PaymentEvent(
            provider=SOURCE,
            provider_event_id=f"{order.orderId}:{order.status}",
            payment_id=order.orderId,
            order_id=order_id,
            attempt=attempt,
            status=status,
            amount=from_payu_amount(order.totalAmount, order.currencyCode),
            method=method_of(order.payMethod),
            occurred_at=occurred_at,
            failure_reason=(
                f"PayU order {order.status}" if status is PaymentStatus.CANCELLED else None
            ),
            needs_capture=needs_capture,
            provider_data=provider_data,
        )
    except ValidationError as error:
        raise MalformedWebhook(validation_message(error)) from error
    except UnrepresentableAmount as error:
        raise MalformedWebhook(str(error)) from error


def refund_failure(refund: PayURefund) -> str:
    """Why PayU canceled a refund: its statusError, else the refund's reason."""
    error = refund.statusError if isinstance(refund.statusError, dict) else {}
    said = (error.get("description"), refund.reasonDescription, refund.reason)
    found = next((text for text in said if isinstance(text, str) and text.strip()), None)
    return (found or "PayU canceled the refund")[:500]


def refund_from_payu(
    refund: PayURefund,
    *,
    payu_order_id: str,
    ext_order_id: str | None,
    occurred_at: datetime,
    order_id: str | None = None,
    refund_id: str | None = None,
) -> RefundEvent | str:
    """The canonical refund of a PayU refund (notification or retrieve API), or the reason it
    maps to none. `order_id` and `refund_id`: orderhub's ids to assume when PayU echoes no
    extOrderId or extRefundId."""
    status = REFUND_STATUSES.get(refund.status.upper())
    if status is None:
        return f"PayU refund status {refund.status} is not one orderhub knows"
    if ext_order_id:
        order_id = parse_merchant_reference(ext_order_id)[0]
    failure = refund_failure(refund) if status is RefundStatus.FAILED else None
    try:
        return RefundEvent(
            provider=SOURCE,
            provider_event_id=f"refund:{refund.refundId}:{refund.status}",
            order_id=order_id,
            payment_id=payu_order_id,
            refund_id=refund.extRefundId or refund_id,
            provider_refund_id=refund.refundId,
            status=status,
            amount=from_payu_amount(refund.amount, refund.currencyCode),
            occurred_at=moment(refund.statusDateTime, occurred_at),
            failure_reason=failure,
        )
    except ValidationError as error:
        raise MalformedWebhook(validation_message(error)) from error
    except UnrepresentableAmount as error:
        raise MalformedWebhook(str(error)) from error


# -- the adapter --------------------------------------------------------------------------------


class PayUWebhooks:
    """Adapter for POST /webhooks/payments/payu."""

    source = SOURCE

    def verify(self, request: WebhookRequest, secrets: Mapping[str, Any]) -> None:
        second_key = str(secrets.get("second_key") or "")
        if not second_key:
            raise ProviderNotConfigured("payu is not configured: its secret has no second_key")
        headers = [
            request.headers.get(name, "").strip()
            for name in SIGNATURE_HEADERS
            if request.headers.get(name, "").strip()
        ]
        if not headers:
            raise SignatureMismatch("missing OpenPayu-Signature")
        failure: SignatureMismatch | None = None
        for header in headers:
            try:
                verify_signature(request.raw_body, header, second_key)
                break
            except SignatureMismatch as error:
                failure = failure or error
        else:
            assert failure is not None
            raise failure
        self._check_pos(request.raw_body, str(secrets.get("pos_id") or ""))

    @staticmethod
    def _check_pos(raw_body: bytes, pos_id: str) -> None:
        try:
            probe = _PosProbe.model_validate_json(raw_body)
        except ValidationError:
            return  # parse() says what is wrong with the body
        named = probe.order.merchantPosId if probe.order is not None else None
        if isinstance(named, int) and not isinstance(named, bool):
            named = str(named)
        real = isinstance(named, str) and re.fullmatch(r"[0-9]+", named) is not None
        if pos_id and real and named != pos_id:
            raise SignatureMismatch(f"notification for POS {named}, not this POS {pos_id}")

    def parse(self, request: WebhookRequest) -> ParsedWebhook:
        notification = parse_json_model(PayUNotification, request.raw_body)
        if notification.refund is not None:
            return self._refund(notification, request)
        if notification.order is not None:
            return self._order(notification, request)
        raise MalformedWebhook("a PayU notification carries an order or a refund")

    @staticmethod
    def _order(notification: PayUNotification, request: WebhookRequest) -> ParsedWebhook:
        order = notification.order
        assert order is not None
        event_id = f"{order.orderId}:{order.status}"
        audit = {"PayU-Notification": "order", "PayU-Status": order.status}
        payment = payment_from_order(
            order, occurred_at=moment(notification.localReceiptDateTime, request.received_at)
        )
        if isinstance(payment, str):
            return ParsedWebhook(
                event_id=event_id,
                topic=f"order.{order.status}",
                event=None,
                ignored_reason=payment,
                audit_headers=audit,
            )
        return ParsedWebhook(
            event_id=event_id,
            topic=f"order.{order.status}",
            event=PaymentReported(payment=payment),
            audit_headers=audit,
        )

    @staticmethod
    def _refund(notification: PayUNotification, request: WebhookRequest) -> ParsedWebhook:
        refund = notification.refund
        assert refund is not None
        if notification.orderId is None:
            raise MalformedWebhook("a PayU refund notification names its orderId")
        event_id = f"refund:{refund.refundId}:{refund.status}"
        audit = {"PayU-Notification": "refund", "PayU-Status": refund.status}
        mapped = refund_from_payu(
            refund,
            payu_order_id=notification.orderId,
            ext_order_id=notification.extOrderId,
            occurred_at=request.received_at,
        )
        if isinstance(mapped, str):
            return ParsedWebhook(
                event_id=event_id,
                topic=f"refund.{refund.status}",
                event=None,
                ignored_reason=mapped,
                audit_headers=audit,
            )
        return ParsedWebhook(
            event_id=event_id,
            topic=f"refund.{refund.status}",
            event=RefundReported(refund=mapped),
            audit_headers=audit,
        )
