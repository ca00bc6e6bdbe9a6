"""/api/v1/*: the management API (orders, stock) behind scoped API keys."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from functions.api import orders, stock
from shared.domain.errors import DomainError, InvalidStockLevel, OrderNotFound
from shared.http import HttpResponse, error_response
from shared.integrations.webhooks import validation_message
from shared.observability import logger
from shared.services.order_views import InvalidCursor

app = APIGatewayHttpResolver()
app.include_router(orders.router)
app.include_router(stock.router)


@app.exception_handler(ValidationError)
def invalid_request(error: ValidationError) -> HttpResponse:
    fields = [
        {"field": ".".join(str(p) for p in issue["loc"]) or "body", "problem": issue["msg"]}
        for issue in error.errors()
    ]
    return error_response(400, "invalid_request", validation_message(error), fields=fields)


@app.exception_handler(InvalidCursor)
def invalid_cursor(error: InvalidCursor) -> HttpResponse:
    return error_response(400, "invalid_cursor", str(error))


@app.exception_handler(ValueError)
def bad_value(error: ValueError) -> HttpResponse:
    return error_response(400, "invalid_request", str(error))


@app.exception_handler(OrderNotFound)
def order_not_found(error: OrderNotFound) -> HttpResponse:
    return error_response(404, error.code, str(error))


@app.exception_handler(InvalidStockLevel)
def invalid_stock(error: InvalidStockLevel) -> HttpResponse:
    return error_response(409, error.code, str(error))


@app.exception_handler(DomainError)
def domain_conflict(error: DomainError) -> HttpResponse:
    return error_response(409, error.code, str(error))


@app.not_found
def not_found(_: Any) -> HttpResponse:
    return error_response(404, "not_found", "no such resource")


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
