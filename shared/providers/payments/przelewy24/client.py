"""Przelewy24's REST API v1 as a PaymentGateway: register, verify (the capture), refund and the
two lookups, with HTTP basic auth posId:apiKey.

Docs: developers.przelewy24.pl (the official OpenAPI, "Przelewy24 REST API Documentation"
1.0.16: paths /api/v1/transaction/register, /transaction/verify, /transaction/refund,
/transaction/by/sessionId/{sessionId}, /refund/by/orderId/{orderId}; errors
{"error": ..., "code": ...}). Hosts: https://sandbox.przelewy24.pl and
https://secure.przelewy24.pl; the buyer pays at {host}/trnRequest/{token}.

Idempotency. P24 has no idempotency key. A session's sessionId is `<order id>/<attempt>`,
unique per attempt ("Unique identifier from merchant's system"); P24 documents no answer for a
repeated one. When a register is refused (400), the gateway asks
GET transaction/by/sessionId: a paid attempt is reported as opened (the buyer goes back to the
shop: there is nothing left to pay at P24); an unpaid one cannot be resumed (P24 never hands a
token out twice), so the refusal stands and a new attempt is needed. A refund's requestId and
refundsUuid are orderhub's refund id: P24 answers a repeated requestId 400 "Request already
exists", which the gateway answers with the refund as P24 lists it. A repeated verify that P24
refuses is checked the same way: a transaction already verified (status 2) is paid.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from shared.payments.domain import PaymentEvent, PaymentStatus, RefundEvent, RefundStatus
from shared.payments.gateway import (
    CreatedSession,
    GatewayRejected,
    GatewayUnavailable,
    RefundAccepted,
    RefundLookup,
    RefundRequest,
    SessionLookup,
    SessionRequest,
    UnsupportedMethod,
    base_url,
    merchant_reference,
    raise_for_provider,
)
from shared.providers.payments.przelewy24.events import (
    ADVANCE_PAYMENT,
    BLIK_METHOD_ID,
    PAYMENT_MADE,
    PAYMENT_RETURNED,
    PROVIDER,
    listed_refund_status,
    payment_event,
    provider_data,
    refund_event,
    verified_event_id,
)
from shared.providers.payments.przelewy24.signing import register_sign, verify_sign

SANDBOX = "https://sandbox.przelewy24.pl"
PRODUCTION = "https://secure.przelewy24.pl"
REGISTER_PATH = "/api/v1/transaction/register"
VERIFY_PATH = "/api/v1/transaction/verify"
REFUND_PATH = "/api/v1/transaction/refund"

# register `channel` (TransactionRequestBody1): 4096 card, 64 only pay-by-link methods.
CARD_CHANNEL = 4096
PAY_BY_LINK_CHANNEL = 64
# register `language` (ISO 639-1 codes P24 lists).
LANGUAGES = frozenset(
    ("bg", "cs", "de", "en", "es", "fr", "hr", "hu", "it", "nl", "pl", "pt", "se", "sk", "ro")
)
# Documented maximum lengths (TransactionRequestBody1, TransactionRefundJsonRequestBody).
MAX_DESCRIPTION, MAX_CLIENT, MAX_PHONE = 1024, 40, 12
MAX_REFUNDS_UUID, MAX_REQUEST_ID, MAX_REFUND_DESCRIPTION = 35, 45, 35


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")


A = TypeVar("A", bound=_Answer)


class _Token(_Answer):
    token: str


class _Registered(_Answer):
    data: _Token


class _Verified(_Answer):
    class Status(_Answer):
        status: str

    data: Status


class _Transaction(_Answer):  # P24's field names
    orderId: int
    sessionId: str
    status: int
    amount: int
    currency: str = "PLN"
    paymentMethod: int | None = None


class _TransactionFound(_Answer):
    data: _Transaction


class _RefundResult(_Answer):
    status: bool
    message: str | None = None


class _RefundsCreated(_Answer):
    data: list[_RefundResult]


class _ListedRefund(_Answer):
    requestId: str | None = None  # empty for refunds made in P24's panel
    status: int
    amount: int


class _TransactionRefunds(_Answer):
    orderId: int
    sessionId: str
    currency: str = "PLN"
    refunds: list[_ListedRefund] = []


class _RefundsFound(_Answer):
    data: _TransactionRefunds


class Przelewy24Gateway:
    provider = PROVIDER
    methods = frozenset({"blik", "card", "bank_link"})

    def __init__(
        self,
        *,
        merchant_id: int,
        pos_id: int,
        crc: str,
        api_key: str,
        base_url: str,
        http: httpx.Client,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._merchant_id = merchant_id
        self._pos_id = pos_id
        self._crc = crc
        self._auth = (str(pos_id), api_key)
        self._base = base_url.rstrip("/")
        self._http = http
        self._now = now

    @classmethod
    def from_secret(cls, document: Mapping[str, Any], http: httpx.Client) -> Przelewy24Gateway:
        return cls(
            merchant_id=_number(document, "merchant_id"),
            pos_id=_number(document, "pos_id"),
            crc=str(document["crc"]),
            api_key=str(document["api_key"]),
            base_url=base_url(document, sandbox=SANDBOX, production=PRODUCTION),
            http=http,
        )

    # -- sessions ----------------------------------------------------------------------------
    def create_session(self, request: SessionRequest) -> CreatedSession:
        if request.method is not None and request.method not in self.methods:
            raise UnsupportedMethod(f"Przelewy24 does not offer {request.method!r}")
        if not request.buyer_email:
            raise GatewayRejected("Przelewy24 requires the buyer's e-mail", code="email_required")
        session_id = merchant_reference(request.order_id, request.attempt, per_attempt=True)
        amount, currency = request.amount.amount, request.amount.currency
        body: dict[str, Any] = {
            "merchantId": self._merchant_id,
            "posId": self._pos_id,
            "sessionId": session_id,
            "amount": amount,
            "currency": currency,
            "description": request.description[:MAX_DESCRIPTION],
            "email": request.buyer_email,
            "country": "PL",
            "language": request.language if request.language in LANGUAGES else "pl",
            "urlReturn": request.return_url,
            "urlStatus": request.notify_url,
            "sign": register_sign(
                session_id=session_id,
                merchant_id=self._merchant_id,
                amount=amount,
                currency=currency,
                crc=self._crc,
            ),
        }
        if request.buyer_name:
            body["client"] = request.buyer_name[:MAX_CLIENT]
        phone = re.sub(r"\D", "", request.buyer_phone or "")
        if 0 < len(phone) <= MAX_PHONE:
            body["phone"] = phone
        if request.method == "blik":
            body["method"] = BLIK_METHOD_ID
        elif request.method == "card":
            body["channel"] = CARD_CHANNEL
        elif request.method == "bank_link":
            body["channel"] = PAY_BY_LINK_CHANNEL
        what = "Przelewy24 transaction/register"
        response = self._call("POST", REGISTER_PATH, what, json=body, expect=(400,))
        if response.status_code == 400:
            return self._registered_before(request, session_id, response)
        token = _answer(_Registered, response, what).data.token
        if not token:
            raise GatewayUnavailable(f"{what}: the answer has no token")
        return CreatedSession(
            session_id=token,
            redirect_url=f"{self._base}/trnRequest/{quote(token, safe='')}",
            reference=session_id,
            provider_data={"session_id": session_id, "token": token},
        )

    def _registered_before(
        self, request: SessionRequest, session_id: str, refusal: httpx.Response
    ) -> CreatedSession:
        found = self._transaction(session_id)
        if found is not None and found.status in (ADVANCE_PAYMENT, PAYMENT_MADE, PAYMENT_RETURNED):
            # This attempt is paid already: nothing is left to pay at P24.
            return CreatedSession(
                session_id=session_id,
                redirect_url=request.return_url,
                reference=session_id,
                payment_id=str(found.orderId),
                provider_data=provider_data(found.orderId, session_id),
            )
        if found is not None:
            raise GatewayRejected(
                f"Przelewy24 already holds the unpaid session {session_id} and does not hand "
                "its token out again: open a new attempt",
                code="session_exists",
            )
        raise GatewayRejected(
            f"Przelewy24 transaction/register: HTTP 400 {refusal.text[:500]}", code="400"
        )

    def session_status(self, session: SessionLookup) -> PaymentEvent | None:
        session_id = session.provider_data.get("session_id") or session.reference
        found = self._transaction(session_id)
        if found is None or found.status not in (ADVANCE_PAYMENT, PAYMENT_MADE, PAYMENT_RETURNED):
            return None  # registered, nothing paid yet (P24 reports no failed payments)
        return self._payment(
            found, session_id, verified=found.status != ADVANCE_PAYMENT, what="lookup"
        )

    # -- capture (transaction/verify) --------------------------------------------------------
    def capture(self, payment: PaymentEvent) -> PaymentEvent | None:
        order_id = _order_id(payment.provider_data, payment.payment_id)
        session_id = payment.provider_data.get("session_id") or (
            merchant_reference(payment.order_id, payment.attempt, per_attempt=True)
            if payment.order_id and payment.attempt
            else None
        )
        if session_id is None:
            raise GatewayRejected("the payment has no Przelewy24 sessionId", code="no_session")
        amount, currency = payment.amount.amount, payment.amount.currency
        body = {
            "merchantId": self._merchant_id,
            "posId": self._pos_id,
            "sessionId": session_id,
            "amount": amount,
            "currency": currency,
            "orderId": order_id,
            "sign": verify_sign(
                session_id=session_id,
                order_id=order_id,
                amount=amount,
                currency=currency,
                crc=self._crc,
            ),
        }
        what = "Przelewy24 transaction/verify"
        response = self._call("PUT", VERIFY_PATH, what, json=body, expect=(400,))
        if response.status_code == 400:
            # A repeated verify: the transaction may be verified already.
            found = self._transaction(session_id)
            if found is None or found.orderId != order_id or found.status < PAYMENT_MADE:
                raise GatewayRejected(f"{what}: HTTP 400 {response.text[:500]}", code="400")
        elif _answer(_Verified, response, what).data.status != "success":
            raise GatewayUnavailable(f"{what}: unexpected answer {response.text[:200]}")
        return payment.model_copy(
            update={
                "provider_event_id": verified_event_id(order_id),
                "payment_id": str(order_id),
                "status": PaymentStatus.SUCCEEDED,
                "needs_capture": False,
                "occurred_at": self._now(),
                "provider_data": provider_data(order_id, session_id),
            }
        )

    # -- refunds -------------------------------------------------------------------------------
    def refund(self, request: RefundRequest) -> RefundAccepted:
        order_id = _order_id(request.provider_data, request.payment_id)
        session_id = request.provider_data.get("session_id")
        if not session_id:
            raise GatewayRejected("the payment has no Przelewy24 sessionId", code="no_session")
        if len(request.refund_id) > MAX_REFUNDS_UUID:
            raise GatewayRejected(
                f"refund id {request.refund_id!r} is longer than P24's refundsUuid "
                f"({MAX_REFUNDS_UUID} characters)",
                code="refund_id_too_long",
            )
        request_id = request.refund_id  # also the requestId: unique per refund, <= 45
        body = {
            "requestId": request_id,
            "refunds": [
                {
                    "orderId": order_id,
                    "sessionId": session_id,
                    "amount": request.amount.amount,
                    "description": request.reason[:MAX_REFUND_DESCRIPTION],
                }
            ],
            "refundsUuid": request.refund_id,
            "urlStatus": request.notify_url,
        }
        what = "Przelewy24 transaction/refund"
        response = self._call("POST", REFUND_PATH, what, json=body, expect=(400, 409))
        if response.status_code == 400:
            error = _error_text(response)
            if "already exists" in error.lower():
                known = self.refund_status(
                    RefundLookup(
                        refund_id=request.refund_id,
                        order_id=request.order_id,
                        payment_id=request.payment_id,
                        amount=request.amount,
                        provider_refund_id=request_id,
                        provider_data=request.provider_data,
                    )
                )
                status = known.status if known is not None else RefundStatus.PENDING
                return RefundAccepted(status=status, provider_refund_id=request_id)
            if "concurrent" in error.lower():
                raise GatewayUnavailable(f"{what}: {error}")
            raise GatewayRejected(f"{what}: HTTP 400 {error}", code="400")
        if response.status_code == 409:
            # Per refund: "Transaction not found", "... wrong status - cannot refund",
            # "Insufficient funds available", "The amount of refund exceeds ...".
            raise GatewayRejected(f"{what}: {_error_text(response)}", code="409")
        results = _answer(_RefundsCreated, response, what).data
        refused = [r for r in results if not r.status]
        if refused or not results:
            reason = "; ".join(r.message or "refused" for r in refused) or "no refund made"
            return RefundAccepted(
                status=RefundStatus.FAILED, provider_refund_id=request_id, failure_reason=reason
            )
        return RefundAccepted(status=RefundStatus.PENDING, provider_refund_id=request_id)

    def refund_status(self, refund: RefundLookup) -> RefundEvent | None:
        order_id = _order_id(refund.provider_data, refund.payment_id)
        what = "Przelewy24 refund/by/orderId"
        response = self._call("GET", f"/api/v1/refund/by/orderId/{order_id}", what, expect=(404,))
        if response.status_code == 404:
            return None
        found = _answer(_RefundsFound, response, what).data
        names = {refund.provider_refund_id, refund.refund_id} - {None, ""}
        listed = next((r for r in found.refunds if r.requestId in names), None)
        status = listed_refund_status(listed.status) if listed is not None else None
        if listed is None or status is None:
            return None
        try:
            return refund_event(
                order_id=order_id,
                session_id=refund.provider_data.get("session_id") or found.sessionId,
                refund_id=refund.refund_id,
                request_id=listed.requestId,
                status=status,
                amount=listed.amount,
                currency=found.currency,
                occurred_at=self._now(),
                failure_reason="refund rejected by Przelewy24"
                if status is RefundStatus.FAILED
                else None,
            )
        except ValidationError as error:
            raise GatewayUnavailable(f"{what}: unusable answer: {error}") from error

    # -- plumbing ------------------------------------------------------------------------------
    def _transaction(self, session_id: str) -> _Transaction | None:
        what = "Przelewy24 transaction/by/sessionId"
        path = f"/api/v1/transaction/by/sessionId/{quote(session_id, safe='')}"
        response = self._call("GET", path, what, expect=(404,))
        if response.status_code == 404:
            return None
        return _answer(_TransactionFound, response, what).data

    def _payment(
        self, found: _Transaction, session_id: str, *, verified: bool, what: str
    ) -> PaymentEvent:
        try:
            return payment_event(
                order_id=found.orderId,
                session_id=session_id,
                amount=found.amount,
                currency=found.currency,
                method_id=found.paymentMethod,
                verified=verified,
                occurred_at=self._now(),
            )
        except ValidationError as error:
            raise GatewayUnavailable(f"Przelewy24 {what}: unusable answer: {error}") from error

    def _call(
        self,
        method: str,
        path: str,
        what: str,
        *,
        json: Any = None,
        expect: tuple[int, ...] = (),
    ) -> httpx.Response:
        """One call under the shared error policy (gateway.send's), except the statuses in
        `expect`, which the caller reads (P24's refusals that mean something)."""
        try:
            response = self._http.request(method, f"{self._base}{path}", json=json, auth=self._auth)
        except httpx.HTTPError as error:
            raise GatewayUnavailable(f"{what}: {type(error).__name__}: {error}") from error
        if response.status_code not in expect:
            raise_for_provider(response, what)
        return response


def _number(document: Mapping[str, Any], name: str) -> int:
    value = str(document.get(name) or "").strip()
    if not value.isdigit():
        raise ValueError(f"the Przelewy24 secret's {name} must be a number, not {value!r}")
    return int(value)


def _order_id(data: Mapping[str, str], payment_id: str) -> int:
    value = data.get("p24_order_id") or payment_id
    if not value.isdigit():
        raise GatewayRejected(f"{value!r} is not a Przelewy24 orderId", code="no_order_id")
    return int(value)


def _answer(model: type[A], response: httpx.Response, what: str) -> A:
    try:
        return model.model_validate_json(response.content)
    except ValidationError as error:
        raise GatewayUnavailable(f"{what}: unexpected answer {response.text[:200]}") from error


def _error_text(response: httpx.Response) -> str:
    """P24's {"error": ..., "code": ...}: a message, or a list of per-refund results."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return response.text[:500]
    if isinstance(error, list):
        return "; ".join(
            str(item.get("message") if isinstance(item, dict) else item) for item in error
        )[:500]
    return str(error)[:500]
