"""SQS: one provider's notifications queue -> the inbox (infra/constructs/ingress.py makes one
queue, dead-letter queue and consumer per queue provider in the registry). PROVIDER names the
entry. A message that could not be stored is reported as a batch item failure: SQS makes it
visible again, and after the queue's maxReceiveCount moves it to the alarmed DLQ."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)

from shared.inbox.queue import QueueSettings, receive_message
from shared.inbox.service import Receipt
from shared.platform.observability import logger, metrics

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext


# What this function reads from its environment (tests/infra/test_settings_env.py holds the
# template to it).
SETTINGS = QueueSettings

processor = BatchProcessor(event_type=EventType.SQS)


def handle_record(record: SQSRecord) -> None:
    receipt = receive_message(
        QueueSettings.load(),
        message_id=record.message_id,
        body=record.body,
        sent_timestamp=record.attributes.sent_timestamp,
    )
    metrics.add_metric(name=f"Queue_{receipt.receipt.value}", unit=MetricUnit.Count, value=1)
    if receipt.receipt is Receipt.MALFORMED:
        logger.warning("kept a message its adapter cannot map", extra={"key": receipt.event_id})


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(
        process_partial_response(
            event=event, record_handler=handle_record, processor=processor, context=context
        )
    )
