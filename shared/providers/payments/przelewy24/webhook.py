"""Przelewy24 notifications: POST /webhooks/payments/przelewy24 (a transaction's or a refund's
`urlStatus`), JSON, authenticated by the `sign` field inside the body.

Docs (developers.przelewy24.pl; schemas TransactionResult and TransactionRefundResult, tags
Notification and RefundNotification):
- transaction notification {merchantId, posId, sessionId, amount, originAmount, currency,
  orderId, methodId, statement, sign}, sent only for correct payments; sign = SHA-384 of
  {"merchantId","posId","sessionId","amount","originAmount","currency","orderId","methodId",
  "statement","crc"}. The money is an advance payment until the merchant calls
  transaction/verify; until then P24 sends the same notification again after 3, 5, 15, 30, 60,
  150 and 450 minutes, so its dedupe key is the same each time.
- refund notification {orderId, sessionId, merchantId, requestId, refundsUuid, amount,
  currency, timestamp, status, sign}, status 0 completed, 1 rejected; sign over
  {"orderId","sessionId","refundsUuid","merchantId","amount","currency","status","crc"}.
The two kinds are told apart by their fields (a refund notification has refundsUuid). A
notification for another merchant or shop (merchantId, posId) is refused like a bad sign.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)

from shared.inbox.contract import (
    MalformedWebhook,
    ParsedWebhook,
    SignatureMismatch,
    WebhookRequest,
    validation_message,
)
from shared.payments.domain import RefundStatus
from shared.payments.inbound import PaymentReported, RefundReported
from shared.providers.payments.przelewy24.events import (
    PROVIDER,
    REFUND_DONE,
    payment_event,
    refund_event,
)
from shared.providers.payments.przelewy24.signing import (
    NOTIFICATION_FIELDS,
    REFUND_NOTIFICATION_FIELDS,
    SIGN_LENGTH,
    Unsignable,
    sign,
    signs_match,
)

SOURCE = PROVIDER
TRANSACTION_TOPIC = "transaction.notification"
REFUND_TOPIC = "refund.notification"

# orderId is P24's int64 transaction number (its docs warn it outgrows INT32); ids and amounts
# beyond these bounds are not P24's.
_INT64 = 2**63 - 1
_MAX_AMOUNT = 10**15
_LATEST_UNIX_TIME = 253402300799  # 9999-12-31T23:59:59Z

Id = Annotated[StrictInt, Field(ge=1, le=_INT64)]
Amount = Annotated[StrictInt, Field(ge=0, le=_MAX_AMOUNT)]
Currency = Annotated[StrictStr, StringConstraints(pattern=r"^[A-Za-z]{3}$")]
Sign = Annotated[StrictStr, StringConstraints(pattern=rf"^[0-9a-fA-F]{{{SIGN_LENGTH}}}$")]
# The ids that end up in event ids and DynamoDB keys: printable ASCII (empty: not given).
AsciiId = Annotated[StrictStr, StringConstraints(max_length=255, pattern=r"^[\x21-\x7e]*$")]


class _Notification(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


class TransactionNotification(_Notification):  # P24's field names
    merchantId: Id
    posId: Id
    sessionId: Annotated[StrictStr, StringConstraints(min_length=1, max_length=100)]
    amount: Amount
    originAmount: Amount
    currency: Currency
    orderId: Id
    methodId: Annotated[StrictInt, Field(ge=0, le=_INT64)]
    statement: Annotated[StrictStr, StringConstraints(max_length=1024)]
    sign: Sign


class RefundNotification(_Notification):
    orderId: Id
    sessionId: Annotated[StrictStr, StringConstraints(min_length=1, max_length=100)]
    merchantId: Id
    requestId: AsciiId = ""
    refundsUuid: AsciiId
    amount: Amount
    currency: Currency
    timestamp: Annotated[StrictInt, Field(ge=0, le=_LATEST_UNIX_TIME)]
    status: Annotated[StrictInt, Field(ge=0, le=1)]
    sign: Sign


Notification = TransactionNotification | RefundNotification

_OBJECT: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, Any])


def read_notification(raw_body: bytes) -> Notification:
    """The notification a body holds, by its fields; MalformedWebhook for anything else."""
    try:
        document = _OBJECT.validate_json(raw_body)
    except ValidationError as error:
        first = error.errors()[0]
        if first["type"] == "json_invalid":
            raise MalformedWebhook(f"body is not valid JSON: {first['msg']}") from error
        raise MalformedWebhook("body is not a JSON object") from error
    model: type[Notification] = (
        RefundNotification if "refundsUuid" in document else TransactionNotification
    )
    try:
        return model.model_validate(document)
    except ValidationError as error:
        raise MalformedWebhook(validation_message(error)) from error


def expected_sign(notification: Notification, crc: str) -> str:
    fields = (
        REFUND_NOTIFICATION_FIELDS
        if isinstance(notification, RefundNotification)
        else NOTIFICATION_FIELDS
    )
    values = notification.model_dump(include=set(fields))
    try:
        return sign(fields, values, crc)
    except Unsignable as error:
        raise MalformedWebhook(str(error)) from error


class Przelewy24Webhooks:
    """Adapter for POST /webhooks/payments/przelewy24."""

    source = SOURCE

    def verify(self, request: WebhookRequest, secrets: Mapping[str, Any]) -> None:
        notification = read_notification(request.raw_body)
        if not signs_match(expected_sign(notification, str(secrets["crc"])), notification.sign):
            raise SignatureMismatch("sign does not match the notification and the CRC key")
        # After the sign: a stranger learns nothing about our ids from the answer.
        if str(notification.merchantId) != str(secrets["merchant_id"]).strip():
            raise SignatureMismatch("the notification is for another merchant")
        if (
            isinstance(notification, TransactionNotification)
            and str(notification.posId) != str(secrets["pos_id"]).strip()
        ):
            raise SignatureMismatch("the notification is for another shop (posId)")

    def parse(self, request: WebhookRequest) -> ParsedWebhook:
        notification = read_notification(request.raw_body)
        try:
            if isinstance(notification, RefundNotification):
                return _refund(notification)
            return _transaction(notification, request.received_at)
        except ValidationError as error:
            raise MalformedWebhook(validation_message(error)) from error


def _audit(notification: Notification) -> dict[str, str]:
    return {"P24-Order-Id": str(notification.orderId), "P24-Session-Id": notification.sessionId}


def _transaction(notification: TransactionNotification, received_at: datetime) -> ParsedWebhook:
    payment = payment_event(
        order_id=notification.orderId,
        session_id=notification.sessionId,
        amount=notification.amount,
        currency=notification.currency,
        method_id=notification.methodId,
        verified=False,
        # A notification carries no time of its own: it is about the moment it arrived.
        occurred_at=received_at,
    )
    return ParsedWebhook(
        event_id=payment.provider_event_id,
        topic=TRANSACTION_TOPIC,
        event=PaymentReported(payment=payment),
        audit_headers=_audit(notification),
    )


def _refund(notification: RefundNotification) -> ParsedWebhook:
    done = notification.status == REFUND_DONE
    refund = refund_event(
        order_id=notification.orderId,
        session_id=notification.sessionId,
        refund_id=notification.refundsUuid or None,
        request_id=notification.requestId or None,
        status=RefundStatus.COMPLETED if done else RefundStatus.FAILED,
        amount=notification.amount,
        currency=notification.currency,
        occurred_at=datetime.fromtimestamp(notification.timestamp, tz=UTC),
        failure_reason=None if done else "refund rejected by Przelewy24",
    )
    return ParsedWebhook(
        event_id=refund.provider_event_id,
        topic=REFUND_TOPIC,
        event=RefundReported(refund=refund),
        audit_headers=_audit(notification),
    )
