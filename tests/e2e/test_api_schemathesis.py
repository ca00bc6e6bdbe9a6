"""Schemathesis against the embedded stack, from the committed docs/openapi.json: valid and
invalid requests for every operation; none may get a 5xx, and every answer must be one the
document describes (status, content type, body schema), with an API key required."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks
from schemathesis.core.parameters import ParameterLocation

from functions.api.openapi import DOCUMENT
from infra.local.stack import EmbeddedStack

pytestmark = pytest.mark.e2e

EXAMPLES_PER_OPERATION = 30
# Unexpected methods are tried too, but not TRACE or QUERY: the embedded gateway (Python's
# http.server) answers those itself with 501, before any route or function is involved.
CONFIG = {"phases": {"coverage": {"unexpected-methods": ["get", "put", "post", "delete", "patch"]}}}
schema = schemathesis.openapi.from_path(DOCUMENT, config=schemathesis.Config.from_dict(CONFIG))
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
    checks.ignored_auth,
]


@schema.auth()
class EmbeddedApiKey:
    """The embedded stack's API key, as schemathesis' auth (so it knows which requests are
    meant to lack it: ignored_auth sends those and expects 401)."""

    key = ""

    def get(self, case: Any, ctx: Any) -> str:
        return self.key

    def set(self, case: Any, data: str, ctx: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


def test_the_document_covers_every_api_route_deployed(embedded: EmbeddedStack) -> None:
    assert embedded.gateway is not None
    deployed = {
        f"{route.method} {route.path}"
        for route in embedded.gateway.routes
        if route.path.startswith("/api/")
    }
    documented = {
        f"{method.upper()} {path}"
        for path, methods in schema.raw_schema["paths"].items()
        for method in methods
    }
    assert documented == deployed


def checks_for(case: Any) -> list[Any]:
    """Every check, except that invalid data must be refused when schemathesis cannot send it
    as invalid: a query parameter whose value is an empty list is not sent at all."""
    meta = case.meta
    if meta is None:
        return CHECKS
    unsent = meta.is_negative_at(ParameterLocation.QUERY) and any(
        value == [] for value in (case.query or {}).values()
    )
    if unsent:
        return [check for check in CHECKS if check is not checks.negative_data_rejection]
    return CHECKS


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,  # the same examples on every run: a failure here is reproducible
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented(case: Any, embedded: EmbeddedStack) -> None:
    EmbeddedApiKey.key = embedded.api_key
    case.call_and_validate(base_url=embedded.url, checks=checks_for(case), timeout=20)
