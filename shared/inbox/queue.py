"""A provider that delivers to an SQS queue this stack owns (Amazon SP-API notifications).

Each message body is one notification: mapped by the provider's adapter `parse` (the queue's
policy is its authenticity, so there is nothing to verify) and stored as the same inbox record a
webhook makes, deduplicated by the provider's notification id. SQS delivers at least once; a
message whose body cannot be mapped is kept as malformed under its SQS message id.
"""

from __future__ import annotations

from shared import registry
from shared.inbox.contract import Headers, WebhookRequest
from shared.inbox.service import WebhookReceipt, record_fetched
from shared.inbox.wiring import inbox_repository
from shared.platform.clock import utc_now
from shared.platform.settings import Settings


class QueueSettings(Settings):
    provider: str  # the registry entry whose queue this function consumes
    table_name: str
    documents_bucket: str
    inbox_retention_days: int = 90


MESSAGE_ID_HEADER = "X-Sqs-Message-Id"
SENT_TIMESTAMP_HEADER = "X-Sqs-Sent-Timestamp"


def receive_message(
    settings: QueueSettings, *, message_id: str, body: str, sent_timestamp: str = ""
) -> WebhookReceipt:
    """Store one message's notification once."""
    headers = {MESSAGE_ID_HEADER: message_id}
    if sent_timestamp:
        headers[SENT_TIMESTAMP_HEADER] = sent_timestamp
    request = WebhookRequest(Headers(headers), body.encode(), received_at=utc_now())
    return record_fetched(
        registry.adapter_for(settings.provider),
        request,
        inbox_repository(
            settings.table_name, settings.documents_bucket, settings.inbox_retention_days
        ),
        event_id=f"sqs-{message_id}",
        topic="unreadable",
    )
