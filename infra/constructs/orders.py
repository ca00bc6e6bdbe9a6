"""Order processing: the table's stream router (inbox -> intake/payments, timeline -> events)
and the scheduled reconciler."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.events import DomainEvents
from infra.constructs.fulfilment import ORDER_STEP_ACTIONS, Fulfilment
from infra.constructs.monitoring import Monitoring
from infra.constructs.storage import Storage
from infra.lambda_factory import PythonFunction

# Only what the router acts on ever invokes it: accepted inbox items, malformed ones (polled or
# queued items that could not be mapped: the router lists them with the failed deliveries,
# which ingress functions may not write), and timeline entries.
STREAM_FILTERS = [
    {
        "eventName": lambda_.FilterRule.is_equal("INSERT"),
        "dynamodb": {
            "Keys": {"SK": {"S": lambda_.FilterRule.is_equal("INBOX")}},
            "NewImage": {"status": {"S": lambda_.FilterRule.or_("accepted", "malformed")}},
        },
    },
    {
        "eventName": lambda_.FilterRule.is_equal("INSERT"),
        "dynamodb": {"Keys": {"SK": {"S": lambda_.FilterRule.begins_with("EVENT#")}}},
    },
]


class OrderProcessing(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        storage: Storage,
        fulfilment: Fulfilment,
        domain_events: DomainEvents,
        monitoring: Monitoring,
    ) -> None:
        super().__init__(scope, construct_id)
        self.router = PythonFunction(
            self,
            "StreamRouter",
            handler="functions.stream_router.handler.lambda_handler",
            description="Table stream: inbox -> order intake and payments; timeline -> events",
            config=config,
            timeout=Duration.seconds(60),
            environment={
                "TABLE_NAME": storage.table.table_name,
                "STATE_MACHINE_ARN": fulfilment.state_machine_arn,
                "EVENT_BUS_NAME": domain_events.bus.event_bus_name,
                "DOCUMENTS_BUCKET": storage.documents.bucket_name,
                "PAYMENT_WINDOW_SECONDS": str(config.payment_window_seconds),
                "ACCEPT_TEST_PAYMENTS": str(config.accept_test_payments).lower(),
            },
        )
        router = self.router.function
        storage.grant_items(router, *ORDER_STEP_ACTIONS)
        storage.grant_inbox_blobs(router, read=True)
        storage.grant_order_documents(router, write=True)
        fulfilment.state_machine.grant_start_execution(router)
        fulfilment.grant_task_response(router)
        domain_events.bus.grant_put_events_to(router)
        self.stream_dlq = monitoring.dead_letter_queue("StreamDLQ", purpose="the stream router")
        router.add_event_source(
            sources.DynamoEventSource(
                storage.table,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=25,
                bisect_batch_on_error=True,
                retry_attempts=8,
                max_record_age=Duration.hours(24),
                report_batch_item_failures=True,
                on_failure=sources.SqsDlq(self.stream_dlq),
                filters=[lambda_.FilterCriteria.filter(f) for f in STREAM_FILTERS],
            )
        )

        self.reconciler = PythonFunction(
            self,
            "Reconciler",
            handler="functions.pollers.reconcile.lambda_handler",
            description="Every 15 minutes: start the workflow of orders stuck in received",
            config=config,
            memory_mb=256,
            timeout=Duration.seconds(60),
            environment={
                "TABLE_NAME": storage.table.table_name,
                "STATE_MACHINE_ARN": fulfilment.state_machine_arn,
                "PAYMENT_WINDOW_SECONDS": str(config.payment_window_seconds),
            },
        )
        storage.grant_index_query(self.reconciler.function)
        fulfilment.state_machine.grant_start_execution(self.reconciler.function)
        fulfilment.grant_describe_executions(self.reconciler)
        reconcile_dlq = monitoring.dead_letter_queue("ReconcileDLQ", purpose="the reconciler")
        # Failures inside the function are dead-lettered too, after Lambda's two async retries.
        self.reconciler.function.configure_async_invoke(
            on_failure=destinations.SqsDestination(reconcile_dlq),
            retry_attempts=2,
            max_event_age=Duration.hours(1),
        )
        events.Rule(
            self,
            "ReconcileSchedule",
            description="orderhub: restart orders stuck in received",
            schedule=events.Schedule.rate(Duration.minutes(15)),
            targets=[
                targets.LambdaFunction(
                    self.reconciler.function,
                    dead_letter_queue=reconcile_dlq,
                    retry_attempts=2,
                    max_event_age=Duration.hours(1),
                )
            ],
        )
