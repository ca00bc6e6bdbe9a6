"""One Powertools router per provider webhook: authenticity as route middleware (rejects before
the handler runs), then one inbox write. Errors become JSON bodies in one place."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit

from shared import aws
from shared.config import Settings
from shared.http import HttpResponse, error_response, headers_of, json_response, raw_body
from shared.integrations.webhooks import WebhookAdapter, WebhookRejected, WebhookRequest
from shared.observability import logger, metrics
from shared.secrets import provider_secret
from shared.services.clock import utc_now
from shared.services.webhook_inbox import Receipt, authenticate, record
from shared.store.inbox import InboxRepository
from shared.store.table import Table


class WebhookSettings(Settings):
    table_name: str
    documents_bucket: str
    inbox_retention_days: int = 90


S = TypeVar("S", bound=WebhookSettings)


def _inbox(settings: WebhookSettings) -> InboxRepository:
    def write_blob(key: str, data: bytes) -> None:
        aws.s3().put_object(Bucket=settings.documents_bucket, Key=key, Body=data)

    return InboxRepository(
        Table(settings.table_name),
        retention_days=settings.inbox_retention_days,
        blob_writer=write_blob,
    )


def webhook_router(
    path: str,
    adapter: WebhookAdapter,
    *,
    settings: Callable[[], S],
    secret_id: Callable[[S], str],
) -> APIGatewayHttpRouter:
    router = APIGatewayHttpRouter()

    def verify_signature(
        app: APIGatewayHttpResolver, next_middleware: NextMiddleware
    ) -> HttpResponse:
        event = app.current_event.raw_event
        request = WebhookRequest(headers_of(event), raw_body(event), received_at=utc_now())
        current = settings()
        authenticate(adapter, request, lambda: provider_secret(secret_id(current)))
        app.append_context(webhook_request=request, settings=current)
        return next_middleware(app)

    @router.post(path, middlewares=[verify_signature])
    def receive() -> HttpResponse:
        request: WebhookRequest = router.context["webhook_request"]
        receipt = record(adapter, request, _inbox(router.context["settings"]))
        metrics.add_metric(name=f"Webhook_{receipt.receipt.value}", unit=MetricUnit.Count, value=1)
        metrics.add_metadata(key="source", value=adapter.source)
        if receipt.receipt is Receipt.DUPLICATE:
            # Stored deliveries need no log line: the inbox item is their durable record.
            logger.info(
                "duplicate webhook", extra={"source": adapter.source, "event_id": receipt.event_id}
            )
        return json_response(200, {"status": receipt.receipt.value, "event_id": receipt.event_id})

    return router


def handle_webhook_errors(app: APIGatewayHttpResolver) -> None:
    @app.exception_handler(WebhookRejected)
    def rejected(error: WebhookRejected) -> HttpResponse:
        logger.warning(
            "webhook rejected",
            extra={"code": error.code, "reason": str(error), "path": app.current_event.path},
        )
        metrics.add_metric(name="Webhook_rejected", unit=MetricUnit.Count, value=1)
        return error_response(error.status_code, error.code, str(error))

    @app.not_found
    def not_found(_: Any) -> HttpResponse:
        return error_response(404, "not_found", "no webhook is served at this path")
