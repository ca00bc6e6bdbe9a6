"""The table's stream -> domain reactions.

Inbox INSERTs (accepted deliveries of any source) go to the reaction of their event's kind
(reactions.py); timeline INSERTs are the outbox and become domain events on EventBridge. The
event source mapping filters everything else out before Lambda is invoked
(infra/constructs/orders.py).
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

from functions.stream_router.reactions import Contexts, StoredDelivery, react, source_of
from shared.inbox.events import InboundEvent
from shared.inbox.service import event_of
from shared.inbox.store import InboxRepository, envelope_of, raw_body_of
from shared.kernel.errors import DomainError
from shared.orders.store import timeline_entry_of
from shared.orders.wiring import order_intake
from shared.payments.domain import PaymentDecision
from shared.payments.events import PaymentRejected
from shared.payments.wiring import GatewaySettings, gateways_of, payment_service, refund_service
from shared.platform.clock import utc_now
from shared.platform.event_bus import EventBridgePublisher
from shared.platform.observability import logger, metrics
from shared.platform.settings import ConfigurationError
from shared.platform.table import Item, from_item
from shared.platform.wiring import on_aws
from shared.registry import adapter_for, is_provider
from shared.shipping.events import ShipmentCreated
from shared.shipping.push_queue import PushMessage, PushQueues


class StreamRouterSettings(GatewaySettings):
    table_name: str
    state_machine_arn: str
    event_bus_name: str
    documents_bucket: str
    payment_window_seconds: int = 24 * 3600
    accept_test_payments: bool = False
    # JSON: channel -> its push queue URL (shipments told back to the channel)
    channel_push_queues: str = "{}"


class Router:
    """The router's wiring: the contexts' services, built once per warm container."""

    def __init__(self, settings: StreamRouterSettings) -> None:
        platform = on_aws(
            settings.table_name, settings.documents_bucket, settings.state_machine_arn
        )
        gateways = gateways_of(settings)
        payments = payment_service(
            platform, accept_test_payments=settings.accept_test_payments, gateways=gateways
        )
        self.refunds = refund_service(platform, gateways, settings.public_url)
        self.blobs = platform.blobs
        self.inbox = InboxRepository(platform.table)
        self.contexts = Contexts(
            intake=order_intake(
                platform,
                payments,
                payment_window_seconds=settings.payment_window_seconds,
                refunds=self.refunds,
            ),
            payments=payments,
            failures=self.inbox,
            refunds=self.refunds,
        )
        self.publisher = EventBridgePublisher(settings.event_bus_name)
        self.push_queues = PushQueues.from_json(settings.channel_push_queues)

    def event_of(self, image: Item, source: str) -> InboundEvent:
        """Map the stored bytes again with the source's own adapter. A stored canonical
        envelope is read only for sources no provider owns (tests, replay tools): a provider's
        function may write only its own inbox items, but every attribute of them is its
        choice, so for a provider the bytes are the truth, not what it wrote beside them."""
        if ("envelope" in image or "envelope_zlib" in image) and not is_provider(source):
            return envelope_of(image).event
        assert self.blobs is not None
        raw = raw_body_of(image, self.blobs.get)
        if raw is None:
            raise ValueError("inbox item has no raw body")
        return event_of(adapter_for(source), image, raw)

    def on_inbox(self, image: Item) -> None:
        source = source_of(image)
        event = self.event_of(image, source)
        order_id = react(self.contexts, event, StoredDelivery(source, image["event_id"]))
        metrics.add_metric(name=f"Inbox_{event.kind}", unit=MetricUnit.Count, value=1)
        logger.info(
            "inbox event processed",
            extra={"kind": event.kind, "order_id": order_id, "event_id": image["event_id"]},
        )

    def on_timeline(self, image: Item) -> None:
        entry = timeline_entry_of(image)
        self.publisher.publish(entry)
        metrics.add_metric(name=entry.type.value, unit=MetricUnit.Count, value=1)
        if (
            isinstance(entry.event, PaymentRejected)
            and entry.event.reason is PaymentDecision.ORDER_CANCELLED_REFUND_NEEDED
            and self.contexts.intake.changes is not None
        ):
            # Money that came after the channel cancelled the order goes back by itself.
            self.contexts.intake.changes.refund_late_payment(
                entry.order_id,
                provider=entry.event.provider,
                payment_id=entry.event.payment_id,
                amount=entry.event.amount.amount,
            )
        if isinstance(entry.event, ShipmentCreated):
            # The shipment's channel hears about it through its own queue (retried with
            # backoff, rate-limited per channel). A redelivered stream record sends again;
            # the consumer finds the shipment already told and calls nobody.
            self.push_queues.send(
                entry.event.channel,
                PushMessage(order_id=entry.order_id, shipment_id=entry.event.shipment_id),
            )


@lru_cache(maxsize=4)
def router(settings: StreamRouterSettings) -> Router:
    return Router(settings)


def handle_record(record: DynamoDBRecord) -> None:
    raw = record.raw_event
    if raw.get("eventName") != "INSERT":
        return
    image = from_item(raw["dynamodb"]["NewImage"])
    react = router(StreamRouterSettings.load())
    if image["SK"] == "INBOX" and image.get("status") == "malformed":
        # Kept by its poller or queue consumer because it could not be mapped: a person looks.
        react.inbox.record_failure(
            source_of(image),
            image["event_id"],
            f"malformed: {image.get('ignored_reason', '')}"[:300],
            at=utc_now(),
            kind="malformed",
        )
    elif image["SK"] == "INBOX" and image.get("status") == "accepted":
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
    elif image["SK"].startswith("REFUND#") and image.get("origin", "orderhub") == "orderhub":
        # The refunds' outbox: a committed request is sent to its provider (retried, then
        # dead-lettered with the stream's alarm, never lost).
        react.refunds.dispatch(image["order_id"], image["refund_id"])


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
