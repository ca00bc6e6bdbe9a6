"""HTTP API (payload v2) responses of the management API (Powertools' resolver): JSON bodies and
JSON error bodies. The webhook functions answer without the resolver (shared/inbox/route.py)."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response

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
