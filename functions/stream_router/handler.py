"""The table's stream -> domain reactions.

Inbox INSERTs (accepted webhooks) go to order intake or the payment reducer; timeline INSERTs
are the outbox and become domain events on EventBridge. The event source mapping filters
everything else out before Lambda is invoked (infra/constructs/orders.py).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.config import Settings
from shared.domain.events import OrderReceived
from shared.event_bus import EventBridgePublisher
from shared.observability import logger, metrics
from shared.services.clock import utc_now
from shared.services.order_intake import OrderIntake
from shared.services.payments import PaymentService
from shared.store.inbox import InboxRepository, envelope_of
from shared.store.orders import OrderRepository, timeline_entry_of
from shared.store.table import Item, Table, from_item
from shared.workflow import StepFunctionsWorkflow


class StreamRouterSettings(Settings):
    table_name: str
    state_machine_arn: str
    event_bus_name: str
    payment_window_seconds: int = 24 * 3600


class Reactions:
    def __init__(self, settings: StreamRouterSettings) -> None:
        orders = OrderRepository(Table(settings.table_name))
        workflow = StepFunctionsWorkflow(settings.state_machine_arn)
        self.payments = PaymentService(orders=orders, workflow=workflow)
        self.intake = OrderIntake(
            orders=orders,
            workflow=workflow,
            payments=self.payments,
            payment_window_seconds=settings.payment_window_seconds,
        )
        self.publisher = EventBridgePublisher(settings.event_bus_name)
        self.inbox = InboxRepository(Table(settings.table_name))

    def on_inbox(self, image: Item) -> None:
        event = envelope_of(image).event
        actor = f"{image['source']} webhook {image['event_id']}"
        order_id: str | None
        if isinstance(event, OrderReceived):
            order_id = self.intake.receive(event.order, actor=actor, event_id=image["event_id"])
        else:
            order_id = self.payments.report(event.payment, actor=actor)
        metrics.add_metric(name=f"Inbox_{event.kind}", unit=MetricUnit.Count, value=1)
        logger.info(
            "inbox event processed",
            extra={"kind": event.kind, "order_id": order_id, "event_id": image["event_id"]},
        )

    def on_timeline(self, image: Item) -> None:
        entry = timeline_entry_of(image)
        self.publisher.publish(entry)
        metrics.add_metric(name=entry.type.value, unit=MetricUnit.Count, value=1)


@lru_cache(maxsize=4)
def reactions(settings: StreamRouterSettings) -> Reactions:
    return Reactions(settings)


def handle_record(record: DynamoDBRecord) -> None:
    raw = record.raw_event
    if raw.get("eventName") != "INSERT":
        return
    image = from_item(raw["dynamodb"]["NewImage"])
    react = reactions(StreamRouterSettings.load())
    if image["SK"] == "INBOX" and image.get("status") == "accepted":
        try:
            react.on_inbox(image)
        except Exception as error:
            # Stream retries and the DLQ see only sequence numbers; this names the delivery.
            react.inbox.record_failure(
                image["source"], image["event_id"], f"{type(error).__name__}: {error}", at=utc_now()
            )
            raise
    elif image["SK"].startswith("EVENT#"):
        react.on_timeline(image)


processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(
        process_partial_response(
            event=event, record_handler=handle_record, processor=processor, context=context
        )
    )
