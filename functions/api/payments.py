"""Payments of an order: payment sessions for the own store, refunds, and releasing a hold.

POST /api/v1/orders/{order_id}/payment-session   201 {provider, session_id, redirect_url, ...}
POST /api/v1/orders/{order_id}/refunds           202 {refund_id, status, ...} (Idempotency-Key)
GET  /api/v1/orders/{order_id}/refunds           200 {items: [...]}
POST /api/v1/orders/{order_id}/release           200 the order, released from its hold
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, ConfigDict, Field

from functions.api.contract import requires, responses
from functions.api.orders import ORDER_ID_PATTERN
from functions.api.settings import ApiSettings, blobs, platform
from shared.fulfilment.service import HoldRelease
from shared.kernel.errors import OrderNotFound
from shared.orders.views import OrderView, RefundSummary, order_view
from shared.orders.wiring import order_store
from shared.payments.gateway import METHODS
from shared.payments.gateways import Gateways
from shared.payments.refunds import RefundService
from shared.payments.sessions import SessionService
from shared.payments.wiring import refund_service, session_service
from shared.platform.http import HttpResponse, json_response
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
        description="One of " + ", ".join(f"`{m}`" for m in sorted(METHODS)) + "; omitted: "
        "the provider's own choice screen. `pay_later` and `installments` are deferred payments.",
    )
    return_url: str = Field(
        min_length=1,
        max_length=2048,
        pattern=r"^https?://\S+$",
        description="Where the provider sends the buyer back.",
    )


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

    amount: int = Field(gt=0, le=10**12, description="Minor units (grosze, cents).")
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
    session = _sessions().open(
        order_id, provider=body.provider, method=body.method, return_url=body.return_url
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
    summary="Release an order held for review (a high-risk payment): it may ship",
    security=requires("payments:write"),
    responses=responses(OrderView, "The order, released", 400, 401, 403, 404, 415),
)
def release_hold(order_id: OrderId, body: Annotated[Release, Body()]) -> HttpResponse:
    settings = ApiSettings.load()
    base = platform()
    orders = order_store(base)
    HoldRelease(
        orders=orders,
        tokens=TaskTokens(base.table),
        workflow=StepFunctionsWorkflow(settings.state_machine_arn),
    ).release(order_id, actor="api", note=body.note)
    view = order_view(orders.partition(order_id), blobs())
    if view is None:
        raise OrderNotFound(order_id)
    return json_response(200, view)
