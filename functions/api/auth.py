"""Bearer API keys with scopes, as route middleware. Lookups are cached briefly per container
(a revoked key stops working within CACHE_SECONDS)."""

from __future__ import annotations

import time
from collections.abc import Callable

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from functions.api.settings import table
from shared.http import HttpResponse, error_response
from shared.store.api_keys import ApiKey, ApiKeyRepository, hash_key

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


def require(scope: str) -> Callable[[APIGatewayHttpResolver, NextMiddleware], HttpResponse]:
    def check_api_key(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> HttpResponse:
        header = app.current_event.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return error_response(
                401, "unauthorized", "send Authorization: Bearer <api key>", headers=_CHALLENGE
            )
        key = _lookup(token.strip())
        if key is None:
            return error_response(
                401, "unauthorized", "the API key is not valid", headers=_CHALLENGE
            )
        if scope not in key.scopes:
            return error_response(403, "forbidden", f"the API key lacks the scope {scope}")
        app.append_context(api_key_name=key.name)
        return next_middleware(app)

    check_api_key.__name__ = f"require_{scope.replace(':', '_')}"
    return check_api_key
