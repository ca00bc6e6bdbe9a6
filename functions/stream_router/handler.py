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

from shared.inbox.service import event_of
from shared.inbox.store import InboxRepository, envelope_of, raw_body_of
from shared.kernel.errors import DomainError
from shared.kernel.events import InboundEvent, OrderReceived
from shared.orders.intake import OrderIntake
from shared.orders.store import OrderRepository, timeline_entry_of
from shared.payments.parked import ParkedPayments
from shared.payments.service import PaymentOutcome, PaymentService
from shared.platform.blobs import S3Blobs
from shared.platform.clock import utc_now
from shared.platform.event_bus import EventBridgePublisher
from shared.platform.observability import logger, metrics
from shared.platform.settings import ConfigurationError, Settings
from shared.platform.table import Item, Table, from_item
from shared.platform.workflow import StepFunctionsWorkflow
from shared.registry import adapter_for


class StreamRouterSettings(Settings):
    table_name: str
    state_machine_arn: str
    event_bus_name: str
    documents_bucket: str
    payment_window_seconds: int = 24 * 3600
    accept_test_payments: bool = False


class Reactions:
    def __init__(self, settings: StreamRouterSettings) -> None:
        table = Table(settings.table_name)
        self.blobs = S3Blobs(settings.documents_bucket)
        orders = OrderRepository(table, blobs=self.blobs)
        workflow = StepFunctionsWorkflow(settings.state_machine_arn)
        self.payments = PaymentService(
            orders=orders,
            workflow=workflow,
            parked=ParkedPayments(table),
            accept_test_payments=settings.accept_test_payments,
        )
        self.intake = OrderIntake(
            orders=orders,
            workflow=workflow,
            payments=self.payments,
            payment_window_seconds=settings.payment_window_seconds,
        )
        self.publisher = EventBridgePublisher(settings.event_bus_name)
        self.inbox = InboxRepository(Table(settings.table_name))

    def event_of(self, image: Item) -> InboundEvent:
        if "envelope" in image or "envelope_zlib" in image:
            return envelope_of(image).event
        raw = raw_body_of(image, self.blobs.get)
        if raw is None:
            raise ValueError("inbox item has no raw body")
        return event_of(adapter_for(image["source"]), image, raw)

    def on_inbox(self, image: Item) -> None:
        event = self.event_of(image)
        actor = f"{image['source']} webhook {image['event_id']}"
        order_id: str | None
        if isinstance(event, OrderReceived):
            order_id = self.intake.receive(event.order, actor=actor, event_id=image["event_id"])
        else:
            report = self.payments.report(event.payment, actor=actor)
            order_id = report.order_id
            if report.outcome is PaymentOutcome.UNKNOWN_ORDER:
                # Kept (parked) and listed where operators look for failed deliveries.
                self.inbox.record_failure(
                    image["source"],
                    image["event_id"],
                    f"the payment names order {order_id}, which does not exist",
                    at=utc_now(),
                    kind="unknown_order",
                )
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
                image["source"], image["event_id"], failure_summary(error), at=utc_now()
            )
            raise
    elif image["SK"].startswith("EVENT#"):
        react.on_timeline(image)


def failure_summary(error: Exception) -> str:
    """What went wrong, without the payload: our own errors' messages name ids and states;
    anything else (a validation error quotes its input: names, addresses) only by class."""
    if isinstance(error, DomainError | ConfigurationError):
        return f"{type(error).__name__}: {error}"
    return type(error).__name__


processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


# What this function reads from its environment (tests/infra/test_settings_env.py holds the
# template to it).
SETTINGS = StreamRouterSettings


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(
        process_partial_response(
            event=event, record_handler=handle_record, processor=processor, context=context
        )
    )
