"""POST /api/v1/orders: the own store's checkout places an order (Idempotency-Key required).

It goes through the same intake as every channel (shared/channels/own_store.py maps the body
to the canonical order of channel `store`), synchronously: the answer is the stored order.
"""

from __future__ import annotations

import re
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Header
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from functions.api.contract import requires, responses
from functions.api.orders import InvalidParameter
from functions.api.settings import ApiSettings, blobs, platform
from shared.channels.own_store import (
    IdempotencyKeys,
    InvalidStoreOrder,
    OrderExists,
    OwnStore,
    StoreOrder,
)
from shared.kernel.errors import OrderNotFound
from shared.orders.views import OrderView, order_view
from shared.orders.wiring import order_intake, order_store
from shared.payments.wiring import payment_service
from shared.platform.http import HttpResponse, error_response, json_response
from shared.platform.wiring import on_aws

router = APIGatewayHttpRouter()
_PRINTABLE = re.compile(r"[\x20-\x7e]{1,255}")


# The stream router's default: how long a prepaid order waits for its payment.
def _own_store() -> OwnStore:
    settings = ApiSettings.load()
    platform = on_aws(settings.table_name, settings.documents_bucket, settings.state_machine_arn)
    intake = order_intake(
        platform,
        payment_service(platform, accept_test_payments=False),
        payment_window_seconds=settings.payment_window_seconds,
    )
    return OwnStore(intake=intake, keys=IdempotencyKeys(platform.table))


@router.exception_handler(OrderExists)
def order_exists(error: OrderExists) -> HttpResponse:
    return error_response(409, error.code, str(error), order_id=error.order_id)


@router.post(
    "/api/v1/orders",
    summary="Place an order of the own store (its checkout); answered with the stored order",
    description="The body is the order as `GET /api/v1/orders/{order_id}` shows it, less "
    "what orderhub assigns; amounts are integers in the currency's minor units and prices "
    "include VAT. The totals are computed (items + shipping; VAT from the gross prices per "
    "rate, half up). The same `Idempotency-Key` with the same body answers the same order "
    "again (its current state); keys are kept 30 days.",
    security=requires("orders:write"),
    responses=responses(
        OrderView,
        "The order, stored and started (`Location` names it)",
        400,
        401,
        403,
        409,
        415,
        success=201,
        s400="`invalid_request` (with `fields`): a refused field, or no `Idempotency-Key`",
        s409="`idempotency_key_reused`: the key was used for another body; `order_exists`: "
        "the store's `external_id` exists as another order (`order_id` names it)",
    ),
)
def place_store_order(
    body: Annotated[StoreOrder, Body()],
    idempotency_key: Annotated[
        str,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=255,
            # Checked in the handler, not by a pattern here: a value outside the pattern is
            # one a client cannot always send (HTTP refuses non-ASCII header bytes first).
            description="Required, 1-255 printable ASCII characters: the same key and body "
            "answer the same order, another body under the key is 409.",
        ),
    ],
) -> HttpResponse:
    if not _PRINTABLE.fullmatch(idempotency_key):
        raise InvalidParameter("Idempotency-Key", "must be 1-255 printable ASCII characters")
    try:
        order_id = _own_store().place(body, idempotency_key=idempotency_key)
    except InvalidStoreOrder as refused:
        raise InvalidParameter(refused.field, str(refused)) from refused
    view = order_view(order_store(platform()).partition(order_id), blobs())
    if view is None:  # pragma: no cover - place() returns only stored orders
        raise OrderNotFound(order_id)
    return json_response(201, view, headers={"Location": f"/api/v1/orders/{order_id}"})
