"""Telling sales channels about shipments: one push queue per channel with a client (derived
from the registry: shared/registry.py `channel_client`), each with its dead-letter queue and
alarms, and one consumer function.

The stream router sends a message per `ShipmentCreated` to the queue of the order's channel;
the consumer calls the channel's API (shared/shipping/notify_channel.py). Per channel: at most
two concurrent calls (the event source's maximum concurrency) and a local pace, backoff from
30 s doubling to 15 min (or the channel's Retry-After), then the DLQ after 8 receives; a push
the channel refuses for good goes to the alarmed queue of rejected pushes at once.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.ingress import Ingress
from infra.constructs.monitoring import Monitoring
from infra.constructs.storage import Storage
from infra.lambda_factory import PythonFunction

PUSH_HANDLER = "functions.queues.channel_push.lambda_handler"
MAX_RECEIVES = 8  # 30 s, 1, 2, 4, 8, 15, 15 min between them: about 45 min of a channel down
PUSH_VISIBILITY_SECONDS = 120  # above the consumer's timeout (SQS requires it)
CONCURRENCY_PER_CHANNEL = 2  # the least an SQS event source allows
PUSH_AGE_ALARM_SECONDS = 30 * 60


class ChannelPushes(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        storage: Storage,
        monitoring: Monitoring,
        ingress: Ingress,
    ) -> None:
        super().__init__(scope, construct_id)
        channels = [p for p in ingress.providers() if p.channel_client]
        self.rejected = monitoring.dead_letter_queue(
            "RejectedPushes", purpose="shipments a sales channel refused for good"
        )
        self.function = PythonFunction(
            self,
            "ChannelPush",
            handler=PUSH_HANDLER,
            description="SQS: tell each order's sales channel about its shipments, once each",
            config=config,
            memory_mb=256,
            timeout=Duration.seconds(60),
            environment={
                "TABLE_NAME": storage.table.table_name,
                "DOCUMENTS_BUCKET": storage.documents.bucket_name,
                "REJECTED_QUEUE_URL": self.rejected.queue_url,
            },
        )
        fn = self.function.function
        # The order (read, the ChannelNotified timeline entry and attention) and its shipment
        # items (the channel's reference), in the order's partition only.
        storage.grant_items(fn, "GetItem", "Query")
        storage.grant_items(fn, "PutItem", "UpdateItem", leading_keys=("ORDER#*",))
        storage.grant_order_documents(fn, write=False)
        self.rejected.grant_send_messages(fn)
        self.queues: dict[str, sqs.Queue] = {}
        secret_ids: dict[str, str] = {}
        for provider in channels:
            name = provider.construct_name
            dead_letters = monitoring.dead_letter_queue(
                f"{name}PushDLQ", purpose=f"shipments {provider.title} could not be told about"
            )
            queue = sqs.Queue(
                self,
                f"{name}PushQueue",
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
                visibility_timeout=Duration.seconds(PUSH_VISIBILITY_SECONDS),
                retention_period=Duration.days(4),
                dead_letter_queue=sqs.DeadLetterQueue(
                    max_receive_count=MAX_RECEIVES, queue=dead_letters
                ),
            )
            fn.add_event_source(
                sources.SqsEventSource(
                    queue,
                    batch_size=5,
                    report_batch_item_failures=True,
                    max_concurrency=CONCURRENCY_PER_CHANNEL,
                )
            )
            # Backoff: the consumer moves a failed message's next visibility out.
            queue.grant(fn, "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl")
            secret = ingress.secrets[provider.name]
            secret.grant_read(fn)
            secret.grant_write(fn)  # a rotated OAuth token (Allegro) is stored back
            secret_ids[provider.name] = secret.secret_arn
            self.queues[provider.name] = queue
            monitoring.alarm(
                f"{name}PushQueueAge",
                queue.metric_approximate_age_of_oldest_message(
                    period=Duration.minutes(5), statistic="Maximum"
                ),
                description=f"Shipments have waited over {PUSH_AGE_ALARM_SECONDS // 60} min to "
                f"reach {provider.title}: it is down, throttling, or refusing them.",
                threshold=PUSH_AGE_ALARM_SECONDS,
            )
        fn.add_environment("CHANNEL_SECRET_IDS", Stack.of(self).to_json_string(secret_ids))
        monitoring.alarm(
            "ChannelPushErrors",
            fn.metric_errors(period=Duration.minutes(5), statistic="Sum"),
            description="The channel push function failed: shipments are retried, then "
            "dead-lettered; look at its logs.",
        )

    def grant_send(self, function: PythonFunction) -> None:
        """Let the stream router put shipments on the channels' queues (CHANNEL_PUSH_QUEUES)."""
        urls: dict[str, str] = {}
        for channel, queue in self.queues.items():
            queue.grant_send_messages(function.function)
            urls[channel] = queue.queue_url
        function.function.add_environment(
            "CHANNEL_PUSH_QUEUES", Stack.of(self).to_json_string(urls)
        )
