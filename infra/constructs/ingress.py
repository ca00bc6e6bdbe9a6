"""Ingestion, derived from the provider registry (shared/registry.py). For every provider its
secret (`<stack>/<name>`), and by how it delivers:

- webhook: its own function (PROVIDER=<name>) behind its HTTP API route (infra/constructs/api.py);
- poll: an EventBridge schedule running its own poller function, retried, then dead-lettered;
- queue: an SQS queue it sends to (SSL only, SQS-managed encryption, a dead-letter queue) and
  its own consumer function, fed in batches with partial batch failures.

Each function's role writes only its provider's inbox items (INBOX#<name>#*; a poller also reads
and writes its own cursor item) and reads only its own secret; each has an alarm on its errors.
"""

from __future__ import annotations

import json

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.monitoring import Monitoring
from infra.constructs.storage import Storage
from infra.lambda_factory import PythonFunction
from infra.nag import acknowledge, acknowledge_evidence
from shared import registry
from shared.inbox.cursors import cursor_pk
from shared.inbox.store import inbox_pk
from shared.registry import Kind, Poll, Provider, Queue, Webhook

WEBHOOK_HANDLER = "functions.webhooks.handler.lambda_handler"
POLL_HANDLER = "functions.pollers.poll.lambda_handler"
QUEUE_HANDLER = "functions.queues.handler.lambda_handler"
# A message older than this is waiting on a consumer that fails or is throttled.
QUEUE_AGE_ALARM_SECONDS = 15 * 60


# The logical ids these secrets had under the `Webhooks` construct (before 2026-12-01): an
# existing stack updates them in place, keeping the signing secrets the shop put in them.
LEGACY_SECRET_IDS = {
    "shopify": "WebhooksShopifySecret5730534C",
    "stripe": "WebhooksStripeSecret97E6BE8C",
}


