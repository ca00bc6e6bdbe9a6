"""One route per provider webhook: authenticity first (rejects before anything is parsed or
stored), then one inbox write. Errors become JSON bodies in one place.

A webhook function serves exactly one route, so it does not use Powertools' HTTP resolver:
importing `aws_lambda_powertools.event_handler` costs about 100 ms of cold start (its package
`__init__` loads every resolver) and routing one path through it about 25 us a request. What
the resolver gave us is kept here: the signature check runs before the handler body, every
refusal is a JSON error body, other paths are 404 and other methods 405, and the responses are
API Gateway HTTP API (payload 2.0) responses of the same shape. Logger context and metrics stay
Powertools' (the handler modules decorate `lambda_handler`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from aws_lambda_powertools.metrics import MetricUnit

from shared import aws
from shared.config import Settings
from shared.integrations.webhooks import (
    Headers,
    WebhookAdapter,
    WebhookRejected,
    WebhookRequest,
)
from shared.observability import logger, metrics
from shared.secrets import provider_secret
from shared.services.clock import utc_now
from shared.services.webhook_inbox import Receipt, authenticate, record
from shared.store.inbox import InboxRepository
from shared.store.table import Table

JSON_HEADERS = {"Content-Type": "application/json"}
LambdaResponse = dict[str, Any]


class WebhookSettings(Settings):
    table_name: str
    documents_bucket: str
    inbox_retention_days: int = 90


S = TypeVar("S", bound=WebhookSettings)


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
    """Every refusal: {"error": {"code": ..., "message": ...}} (as shared.http.error_response)."""
    return response(status, {"error": {"code": code, "message": message}}, headers)


def webhook_request(event: dict[str, Any]) -> WebhookRequest:
    """The headers and the exact bytes the provider sent: signatures are over these bytes."""
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    return WebhookRequest(Headers(event.get("headers")), raw, received_at=utc_now())


class WebhookRoute(Generic[S]):
    """POST `path` for one provider: verify the signature, then store the delivery once."""

    def __init__(
        self,
        path: str,
        adapter: WebhookAdapter,
        *,
        settings: Callable[[], S],
        secret_id: Callable[[S], str],
    ) -> None:
        self.path = path
        self.adapter = adapter
        self.settings = settings
        self._secret_id = secret_id
        self._inboxes: dict[S, InboxRepository] = {}

    def handle(self, event: dict[str, Any]) -> LambdaResponse:
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
            current = self.settings()
            self.verify_signature(request, current)
            return self.receive(request, current)
        except WebhookRejected as rejected:
            logger.warning(
                "webhook rejected",
                extra={"code": rejected.code, "reason": str(rejected), "path": path},
            )
            metrics.add_metric(name="Webhook_rejected", unit=MetricUnit.Count, value=1)
            return error(rejected.status_code, rejected.code, str(rejected))

    def verify_signature(self, request: WebhookRequest, current: S) -> None:
        """Before anything else: too large (413), unsigned or mis-signed (401)."""
        authenticate(self.adapter, request, lambda: provider_secret(self._secret_id(current)))

    def receive(self, request: WebhookRequest, current: S) -> LambdaResponse:
        """An authentic delivery: map it (400 if malformed) and store it once."""
        receipt = record(self.adapter, request, self.inbox(current))
        metrics.add_metric(name=f"Webhook_{receipt.receipt.value}", unit=MetricUnit.Count, value=1)
        metrics.add_metadata(key="source", value=self.adapter.source)
        if receipt.receipt is Receipt.DUPLICATE:
            # Stored deliveries need no log line: the inbox item is their durable record.
            logger.info(
                "duplicate webhook",
                extra={"source": self.adapter.source, "event_id": receipt.event_id},
            )
        return response(200, {"status": receipt.receipt.value, "event_id": receipt.event_id})

    def inbox(self, current: S) -> InboxRepository:
        found = self._inboxes.get(current)
        if found is None:
            found = self._inboxes[current] = _inbox(current)
        return found


def _inbox(settings: WebhookSettings) -> InboxRepository:
    def write_blob(key: str, data: bytes) -> None:
        aws.s3().put_object(Bucket=settings.documents_bucket, Key=key, Body=data)

    return InboxRepository(
        Table(settings.table_name),
        retention_days=settings.inbox_retention_days,
        blob_writer=write_blob,
    )
