"""HTTP API (payload v2) helpers shared by the webhook and API functions: JSON error bodies,
raw bodies, and the one place domain and webhook errors become status codes."""

from __future__ import annotations

import base64
import json
from typing import Any

from aws_lambda_powertools.event_handler import Response

from shared.inbox.contract import Headers

JSON = "application/json"
HttpResponse = Response[str]


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> HttpResponse:
    return Response(
        status_code=status,
        content_type=JSON,
        body=json.dumps(body, separators=(",", ":"), default=str),
        headers=headers,
    )


def error_response(
    status: int, code: str, message: str, *, headers: dict[str, str] | None = None, **details: Any
) -> HttpResponse:
    """Every 4xx/5xx body: {"error": {"code": ..., "message": ..., ...details}}."""
    return json_response(
        status, {"error": {"code": code, "message": message, **details}}, headers=headers
    )


def raw_body(event: dict[str, Any]) -> bytes:
    """The exact bytes the client sent: signatures are computed over these, not over JSON."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(body)
    return body.encode("utf-8")


def headers_of(event: dict[str, Any]) -> Headers:
    return Headers(event.get("headers"))