class Ingress(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        storage: Storage,
        monitoring: Monitoring,
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self._storage = storage
        self._monitoring = monitoring
        self.secrets: dict[str, secretsmanager.Secret] = {}
        self.webhooks: dict[str, PythonFunction] = {}
        self.pollers: dict[str, PythonFunction] = {}
        self.queues: dict[str, sqs.Queue] = {}
        self.consumers: dict[str, PythonFunction] = {}
        for provider in self.providers():
            secret = self.secrets[provider.name] = self._secret(provider)
            if isinstance(provider.ingress, Webhook):
                self.webhooks[provider.name] = self._webhook(provider, secret)
            elif isinstance(provider.ingress, Queue):
                queue, consumer = self._queue(provider, provider.ingress, secret)
                self.queues[provider.name], self.consumers[provider.name] = queue, consumer
            if provider.poll is not None:
                # Its ingress, or the repair poll of a webhook that is delivered only once.
                self.pollers[provider.name] = self._poller(provider, provider.poll, secret)

    def providers(self) -> list[Provider]:
        """The registry's providers this shop uses: every payment provider and carrier, and
        the sales channels it sells on (`orderhub:channels`)."""
        return [
            p
            for p in registry.providers()
            if p.kind is not Kind.CHANNELS or self._config.sells_on(p.name)
        ]

    def grant_payment_gateways(self, function: PythonFunction) -> None:
        """Let a function call the payment providers' APIs (sessions, captures, refunds,
        reconciliation): read exactly their secrets, named in PAYMENT_SECRET_IDS."""
        ids: dict[str, str] = {}
        for provider in registry.gateway_providers():
            secret = self.secrets[provider.name]
            secret.grant_read(function.function)
            ids[provider.name] = secret.secret_arn
        function.function.add_environment("PAYMENT_SECRET_IDS", Stack.of(self).to_json_string(ids))

    def _secret(self, provider: Provider) -> secretsmanager.Secret:
        """The provider's secret. Named secrets cannot be replaced in place (CloudFormation
        creates the new resource before deleting the old, and the name is taken), so one
        deployed before the reshape keeps the logical id it had then."""
        secret = secretsmanager.Secret(
            self,
            f"{provider.construct_name}Secret",
            secret_name=f"{Stack.of(self).stack_name}/{provider.name}",
            description=f"{provider.title}: set "
            + (", ".join(f.name for f in provider.secrets) or "nothing yet")
            + " after deploy",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({f.name: "" for f in provider.secrets}),
                generate_string_key="unused",
            ),
        )
        acknowledge(secret, "SMG4")
        legacy = LEGACY_SECRET_IDS.get(provider.name)
        if legacy is not None:
            resource = secret.node.default_child
            assert isinstance(resource, secretsmanager.CfnSecret)
            resource.override_logical_id(legacy)
        return secret

    def _function(
        self,
        provider: Provider,
        suffix: str,
        *,
        handler: str,
        description: str,
        on_failure: str,
        secret: secretsmanager.Secret | None = None,
        memory_mb: int = 512,
        timeout: Duration | None = None,
    ) -> PythonFunction:
        """A provider's ingress function: it may record deliveries of its own provider only,
        and read its own secret (when it needs one)."""
        environment = {"PROVIDER": provider.name}
        if secret is not None:
            environment["SECRET_ID"] = secret.secret_arn
        function = PythonFunction(
            self,
            f"{provider.construct_name}{suffix}",
            handler=handler,
            description=description,
            config=self._config,
            environment={
                **environment,
                "TABLE_NAME": self._storage.table.table_name,
                "DOCUMENTS_BUCKET": self._storage.documents.bucket_name,
            },
            memory_mb=memory_mb,
            timeout=timeout,
        )
        # The inbox write is the only table write an ingress function makes, and only to the
        # inbox items of its own provider (even a subverted function cannot write an order).
        self._storage.grant_items(
            function.function, "PutItem", leading_keys=(inbox_pk(provider.name, "*"),)
        )
        self._storage.grant_inbox_blobs(function.function, source=provider.name)
        bucket = Stack.of(self).get_logical_id(
            self._storage.documents.node.default_child  # type: ignore[arg-type]
        )
        acknowledge_evidence(
            function,
            f"IAM5[Resource::<{bucket}.Arn>/inbox/{provider.name}/*]",
            f"PutObject of large raw bodies under inbox/{provider.name}/ only (keys are content "
            "hashes): its own provider's prefix, nothing else in the bucket.",
        )
        if secret is not None:
            secret.grant_read(function.function)
        self._monitoring.alarm(
            f"{provider.construct_name}{suffix}Errors",
            function.function.metric_errors(period=Duration.minutes(5), statistic="Sum"),
            description=f"The {provider.title} {suffix} function failed: {on_failure}; "
            "look at its logs.",
        )
        return function

    def _webhook(self, provider: Provider, secret: secretsmanager.Secret) -> PythonFunction:
        return self._function(
            provider,
            "Webhook",
            handler=WEBHOOK_HANDLER,
            description=f"POST {provider.path}: verify, map, store once in the inbox",
            on_failure="(5xx) deliveries are being retried by the provider",
            secret=secret,
        )

    def _poller(
        self, provider: Provider, schedule: Poll, secret: secretsmanager.Secret
    ) -> PythonFunction:
        name = provider.construct_name
        function = self._function(
            provider,
            "Poller",
            handler=POLL_HANDLER,
            description=f"Every {schedule.every_minutes} min: pull {provider.title} into the inbox",
            on_failure="the next scheduled run resumes from the stored cursor",
            secret=secret,
            memory_mb=256,
            timeout=Duration.seconds(60),
        )
        # Where the next run resumes: its own cursor item, read and advanced by it alone.
        self._storage.grant_items(
            function.function, "GetItem", "PutItem", leading_keys=(cursor_pk(provider.name),)
        )
        # A provider that rotates its OAuth refresh token on every refresh (Allegro) has the
        # new one stored back by the poller: its own secret only.
        secret.grant_write(function.function)
        dead_letters = self._monitoring.dead_letter_queue(
            f"{name}PollDLQ", purpose=f"the {provider.title} poll schedule"
        )
        # A run that fails inside the function is retried twice by Lambda's asynchronous
        # invocation, then its event is dead-lettered too (the rule's DLQ only sees events
        # EventBridge could not deliver).
        function.function.configure_async_invoke(
            on_failure=destinations.SqsDestination(dead_letters),
            retry_attempts=2,
            max_event_age=Duration.minutes(max(schedule.every_minutes, 1)),
        )
        events.Rule(
            self,
            f"{name}PollSchedule",
            description=f"orderhub: pull {provider.title} every {schedule.every_minutes} min",
            schedule=events.Schedule.rate(Duration.minutes(schedule.every_minutes)),
            targets=[
                targets.LambdaFunction(
                    function.function,
                    dead_letter_queue=dead_letters,
                    retry_attempts=2,
                    # Older than one period, a run is superseded by the next one anyway.
                    max_event_age=Duration.minutes(schedule.every_minutes),
                )
            ],
        )
        return function

    def _queue(
        self, provider: Provider, spec: Queue, secret: secretsmanager.Secret
    ) -> tuple[sqs.Queue, PythonFunction]:
        name = provider.construct_name
        dead_letters = self._monitoring.dead_letter_queue(
            f"{name}QueueDLQ", purpose=f"the {provider.title} notifications queue"
        )
        queue = sqs.Queue(
            self,
            f"{name}Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(spec.visibility_timeout_seconds),
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(
                max_receive_count=spec.max_receive_count, queue=dead_letters
            ),
        )
        # The queue's policy is the notifications' authenticity: only the provider's account
        # (and this one's own principals) may send to it.
        for account in spec.sender_accounts:
            queue.add_to_resource_policy(
                iam.PolicyStatement(
                    principals=[iam.AccountPrincipal(account)],
                    actions=["sqs:SendMessage", "sqs:GetQueueAttributes"],
                    resources=[queue.queue_arn],
                )
            )
        consumer = self._function(
            provider,
            "QueueConsumer",
            handler=QUEUE_HANDLER,
            description=f"SQS: {provider.title} notifications -> the inbox, once each",
            on_failure="its messages are retried, then dead-lettered",
            # Notifications that only name what changed: the consumer fetches it with the
            # provider's credentials before storing it.
            secret=secret if spec.fetch else None,
            timeout=Duration.seconds(spec.visibility_timeout_seconds // 2) if spec.fetch else None,
        )
        consumer.function.add_event_source(
            sources.SqsEventSource(queue, batch_size=10, report_batch_item_failures=True)
        )
        self._monitoring.alarm(
            f"{name}QueueAge",
            queue.metric_approximate_age_of_oldest_message(
                period=Duration.minutes(5), statistic="Maximum"
            ),
            description=f"{provider.title} notifications have waited over "
            f"{QUEUE_AGE_ALARM_SECONDS // 60} min: the consumer is failing or throttled.",
            threshold=QUEUE_AGE_ALARM_SECONDS,
        )
        return queue, consumer
