"""SQS: the channel push queues -> each order's sales channel hears about its shipments
(shared/shipping/push_queue.py says how retries back off and what is dead-lettered)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)

from shared.channels.push import ChannelRejected, ChannelUnavailable
from shared.inbox.poll import http_client
from shared.kernel.errors import ConcurrentModification
from shared.orders.events import OrderNeedsAttention
from shared.orders.store import Change
from shared.orders.wiring import order_store
from shared.platform import aws
from shared.platform.clock import utc_now
from shared.platform.observability import logger, metrics
from shared.platform.settings import Settings
from shared.platform.wiring import on_aws
from shared.shipping.notify_channel import ChannelNotifier
from shared.shipping.push_queue import PushMessage, backoff_seconds, queue_url_of
from shared.shipping.wiring import channel_notifier

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext


class ChannelPushSettings(Settings):
    table_name: str
    documents_bucket: str
    # JSON: channel -> Secrets Manager secret id (ids, not secrets)
    channel_secret_ids: str = "{}"  # noqa: S105
    rejected_queue_url: str = ""  # pushes a channel refused for good (alarmed)


# What this function reads from its environment (tests/infra/test_settings_env.py holds the
# template to it).
SETTINGS = ChannelPushSettings
processor = BatchProcessor(event_type=EventType.SQS)


@lru_cache(maxsize=4)
def notifier(settings: ChannelPushSettings) -> ChannelNotifier:
    platform = on_aws(settings.table_name, settings.documents_bucket)
    return channel_notifier(platform, json.loads(settings.channel_secret_ids), http_client())


def handle_record(record: SQSRecord) -> None:
    settings = ChannelPushSettings.load()
    message = PushMessage.model_validate_json(record.body)
    try:
        reference = notifier(settings).notify(message.order_id, message.shipment_id)
    except ChannelUnavailable as error:
        receives = int(record.attributes.approximate_receive_count or 1)
        delay = backoff_seconds(receives, error.retry_after)
        aws.client("sqs").change_message_visibility(
            QueueUrl=queue_url_of(record.event_source_arn or ""),
            ReceiptHandle=record.receipt_handle,
            VisibilityTimeout=delay,
        )
        logger.warning(
            "channel unavailable; retrying",
            extra={"order_id": message.order_id, "retry_in": delay, "error": str(error)[:300]},
        )
        metrics.add_metric(name="ChannelPush_retried", unit=MetricUnit.Count, value=1)
        raise
    except ChannelRejected as error:
        _rejected(settings, message, record.body, str(error))
        return
    metrics.add_metric(name="ChannelPush_done", unit=MetricUnit.Count, value=1)
    logger.info("channel told", extra={"order_id": message.order_id, "reference": reference})


def _rejected(settings: ChannelPushSettings, message: PushMessage, body: str, why: str) -> None:
    """Refused for good: the order goes on the attention list and the message to the alarmed
    queue of rejected pushes (retrying would be refused the same way)."""
    metrics.add_metric(name="ChannelPush_rejected", unit=MetricUnit.Count, value=1)
    logger.error("channel refused the shipment", extra={"order_id": message.order_id, "why": why})
    orders = order_store(on_aws(settings.table_name, settings.documents_bucket))
    state = orders.get(message.order_id)
    if state is not None and state.attention != "channel_push_rejected":
        try:
            orders.apply(
                state,
                Change(
                    event=OrderNeedsAttention(reason=f"channel_push_rejected: {why[:300]}"),
                    actor="channel push",
                    at=utc_now(),
                    set_fields={"attention": "channel_push_rejected"},
                ),
            )
        except ConcurrentModification:
            logger.warning("order changed meanwhile; the rejected push is still dead-lettered")
    if settings.rejected_queue_url:
        aws.client("sqs").send_message(
            QueueUrl=settings.rejected_queue_url,
            MessageBody=json.dumps({"message": json.loads(body), "error": why[:1000]}),
        )


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(
        process_partial_response(
            event=event, record_handler=handle_record, processor=processor, context=context
        )
    )
