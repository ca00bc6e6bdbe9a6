"""The HTTP API: webhook routes (authenticated by provider signatures in the function) and the
management API (bearer API keys with scopes, checked in the function)."""

from __future__ import annotations

import json

import jsii
from aws_cdk import Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk.aws_apigatewayv2_integrations import HttpLambdaIntegration
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.fulfilment import Fulfilment
from infra.constructs.ingress import Ingress
from infra.constructs.monitoring import Monitoring
from infra.constructs.storage import Storage
from infra.lambda_factory import RETENTION, PythonFunction
from infra.nag import acknowledge, acknowledge_evidence

API_ROUTES = (
    ("/api/v1/orders", apigwv2.HttpMethod.GET),
    ("/api/v1/orders/{order_id}", apigwv2.HttpMethod.GET),
    ("/api/v1/stock/{sku}", apigwv2.HttpMethod.GET),
    ("/api/v1/stock/{sku}", apigwv2.HttpMethod.PUT),
    ("/api/v1/orders/{order_id}/payment-session", apigwv2.HttpMethod.POST),
    ("/api/v1/orders/{order_id}/refunds", apigwv2.HttpMethod.POST),
    ("/api/v1/orders/{order_id}/refunds", apigwv2.HttpMethod.GET),
    ("/api/v1/orders/{order_id}/release", apigwv2.HttpMethod.POST),
    ("/api/v1/orders/{order_id}/bank-transfer", apigwv2.HttpMethod.POST),
    ("/api/v1/orders/{order_id}/payments", apigwv2.HttpMethod.POST),
    ("/api/v1/orders", apigwv2.HttpMethod.POST),
    ("/api/v1/orders/export.csv", apigwv2.HttpMethod.GET),
    ("/api/v1/orders/{order_id}/shipments", apigwv2.HttpMethod.POST),
    ("/api/v1/orders/{order_id}/shipments", apigwv2.HttpMethod.GET),
    ("/api/v1/listings/{channel}/{listing}", apigwv2.HttpMethod.PUT),
    ("/api/v1/listings/{channel}/{listing}", apigwv2.HttpMethod.GET),
    ("/api/v1/listings/{channel}/{listing}", apigwv2.HttpMethod.DELETE),
)
# <stack>/api-cursor: {"key": ...}, the key that signs list cursors (infra/local/seed.py fills
# it for the embedded stack).
CURSOR_KEY_NAME = "api-cursor"


@jsii.implements(apigwv2.IAccessLogSettings)
class _JsonAccessLogs:
    """JSON access logs with the standard fields (an HTTP API stage logs nothing by default)."""

    def __init__(self, group: logs.ILogGroup) -> None:
        self._destination = apigwv2.LogGroupLogDestination(group)

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw.AccessLogFormat:
        return apigw.AccessLogFormat.json_with_standard_fields(
            caller=False,
            http_method=True,
            ip=True,
            protocol=True,
            request_time=True,
            resource_path=True,
            response_length=True,
            status=True,
            user=False,
        )


class HttpApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        storage: Storage,
        ingress: Ingress,
        monitoring: Monitoring,
        fulfilment: Fulfilment,
    ) -> None:
        super().__init__(scope, construct_id)
        self.api = apigwv2.HttpApi(
            self, "Api", description="orderhub webhooks and API", create_default_stage=False
        )
        acknowledge(self.api, "APIG4")
        access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=RETENTION.get(config.log_retention_days, logs.RetentionDays.ONE_MONTH),
        )
        self.stage = apigwv2.HttpStage(
            self,
            "DefaultStage",
            http_api=self.api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(rate_limit=200, burst_limit=400),
            access_log_settings=_JsonAccessLogs(access_logs),
        )
        for provider in ingress.providers():  # a channel the shop does not sell on: none
            if provider.name not in ingress.webhooks:
                continue  # not a webhook provider
            assert provider.path is not None  # a webhook provider has its route
            self.api.add_routes(
                path=provider.path,
                methods=[apigwv2.HttpMethod.POST],
                integration=HttpLambdaIntegration(
                    f"{provider.construct_name}WebhookIntegration",
                    ingress.webhooks[provider.name].function,
                ),
            )

        self.api_function = PythonFunction(
            self,
            "Management",
            handler="functions.api.handler.lambda_handler",
            description="/api/v1: orders and stock behind scoped API keys",
            config=config,
            environment={
                "TABLE_NAME": storage.table.table_name,
                "DOCUMENTS_BUCKET": storage.documents.bucket_name,
            },
        )
        storage.grant_items(self.api_function.function, "GetItem", "Query")
        # Its writes: stock counts (PUT /api/v1/stock/{sku}) on SKU# items, and an order's
        # payment sessions, refunds and hold (ORDER# items: its payments' refund_committed,
        # the timeline entries the refunds and releases write).
        # Own-store orders (POST /api/v1/orders): the channel key, the order, its idempotency
        # record; listing mappings (PUT /api/v1/listings/...); shipments in the order's
        # partition (and the stock they take out, SKU#).
        storage.grant_items(
            self.api_function.function,
            "PutItem",
            "UpdateItem",
            leading_keys=(
                "SKU#*",
                "ORDER#*",
                "PAYREF#*",
                "CHANNEL#store#*",
                "IDEMPOTENCY#*",
                "LISTING#*",
            ),
        )
        # A recorded bank transfer that pays a waiting order resumes its workflow and drops
        # the task token it waited on (ORDER#<id> / WAIT#payment); a shipment takes a
        # reservation out (SKU#<sku> / RES#<order>); a listing's mapping is removed.
        storage.grant_items(
            self.api_function.function,
            "DeleteItem",
            leading_keys=("ORDER#*", "SKU#*", "LISTING#*", "PARKED#CHANNEL#store#*"),
        )
        # Own-store orders start their workflow like every channel's, and a large one keeps
        # its details in S3 (orders/).
        fulfilment.state_machine.grant_start_execution(self.api_function.function)
        self.api_function.function.add_environment(
            "PAYMENT_WINDOW_SECONDS", str(config.payment_window_seconds)
        )
        ingress.grant_payment_gateways(self.api_function)
        # Releasing a held order resumes its workflow (SendTaskSuccess on its token).
        self.api_function.function.add_environment(
            "STATE_MACHINE_ARN", fulfilment.state_machine_arn
        )
        fulfilment.grant_task_response(self.api_function.function)
        self.cursor_secret = secretsmanager.Secret(
            self,
            "CursorKey",
            secret_name=f"{Stack.of(self).stack_name}/{CURSOR_KEY_NAME}",
            description="Signs the management API's list cursors (HMAC-SHA256); generated",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({}),
                generate_string_key="key",
                password_length=64,
                exclude_punctuation=True,
            ),
        )
        acknowledge_evidence(
            self.cursor_secret,
            "SMG4",
            "A random key only this API reads; rotating it (put a new value) only ends the "
            "cursors issued before, which callers get again by listing from the first page.",
        )
        self.cursor_secret.grant_read(self.api_function.function)
        self.api_function.function.add_environment(
            "CURSOR_SECRET_ID", self.cursor_secret.secret_arn
        )
        storage.grant_index_query(self.api_function.function)
        storage.grant_order_documents(self.api_function.function, write=True)
        api_integration = HttpLambdaIntegration("ManagementIntegration", self.api_function.function)
        for path, method in API_ROUTES:
            self.api.add_routes(path=path, methods=[method], integration=api_integration)

        monitoring.alarm(
            "Api5xx",
            self.api.metric_server_error(period=Duration.minutes(5), statistic="Sum"),
            description="The HTTP API answered 5xx: providers will retry, but look now.",
            threshold=5,
        )
        self.url = self.api.api_endpoint
        # Payment sessions and refunds give providers our webhook URLs to notify.
        self.api_function.function.add_environment("PUBLIC_URL", self.url)
