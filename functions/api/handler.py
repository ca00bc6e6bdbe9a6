"""/api/v1/*: the management API (orders, stock) behind scoped API keys.

Routes declare their parameters, body, responses and scope; Powertools validates requests
against those declarations and generates docs/openapi.json from them (functions.api.openapi).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.api import listings, orders, payments, shipments, stock, store_orders
from functions.api.auth import KeyThenValidate
from functions.api.settings import ApiSettings
from shared.kernel.errors import DomainError, InvalidStockLevel, OrderNotFound
from shared.orders.views import InvalidCursor
from shared.payments.gateway import GatewayError, UnsupportedMethod
from shared.payments.gateways import UnknownPaymentProvider
from shared.platform.http import HttpResponse, error_response
from shared.platform.observability import logger

_LOCATIONS = {"query", "path", "body", "header"}


def parse_json(document: str) -> Any:
    """The request body parser: every refusal (nested too deep, a number too long to convert)
    is a JSONDecodeError, which Powertools reports as a validation error, never a 500."""
    try:
        return json.loads(document)
    except json.JSONDecodeError:
        raise
    except (ValueError, RecursionError) as error:
        raise json.JSONDecodeError(f"not acceptable JSON ({error})", document, 0) from error


app = APIGatewayHttpResolver(enable_validation=True, json_body_deserializer=parse_json)
# Powertools validates before route middlewares; the API key must be checked first.
app._request_validation_middleware = KeyThenValidate()
app.include_router(orders.router)
app.include_router(stock.router)
app.include_router(payments.router)
app.include_router(store_orders.router)
app.include_router(shipments.router)
app.include_router(listings.router)


def _field(issue: Mapping[str, Any]) -> str:
    """The loc without Powertools' query/body/path prefix (`limit`, `on_hand`, `sku`), or
    `body` for the body as a whole (an invalid JSON error's loc carries the position)."""
    where = [] if issue.get("type") == "json_invalid" else [str(p) for p in issue.get("loc", ())]
    if where and where[0] in _LOCATIONS:
        where = where[1:] or where[:1]
    return ".".join(where) or "body"


def _problem(issue: Mapping[str, Any]) -> str:
    if issue.get("type") == "json_invalid":
        detail = (issue.get("ctx") or {}).get("error")
        return f"Invalid JSON: {detail}" if detail else str(issue.get("msg", "Invalid JSON"))
    return str(issue.get("msg", "invalid"))


def _invalid(issues: Sequence[Mapping[str, Any]]) -> HttpResponse:
    fields = [{"field": _field(issue), "problem": _problem(issue)} for issue in issues]
    message = "; ".join(f"{f['field']}: {f['problem']}" for f in fields[:5])
    return error_response(400, "invalid_request", message, fields=fields)


@app.exception_handler(RequestValidationError)
def invalid_request(error: RequestValidationError) -> HttpResponse:
    return _invalid(error.errors())


@app.exception_handler(orders.InvalidParameter)
def invalid_parameter(error: orders.InvalidParameter) -> HttpResponse:
    return _invalid([{"loc": (error.field,), "msg": str(error)}])


@app.exception_handler(RequestUnsupportedContentType)
def unsupported_media_type(_: RequestUnsupportedContentType) -> HttpResponse:
    return error_response(415, "unsupported_media_type", "send the body as application/json")


@app.exception_handler(InvalidCursor)
def invalid_cursor(error: InvalidCursor) -> HttpResponse:
    return error_response(400, "invalid_cursor", str(error))


@app.exception_handler(OrderNotFound)
def order_not_found(error: OrderNotFound) -> HttpResponse:
    return error_response(404, error.code, str(error))


@app.exception_handler(InvalidStockLevel)
def invalid_stock(error: InvalidStockLevel) -> HttpResponse:
    return error_response(409, error.code, str(error))


@app.exception_handler(UnsupportedMethod)
def unsupported_method(error: UnsupportedMethod) -> HttpResponse:
    return _invalid([{"loc": ("method",), "msg": str(error)}])


@app.exception_handler(UnknownPaymentProvider)
def unknown_provider(error: UnknownPaymentProvider) -> HttpResponse:
    return _invalid([{"loc": ("provider",), "msg": str(error)}])


@app.exception_handler(GatewayError)
def provider_error(error: GatewayError) -> HttpResponse:
    # The provider's own words help the integrator (they name no buyer data we sent).
    logger.warning("payment provider call failed", extra={"error": str(error)[:300]})
    return error_response(502, "provider_error", str(error)[:500])


@app.exception_handler(DomainError)
def domain_conflict(error: DomainError) -> HttpResponse:
    return error_response(409, error.code, str(error))


# A deployed route whose path parameter holds characters no route pattern accepts (the HTTP
# API decodes "%0F" before the function sees it): a bad parameter, not a missing route.
_PARAMETER_ROUTES = re.compile(r"\A/api/v1/(?:orders|stock|listings)/.+\Z", re.DOTALL)


@app.not_found
def not_found(_: Any) -> HttpResponse:
    if _PARAMETER_ROUTES.match(app.current_event.path):
        return error_response(
            400, "invalid_request", "the path parameter holds characters it may not contain"
        )
    return error_response(404, "not_found", "no such resource")


# What this function reads from its environment (tests/infra/test_settings_env.py holds the
# template to it).
SETTINGS = ApiSettings


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
