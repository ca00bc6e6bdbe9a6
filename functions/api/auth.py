"""Bearer API keys with scopes, checked before the request is validated. Lookups are cached
briefly per container (a revoked key stops working within CACHE_SECONDS)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler.middlewares.openapi_validation import (
    OpenAPIRequestValidationMiddleware,
)
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from functions.api.contract import BEARER
from functions.api.settings import table
from shared.platform.api_keys import ApiKey, ApiKeyRepository, hash_key
from shared.platform.http import HttpResponse, error_response

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.api_gateway import Route
    from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
    from aws_lambda_powertools.event_handler.types import EventHandlerInstance

CACHE_SECONDS = 60
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="orderhub"'}
# Only valid keys are cached (a shop has a handful), so made-up tokens cannot grow it.
_cache: dict[str, tuple[ApiKey, float]] = {}


def _lookup(api_key: str) -> ApiKey | None:
    digest = hash_key(api_key)
    cached = _cache.get(digest)
    if cached is not None and cached[1] > time.monotonic():
        return cached[0]
    found = ApiKeyRepository(table()).find(api_key)
    if found is None:
        _cache.pop(digest, None)
        return None
    _cache[digest] = (found, time.monotonic() + CACHE_SECONDS)
    return found


def required_scopes(route: Route) -> list[str] | None:
    """The scopes the route's OpenAPI security requirement names; None: a public route."""
    if not route.security:
        return None
    return [scope for requirement in route.security for scope in requirement.get(BEARER, [])]


def authenticate(app: EventHandlerInstance, scopes: list[str]) -> HttpResponse | None:
    """None if the request carries a valid key with every scope, else the 401/403 to send."""
    header = app.current_event.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return error_response(
            401, "unauthorized", "send Authorization: Bearer <api key>", headers=_CHALLENGE
        )
    key = _lookup(token.strip())
    if key is None:
        return error_response(401, "unauthorized", "the API key is not valid", headers=_CHALLENGE)
    missing = [scope for scope in scopes if scope not in key.scopes]
    if missing:
        return error_response(403, "forbidden", f"the API key lacks the scope {missing[0]}")
    app.append_context(api_key_name=key.name)
    return None


class KeyThenValidate(OpenAPIRequestValidationMiddleware):
    """Powertools validates a request before any route middleware runs. Here the API key comes
    first, so a caller without one gets 401 and learns nothing about the parameters; then
    parameters the route does not declare are refused, then Powertools validates the rest
    (a body only as JSON)."""

    def handler(self, app: EventHandlerInstance, next_middleware: NextMiddleware) -> Any:
        route: Route = app.context["_route"]
        scopes = required_scopes(route)
        if scopes is not None:
            denied = authenticate(app, scopes)
            if denied is not None:
                return denied
        declared = {param.alias for param in route.dependant.query_params}
        unknown = sorted(set(app.current_event.query_string_parameters or {}) - declared)
        if unknown:
            raise RequestValidationError(
                [
                    {"type": "extra_forbidden", "loc": ("query", name), "msg": "unknown parameter"}
                    for name in unknown
                ]
            )
        return super().handler(app, next_middleware)

    def _get_body(self, app: EventHandlerInstance) -> Any:
        # JSON only (Powertools would also parse forms and multipart); no content type is JSON.
        content_type = app.current_event.headers.get("content-type", "")
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type not in ("", "application/json"):
            raise RequestUnsupportedContentType(
                "Unsupported content type",
                errors=[{"type": "unsupported_content_type", "loc": ("body",), "msg": media_type}],
            )
        return self._parse_json_data(app)

    def _parse_json_data(self, app: EventHandlerInstance) -> Any:
        try:
            return super()._parse_json_data(app)
        except UnicodeDecodeError as error:  # a base64 body that is not UTF-8
            raise RequestValidationError(
                [{"type": "json_invalid", "loc": ("body",), "msg": "the body is not UTF-8"}]
            ) from error
