"""One route per provider webhook: authenticity first (rejects before anything is parsed or
stored), then one inbox write. Errors become JSON bodies in one place.

A webhook function serves exactly one route, so it does not use Powertools' HTTP resolver:
importing `aws_lambda_powertools.event_handler` costs about 100 ms of cold start (its package
`__init__` loads every resolver) and routing one path through it about 25 us a request. What
the resolver gave us is kept here: the signature check runs before the handler body, every
refusal is a JSON error body, other paths are 404 and other methods 405, and the responses are
API Gateway HTTP API (payload 2.0) responses of the same shape.

The acknowledgement is the path a provider waits for, so what it does besides the floor (the
signature, the provider's model, one PutItem) is kept small (docs/decisions.md 63): the
Lambda context goes onto the lines that are logged (a refusal, a duplicate) instead of being
bound to the Logger on every invocation, and the one count per invocation is one EMF line from
a template (shared/platform/emf.py) instead of a Powertools metric set.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from shared import registry
from shared.inbox.contract import Headers, WebhookAdapter, WebhookRejected, WebhookRequest
from shared.inbox.service import Receipt, authenticate, record
from shared.inbox.store import InboxRepository
from shared.inbox.wiring import inbox_repository
from shared.platform.clock import utc_now
from shared.platform.emf import emit_count
from shared.platform.observability import logger
from shared.platform.secrets import provider_secret
from shared.platform.settings import Settings
from shared.registry import Provider

JSON_HEADERS = {"Content-Type": "application/json"}
LambdaResponse = dict[str, Any]


class WebhookSettings(Settings):
    provider: str  # the registry entry this function serves
    secret_id: str  # its secret's ARN (Secrets Manager)
    table_name: str
    documents_bucket: str
    inbox_retention_days: int = 90


def response(status: int, body: Any, headers: dict[str, str] | None = None) -> LambdaResponse:
    """An HTTP API (payload 2.0) response with a compact JSON body."""
    return {
        "statusCode": status,
        "body": json.dumps(body, separators=(",", ":"), default=str),
        "isBase64Encoded": False,
        "headers": {**JSON_HEADERS, **headers} if headers else JSON_HEADERS.copy(),
        "cookies": [],
    }


def error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> LambdaResponse:
    """Every refusal: {"error": {"code": ..., "message": ...}} (as http.error_response)."""
    return response(status, {"error": {"code": code, "message": message}}, headers)


def webhook_request(event: dict[str, Any]) -> WebhookRequest:
    """The headers and the exact bytes the provider sent: signatures are over these bytes."""
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    return WebhookRequest(Headers(event.get("headers")), raw, received_at=utc_now())


class WebhookRoute:
    """POST `provider.path`: verify the signature, then store the delivery once."""

    def __init__(self, provider: Provider, adapter: WebhookAdapter) -> None:
        if provider.path is None:
            raise ValueError(f"{provider.name} has no webhook route")
        self.provider = provider
        self.path = provider.path
        self.adapter = adapter

    def handle(
        self,
        event: dict[str, Any],
        settings: WebhookSettings | None = None,
        context: Any = None,
    ) -> LambdaResponse:
        cold_start = first_invocation()
        path = event.get("rawPath") or event.get("path") or ""
        if path != self.path:
            return error(404, "not_found", "no webhook is served at this path")
        method = event.get("requestContext", {}).get("http", {}).get("method", "")
        if method != "POST":
            return error(
                405, "method_not_allowed", f"{path} accepts POST only", headers={"Allow": "POST"}
            )
        try:
            request = webhook_request(event)
            current = settings or WebhookSettings.load()
            self.verify_signature(request, current)
            return self.receive(request, current, lambda: lambda_fields(context, cold_start))
        except WebhookRejected as rejected:
            logger.warning(
                "webhook rejected",
                extra={
                    "code": rejected.code,
                    "reason": str(rejected),
                    "path": path,
                    **lambda_fields(context, cold_start),
                },
            )
            emit_count("Webhook_rejected", source=self.adapter.source)
            return error(rejected.status_code, rejected.code, str(rejected))

    def verify_signature(self, request: WebhookRequest, current: WebhookSettings) -> None:
        """Before anything else: too large (413), unsigned or mis-signed (401)."""
        authenticate(
            self.adapter,
            request,
            lambda: provider_secret(current.secret_id),
            required=self.provider.required_secrets,
        )

    def receive(
        self,
        request: WebhookRequest,
        current: WebhookSettings,
        log_fields: Callable[[], dict[str, Any]] = dict,
    ) -> LambdaResponse:
        """An authentic delivery: map it (400 if malformed) and store it once."""
        receipt = record(self.adapter, request, self.inbox(current))
        emit_count(f"Webhook_{receipt.receipt.value}", source=self.adapter.source)
        if receipt.receipt is Receipt.DUPLICATE:
            # Stored deliveries need no log line: the inbox item is their durable record.
            logger.info(
                "duplicate webhook",
                extra={
                    "source": self.adapter.source,
                    "event_id": receipt.event_id,
                    **log_fields(),
                },
            )
        return response(200, {"status": receipt.receipt.value, "event_id": receipt.event_id})

    def inbox(self, current: WebhookSettings) -> InboxRepository:
        return inbox_repository(
            current.table_name, current.documents_bucket, current.inbox_retention_days
        )


_cold = [True]  # this process has served no invocation yet


def first_invocation() -> bool:
    cold, _cold[0] = _cold[0], False
    return cold


def lambda_fields(context: Any, cold_start: bool) -> dict[str, Any]:
    """The keys Powertools' `inject_lambda_context` binds to every line, for the lines the
    webhook does log (its happy path logs nothing, so binding them per invocation was waste)."""
    if context is None:
        return {}
    return {
        "cold_start": cold_start,
        "function_name": getattr(context, "function_name", None),
        "function_memory_size": getattr(context, "memory_limit_in_mb", None),
        "function_arn": getattr(context, "invoked_function_arn", None),
        "function_request_id": getattr(context, "aws_request_id", None),
    }


_routes: dict[str, WebhookRoute] = {}


def route_for(provider_name: str | None = None) -> WebhookRoute:
    """The route of the provider this function serves (PROVIDER), built once per process:
    importing the registry entry's adapter imports that provider's package and no other."""
    name = provider_name or WebhookSettings.load().provider
    found = _routes.get(name)
    if found is None:
        entry = registry.provider(name)
        found = _routes[name] = WebhookRoute(entry, entry.load_adapter())
    return found
