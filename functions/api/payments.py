"""Payments of an order: payment sessions for the own store, refunds, and releasing a hold.

POST /api/v1/orders/{order_id}/payment-session   201 {provider, session_id, redirect_url, ...}
POST /api/v1/orders/{order_id}/refunds           202 {refund_id, status, ...} (Idempotency-Key)
GET  /api/v1/orders/{order_id}/refunds           200 {items: [...]}
POST /api/v1/orders/{order_id}/release           200 the order, released from its hold
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, ConfigDict, Field

from functions.api import orders
from functions.api.contract import requires, responses
from functions.api.orders import ORDER_ID_PATTERN
from functions.api.settings import ApiSettings, blobs, platform
from shared.fulfilment.service import HoldRelease
from shared.kernel.errors import OrderNotFound
from shared.kernel.money import Money
from shared.orders.views import OrderView, RefundSummary, order_view
from shared.orders.wiring import order_store, sku_resolver
from shared.payments.gateway import METHODS
from shared.payments.gateways import Gateways
from shared.payments.refunds import RefundService
from shared.payments.service import PaymentOutcome
from shared.payments.sessions import SessionService
from shared.payments.store import PaymentRecords, left_to_pay
from shared.payments.transfers import (
    PROVIDER as TRANSFER,
)
from shared.payments.transfers import (
    BankTransfers,
    OnOverdue,
    record_transfer,
    transfer_reference,
)
from shared.payments.wiring import payment_service, refund_service, session_service
from shared.platform.clock import utc_now
from shared.platform.http import HttpResponse, json_response
from shared.platform.wiring import Platform
from shared.platform.workflow import StepFunctionsWorkflow, TaskTokens

router = APIGatewayHttpRouter()
OrderId = Annotated[str, Path(pattern=ORDER_ID_PATTERN, description="e.g. `ord_01M8...`")]


class OpenSession(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: str = Field(
        pattern=r"^[a-z0-9_]{1,32}$", description="`stripe`, `payu`, `przelewy24` or `paypal`."
    )
    method: str | None = Field(
        default=None,
        max_length=32,
        pattern=r"^[a-z_]{1,32}$",
        description="One of " + ", ".join(f"`{m}`" for m in sorted(METHODS)) + "; omitted: "
        "the provider's own choice screen. `pay_later` and `installments` are deferred payments.",
    )
    return_url: str = Field(
        min_length=1,
        max_length=1024,
        pattern=r"^https?://[\x21-\x7e]+$",
        description="Where the provider sends the buyer back.",
    )
    amount: int | None = Field(
        default=None,
        gt=0,
        le=10**12,
        strict=True,
        description="Minor units: a part of the total (split tender); omitted: all that is "
        "left to pay.",
    )
    due_date: date | None = Field(
        default=None,
        description="With `provider: bank_transfer` only: the transfer is due by the end of "
        "this day (UTC).",
    )
    on_overdue: OnOverdue = Field(
        default=OnOverdue.ESCALATE,
        description="With `bank_transfer`: once the due date has passed, `cancel` the order "
        "or `escalate` it to a person.",
    )


class PlaceOnTransfer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    due_date: date = Field(description="Due by the end of this day (UTC), within 180 days.")
    on_overdue: OnOverdue = Field(
        default=OnOverdue.ESCALATE,
        description="Once the due date has passed: `cancel` the order, or `escalate` it to a "
        "person (the order is flagged and its workflow ends with an alarm).",
    )
    remind_days_before: int = Field(
        default=3, ge=0, le=60, description="When the buyer is reminded (PaymentReminderDue)."
    )


class TransferView(BaseModel):
    order_id: str
    status: str
    due_date: str
    on_overdue: str
    reference: str = Field(description="The title the buyer writes on the transfer.")
    amount: int = Field(description="What is left to pay, in minor units.")
    currency: str


class RecordTransfer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: int = Field(
        gt=0, le=10**12, strict=True, description="Minor units, as the statement shows."
    )
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    reference: str = Field(
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$",
        description="The bank's id of the statement line (the same line twice is one payment).",
    )
    received_at: datetime | None = Field(default=None, description="Booking time; default now.")


class SessionView(BaseModel):
    provider: str
    session_id: str
    redirect_url: str
    attempt: int
    reference: str = Field(description="The merchant reference the provider carries back.")
    amount: int = Field(description="What the session asks for, in minor units.")
    currency: str
    method: str | None = None


class AskRefund(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: int = Field(gt=0, le=10**12, strict=True, description="Minor units (grosze, cents).")
    reason: str = Field(default="", max_length=500)
    payment_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="The provider's payment id to refund; omitted: the order's payments, "
        "newest first.",
    )


class RefundList(BaseModel):
    items: list[RefundSummary]


class Release(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=500, description="What the review found.")


@lru_cache(maxsize=4)
def _gateways(secret_ids: str) -> Gateways:
    return Gateways.from_json(secret_ids)


def _sessions() -> SessionService:
    settings = ApiSettings.load()
    return session_service(platform(), _gateways(settings.payment_secret_ids), settings.public_url)


def _refunds() -> RefundService:
    settings = ApiSettings.load()
    return refund_service(platform(), _gateways(settings.payment_secret_ids), settings.public_url)


@router.post(
    "/api/v1/orders/<order_id>/payment-session",
    summary="Open a payment at a provider for what is left to pay (own store checkout)",
    security=requires("payments:write"),
    responses=responses(
        SessionView,
        "The session: send the buyer to `redirect_url`",
        400,
        401,
        403,
        404,
        409,
        415,
        502,
        success=201,
        s409="`not_payable`: the order is paid, cancelled or cash on delivery",
    ),
)
def open_payment_session(order_id: OrderId, body: Annotated[OpenSession, Body()]) -> HttpResponse:
    if body.provider == TRANSFER:
        if body.due_date is None:
            raise orders.InvalidParameter("due_date", "a bank transfer needs a due_date")
        placed = _place_on_transfer(
            order_id, PlaceOnTransfer(due_date=body.due_date, on_overdue=body.on_overdue)
        )
        return json_response(
            201,
            {
                "provider": TRANSFER,
                "session_id": placed["reference"],
                "redirect_url": body.return_url,
                **placed,
            },
        )
    session = _sessions().open(
        order_id,
        provider=body.provider,
        method=body.method,
        return_url=body.return_url,
        amount=body.amount,
    )
    assert session.session_id is not None
    assert session.redirect_url is not None
    assert session.reference is not None
    view = SessionView(
        provider=session.provider,
        session_id=session.session_id,
        redirect_url=session.redirect_url,
        attempt=session.attempt,
        reference=session.reference,
        amount=session.amount.amount,
        currency=session.amount.currency,
        method=session.method,
    )
    return json_response(201, view.model_dump(mode="json"))


@router.post(
    "/api/v1/orders/<order_id>/refunds",
    summary="Refund money through the provider that took it",
    security=requires("payments:write"),
    responses=responses(
        RefundSummary,
        "The refund, accepted; its status follows the provider's notification",
        400,
        401,
        403,
        404,
        409,
        415,
        success=202,
        s409="`refund_exceeds_paid`: more than is left to refund; `idempotency_key_reused`: "
        "the key was used for another request",
    ),
)
def ask_refund(
    order_id: OrderId,
    body: Annotated[AskRefund, Body()],
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=255,
            description="The same key and body: the same refund, answered again.",
        ),
    ] = None,
) -> HttpResponse:
    refund, _ = _refunds().request(
        order_id,
        amount=body.amount,
        reason=body.reason,
        payment_id=body.payment_id,
        idempotency_key=idempotency_key,
    )
    return json_response(202, refund.view())


@router.get(
    "/api/v1/orders/<order_id>/refunds",
    summary="An order's refunds, oldest first",
    security=requires("orders:read"),
    responses=responses(RefundList, "The refunds", 400, 401, 403, 404),
)
def list_refunds(order_id: OrderId) -> HttpResponse:
    service = _refunds()
    if service.orders.get(order_id) is None:
        raise OrderNotFound(order_id)
    refunds = sorted(service.refunds.of_order(order_id), key=lambda r: r.created_at)
    return json_response(200, {"items": [r.view() for r in refunds]})


@router.post(
    "/api/v1/orders/<order_id>/release",
    summary="Release a held order: reviewed (a high-risk payment), or its unknown lines "
    "mapped (PUT /api/v1/listings/...); 409 unmapped_lines while a line still maps to nothing",
    security=requires("payments:write"),
    responses=responses(OrderView, "The order, released", 400, 401, 403, 404, 409, 415),
)
def release_hold(order_id: OrderId, body: Annotated[Release, Body()]) -> HttpResponse:
    settings = ApiSettings.load()
    base = platform()
    orders = order_store(base)
    HoldRelease(
        orders=orders,
        tokens=TaskTokens(base.table),
        workflow=StepFunctionsWorkflow(settings.state_machine_arn),
        resolver=sku_resolver(base),
    ).release(order_id, actor="api", note=body.note)
    view = order_view(orders.partition(order_id), blobs())
    if view is None:
        raise OrderNotFound(order_id)
    return json_response(200, view)


def _place_on_transfer(order_id: str, body: PlaceOnTransfer) -> dict[str, object]:
    base = platform()
    state = BankTransfers(orders=order_store(base), records=PaymentRecords(base.table)).place(
        order_id,
        due_date=body.due_date,
        on_overdue=body.on_overdue,
        remind_days_before=body.remind_days_before,
        actor="api",
    )
    left = left_to_pay(state.total.amount, PaymentRecords(base.table).of_order(order_id))
    return TransferView(
        order_id=order_id,
        status=state.status.value,
        due_date=state.transfer_due or body.due_date.isoformat(),
        on_overdue=state.transfer_on_overdue or body.on_overdue.value,
        reference=transfer_reference(state),
        amount=max(left, 0),
        currency=state.total.currency,
    ).model_dump(mode="json")


@router.post(
    "/api/v1/orders/<order_id>/bank-transfer",
    summary="Place a waiting order on bank transfer with a due date (B2B terms)",
    security=requires("payments:write"),
    responses=responses(
        TransferView,
        "The order, now awaiting_transfer",
        400,
        401,
        403,
        404,
        409,
        415,
        success=201,
        s409="`not_payable`: the order is not waiting for its payment, or the date is not "
        "acceptable",
    ),
)
def place_on_transfer(order_id: OrderId, body: Annotated[PlaceOnTransfer, Body()]) -> HttpResponse:
    return json_response(201, _place_on_transfer(order_id, body))


@router.post(
    "/api/v1/orders/<order_id>/payments",
    summary="Record a bank transfer the statement shows; it pays the order like any payment",
    security=requires("payments:write"),
    responses=responses(OrderView, "The order after the payment", 400, 401, 403, 404, 415),
)
def record_bank_transfer(
    order_id: OrderId, body: Annotated[RecordTransfer, Body()]
) -> HttpResponse:
    settings = ApiSettings.load()
    base = platform()
    if order_store(base).get(order_id) is None:
        raise OrderNotFound(order_id)  # never parked: a transfer names an order that exists
    workflows = Platform(
        table=base.table,
        blobs=base.blobs,
        workflows=StepFunctionsWorkflow(settings.state_machine_arn),
    )
    report = record_transfer(
        payment_service(workflows, accept_test_payments=False),
        order_id,
        amount=Money(amount=body.amount, currency=body.currency),
        reference=body.reference,
        received_at=body.received_at or utc_now(),
        actor="api",
    )
    if report.outcome is PaymentOutcome.UNKNOWN_ORDER:
        raise OrderNotFound(order_id)
    view = order_view(order_store(base).partition(order_id), blobs())
    if view is None:
        raise OrderNotFound(order_id)
    return json_response(201, view)
