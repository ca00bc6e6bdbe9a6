"""A provider that delivers to an SQS queue this stack owns (Amazon SP-API notifications).

Each message body is one notification: mapped by the provider's adapter `parse` (the queue's
policy is its authenticity, so there is nothing to verify) and stored as the same inbox record a
webhook makes, deduplicated by the provider's notification id. SQS delivers at least once; a
message whose body cannot be mapped is kept as malformed under its SQS message id.
"""

from __future__ import annotations

from shared import registry
from shared.inbox.contract import FetchingQueueAdapter, Headers, MalformedWebhook, WebhookRequest
from shared.inbox.service import WebhookReceipt, record_fetched
from shared.inbox.wiring import inbox_repository
from shared.platform.clock import utc_now
from shared.platform.secrets import provider_secret
from shared.platform.settings import Settings
from shared.registry import Queue


class QueueSettings(Settings):
    provider: str  # the registry entry whose queue this function consumes
    table_name: str
    documents_bucket: str
    inbox_retention_days: int = 90
    # The provider's credentials, for a queue whose notifications only name what changed
    # (Queue(fetch=True): the consumer fetches it from the provider's API first).
    secret_id: str = ""


MESSAGE_ID_HEADER = "X-Sqs-Message-Id"
SENT_TIMESTAMP_HEADER = "X-Sqs-Sent-Timestamp"


def receive_message(
    settings: QueueSettings, *, message_id: str, body: str, sent_timestamp: str = ""
) -> WebhookReceipt:
    """Store one message's notification once (with what it names, fetched, when the provider's
    notifications only name it). A fetch that fails raises: the message is retried."""
    headers = {MESSAGE_ID_HEADER: message_id}
    if sent_timestamp:
        headers[SENT_TIMESTAMP_HEADER] = sent_timestamp
    request = WebhookRequest(Headers(headers), body.encode(), received_at=utc_now())
    adapter = registry.adapter_for(settings.provider)
    entry = registry.provider(settings.provider)
    if isinstance(entry.ingress, Queue) and entry.ingress.fetch:
        request = _fetched(adapter, settings, request)
    return record_fetched(
        adapter,
        request,
        inbox_repository(
            settings.table_name, settings.documents_bucket, settings.inbox_retention_days
        ),
        event_id=f"sqs-{message_id}",
        topic="unreadable",
    )


def _fetched(
    adapter: FetchingQueueAdapter, settings: QueueSettings, message: WebhookRequest
) -> WebhookRequest:
    """The notification together with the resource it names, as the provider's API has it
    now (or the message as it came, when the adapter fetches nothing for it)."""
    from shared.inbox.poll import http_client

    secrets = provider_secret(settings.secret_id)
    if any(not secrets.get(name) for name in registry.provider(settings.provider).required_secrets):
        # Stored as it came (its parse records it ignored): nothing is lost, and the inbox can
        # be replayed once the credentials are set.
        return message
    try:
        delivery = adapter.fetch(secrets, message, http_client())
    except MalformedWebhook:
        return message  # unreadable: stored as malformed by record_fetched's parse
    if delivery is None:
        return message
    return WebhookRequest(
        Headers({**dict(message.headers), **delivery.headers}),
        delivery.raw_body,
        received_at=message.received_at,
    )
