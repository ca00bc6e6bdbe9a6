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
from infra.constructs.ingress import Ingress
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
    # The refunds' outbox: a refund asked through the API is sent to its provider.
    {
        "eventName": lambda_.FilterRule.is_equal("INSERT"),
        "dynamodb": {
            "Keys": {"SK": {"S": lambda_.FilterRule.begins_with("REFUND#")}},
            "NewImage": {"origin": {"S": lambda_.FilterRule.is_equal("orderhub")}},
        },
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
        ingress: Ingress,
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
        # Captures authorized money, sends refunds and applies their notifications.
        ingress.grant_payment_gateways(self.router)
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
        self._schedule(
            monitoring,
            self.reconciler,
            name="Reconcile",
            purpose="the reconciler",
            description="orderhub: restart orders stuck in received",
            every=Duration.minutes(15),
        )

        self.payment_reconciler = PythonFunction(
            self,
            "PaymentReconciler",
            handler="functions.pollers.payments.lambda_handler",
            description="Every 10 minutes: ask payment providers about open sessions and refunds",
            config=config,
            memory_mb=256,
            timeout=Duration.seconds(120),
            environment={
                "TABLE_NAME": storage.table.table_name,
                "DOCUMENTS_BUCKET": storage.documents.bucket_name,
                "STATE_MACHINE_ARN": fulfilment.state_machine_arn,
                "ACCEPT_TEST_PAYMENTS": str(config.accept_test_payments).lower(),
                "RECONCILE_AFTER_SECONDS": str(config.payment_reconcile_after_seconds),
            },
        )
        payments_fn = self.payment_reconciler.function
        storage.grant_items(payments_fn, *ORDER_STEP_ACTIONS)
        storage.grant_index_query(payments_fn)
        storage.grant_order_documents(payments_fn, write=False)
        fulfilment.grant_task_response(payments_fn)
        ingress.grant_payment_gateways(self.payment_reconciler)
        self._schedule(
            monitoring,
            self.payment_reconciler,
            name="PaymentReconcile",
            purpose="the payment reconciler",
            description="orderhub: ask payment providers about open sessions and refunds",
            every=Duration.minutes(10),
        )

    def _schedule(
        self,
        monitoring: Monitoring,
        function: PythonFunction,
        *,
        name: str,
        purpose: str,
        description: str,
        every: Duration,
    ) -> None:
        """Run `function` on a schedule; a failed run is retried twice, then dead-lettered
        (inside the function too, after Lambda's two async retries) with the DLQ's alarm."""
        dlq = monitoring.dead_letter_queue(f"{name}DLQ", purpose=purpose)
        function.function.configure_async_invoke(
            on_failure=destinations.SqsDestination(dlq),
            retry_attempts=2,
            max_event_age=Duration.hours(1),
        )
        events.Rule(
            self,
            f"{name}Schedule",
            description=description,
            schedule=events.Schedule.rate(every),
            targets=[
                targets.LambdaFunction(
                    function.function,
                    dead_letter_queue=dlq,
                    retry_attempts=2,
                    max_event_age=Duration.hours(1),
                )
            ],
        )

    def public_url(self, url: str) -> None:
        """The stack's public base URL: providers are told to notify our webhooks there."""
        for function in (self.router, self.payment_reconciler):
            function.function.add_environment("PUBLIC_URL", url)
