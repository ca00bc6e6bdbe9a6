"""The synthesised template: what every function, table, stream, workflow and alarm must be."""

from __future__ import annotations

import importlib
import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.local.template import resources_of_type
from shared.platform import schema


@pytest.fixture(scope="module")
def cdk_template(template: dict[str, Any]) -> Template:
    return Template.from_json(template)


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return resources_of_type(template, "AWS::Lambda::Function")


def test_every_function_is_arm64_python313_traced_with_json_logs(
    template: dict[str, Any],
) -> None:
    # A webhook per webhook provider (six), WooCommerce's repair poller, Allegro's poller,
    # Amazon's queue consumer, the API, the router, the workflow's tasks, the two reconcilers
    # and the channel push consumer.
    assert len(functions(template)) == 15
    for logical, function in functions(template).items():
        props = function["Properties"]
        assert props["Runtime"] == "python3.13", logical
        assert props["Architectures"] == ["arm64"], logical
        assert props["TracingConfig"] == {"Mode": "Active"}, logical
        assert props["LoggingConfig"]["LogFormat"] == "JSON", logical
        assert "Ref" in props["LoggingConfig"]["LogGroup"], logical  # an explicit log group


def test_every_handler_string_names_real_code(template: dict[str, Any]) -> None:
    for function in functions(template).values():
        module, _, name = function["Properties"]["Handler"].rpartition(".")
        assert callable(getattr(importlib.import_module(module), name))


def test_function_roles_carry_no_managed_policies(template: dict[str, Any]) -> None:
    for logical, role in resources_of_type(template, "AWS::IAM::Role").items():
        assert "ManagedPolicyArns" not in role["Properties"], logical


def test_every_log_group_has_a_retention(template: dict[str, Any]) -> None:
    for logical, group in resources_of_type(template, "AWS::Logs::LogGroup").items():
        assert group["Properties"].get("RetentionInDays"), logical


def test_the_single_table_streams_both_images_with_pitr_ttl_and_list_indexes(
    cdk_template: Template,
) -> None:
    projection = {
        "ProjectionType": "INCLUDE",
        "NonKeyAttributes": Match.array_with(list(schema.LIST_PROJECTION)),
    }
    cdk_template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [
                {"AttributeName": "PK", "KeyType": "HASH"},
                {"AttributeName": "SK", "KeyType": "RANGE"},
            ],
            "BillingMode": "PAY_PER_REQUEST",
            "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
            "GlobalSecondaryIndexes": [
                Match.object_like({"IndexName": "GSI1", "Projection": projection}),
                Match.object_like({"IndexName": "GSI2", "Projection": projection}),
            ],
        },
    )
    cdk_template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "TimeToLiveSpecification": {"AttributeName": "expiration", "Enabled": True},
        },
    )


def test_the_stream_router_retries_bisects_and_dead_letters(template: dict[str, Any]) -> None:
    (mapping,) = (
        m
        for m in resources_of_type(template, "AWS::Lambda::EventSourceMapping").values()
        if "StartingPosition" in m["Properties"]  # the table's stream (the others are SQS)
    )
    props = mapping["Properties"]
    assert props["BisectBatchOnFunctionError"] is True
    assert props["MaximumRetryAttempts"] == 8
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    destination = props["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    assert template["Resources"][destination]["Type"] == "AWS::SQS::Queue"
    patterns = [json.loads(f["Pattern"]) for f in props["FilterCriteria"]["Filters"]]
    assert patterns[0]["dynamodb"]["NewImage"]["status"]["S"] == ["accepted", "malformed"]
    assert patterns[1]["dynamodb"]["Keys"]["SK"]["S"] == [{"prefix": "EVENT#"}]


def test_every_dead_letter_queue_has_an_alarm(template: dict[str, Any]) -> None:
    # Every queue, in fact: a dead-letter queue on its depth, a working queue on its age.
    queues = set(resources_of_type(template, "AWS::SQS::Queue"))
    watched = {
        dimension["Value"]["Fn::GetAtt"][0]
        for alarm in resources_of_type(template, "AWS::CloudWatch::Alarm").values()
        for dimension in alarm["Properties"].get("Dimensions", [])
        if dimension["Name"] == "QueueName"
    }
    assert queues and queues == watched
    for alarm in resources_of_type(template, "AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmActions"], "every alarm notifies the alarm topic"


def test_the_fulfilment_workflow_is_standard_logged_and_traced(cdk_template: Template) -> None:
    cdk_template.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "StateMachineType": "STANDARD",
            "TracingConfiguration": {"Enabled": True},
            "LoggingConfiguration": Match.object_like(
                {"Level": "ALL", "IncludeExecutionData": False}
            ),
        },
    )


def test_the_http_api_serves_the_webhooks_and_the_api(template: dict[str, Any]) -> None:
    routes = {
        r["Properties"]["RouteKey"]
        for r in resources_of_type(template, "AWS::ApiGatewayV2::Route").values()
    }
    assert routes == {
        "POST /webhooks/orders/shopify",
        "POST /webhooks/orders/woocommerce",
        "POST /webhooks/payments/stripe",
        "POST /webhooks/payments/payu",
        "POST /webhooks/payments/przelewy24",
        "POST /webhooks/payments/paypal",
        "GET /api/v1/orders",
        "GET /api/v1/orders/{order_id}",
        "GET /api/v1/stock/{sku}",
        "PUT /api/v1/stock/{sku}",
        "POST /api/v1/orders/{order_id}/payment-session",
        "POST /api/v1/orders/{order_id}/refunds",
        "GET /api/v1/orders/{order_id}/refunds",
        "POST /api/v1/orders/{order_id}/release",
        "POST /api/v1/orders/{order_id}/bank-transfer",
        "POST /api/v1/orders/{order_id}/payments",
        "POST /api/v1/orders",
        "GET /api/v1/orders/export.csv",
        "POST /api/v1/orders/{order_id}/shipments",
        "GET /api/v1/orders/{order_id}/shipments",
        "PUT /api/v1/listings/{channel}/{listing}",
        "GET /api/v1/listings/{channel}/{listing}",
        "DELETE /api/v1/listings/{channel}/{listing}",
    }
    (stage,) = resources_of_type(template, "AWS::ApiGatewayV2::Stage").values()
    assert stage["Properties"]["AccessLogSettings"]["DestinationArn"]
    assert stage["Properties"]["DefaultRouteSettings"]["ThrottlingRateLimit"] > 0


def _statements(template: dict[str, Any], function_logical_prefix: str) -> list[dict[str, Any]]:
    policies = resources_of_type(template, "AWS::IAM::Policy")
    return [
        statement
        for logical, policy in policies.items()
        if logical.startswith(function_logical_prefix)
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_webhook_functions_may_only_append_to_the_inbox(template: dict[str, Any]) -> None:
    for prefix in ("IngressShopifyWebhook", "IngressStripeWebhook"):
        actions: set[str] = set()
        for statement in _statements(template, prefix):
            found = statement["Action"]
            actions.update([found] if isinstance(found, str) else found)
        dynamodb = {a for a in actions if a.startswith("dynamodb:")}
        assert dynamodb == {"dynamodb:PutItem"}, prefix
        assert {a for a in actions if a.startswith("s3:")} == {"s3:PutObject"}, prefix
        assert not {a for a in actions if a.startswith("states:") or a.startswith("events:")}


def _dynamodb_writes(template: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    writes = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
    found = []
    for statement in _statements(template, prefix):
        actions = statement["Action"]
        if writes & set([actions] if isinstance(actions, str) else actions):
            found.append(statement)
    return found


def test_webhook_and_api_writes_are_limited_to_the_item_families_they_own(
    template: dict[str, Any],
) -> None:
    owned = {
        "IngressShopifyWebhook": ["INBOX#shopify#*"],
        "IngressStripeWebhook": ["INBOX#stripe#*"],
        "IngressPayuWebhook": ["INBOX#payu#*"],
        "IngressPrzelewy24Webhook": ["INBOX#przelewy24#*"],
        "IngressPaypalWebhook": ["INBOX#paypal#*"],
        "IngressWoocommerceWebhook": ["INBOX#woocommerce#*"],
        # Stock counts, and an order's payment sessions, refunds, release and recorded bank
        # transfers (with the payment's PAYREF# lookup item); own-store orders (their channel
        # key and idempotency record), listing mappings, shipments (and the reservations they
        # take out: SKU#), a parked payment an own-store order applies.
        "HttpManagement": [
            "SKU#*",
            "ORDER#*",
            "PAYREF#*",
            "CHANNEL#store#*",
            "IDEMPOTENCY#*",
            "LISTING#*",
            "PARKED#CHANNEL#store#*",
        ],
    }
    for prefix, leading_keys in owned.items():
        statements = _dynamodb_writes(template, prefix)
        assert statements, prefix
        for statement in statements:
            condition = statement["Condition"]["ForAllValues:StringLike"]
            assert set(condition) == {"dynamodb:LeadingKeys"}, prefix
            assert set(condition["dynamodb:LeadingKeys"]) <= set(leading_keys), prefix


def test_every_retried_error_name_is_one_the_tasks_can_report() -> None:
    """Step Functions matches a task's error by the exception's class name; a name nothing
    raises would silently turn a transient failure into a cancellation."""
    import boto3
    import botocore.exceptions

    from infra.constructs.fulfilment import TRANSIENT_ERRORS
    from shared.kernel import errors as domain_errors

    aws_codes = {
        name
        for service in ("dynamodb", "stepfunctions")
        for name in dir(boto3.client(service, region_name="eu-central-1").exceptions)
    }
    for name in TRANSIENT_ERRORS:
        known = (
            hasattr(domain_errors, name)
            or name in aws_codes
            or hasattr(botocore.exceptions, name)
            or name in {"Lambda.TooManyRequestsException", "Lambda.Unknown", "Sandbox.Timedout"}
        )
        assert known, name
    assert "ClientError" not in TRANSIENT_ERRORS  # would also retry permanent errors


# What an existing deployment holds: data, signing secrets, running executions. A changed logical
# id would make CloudFormation replace the resource (and fail on a fixed name, or lose data).
PINNED_LOGICAL_IDS = {
    "StorageTableB43FDCE7": "AWS::DynamoDB::Table",
    "StorageIdempotencyTable5D6E4193": "AWS::DynamoDB::Table",
    "StorageDocumentsCD3FCE94": "AWS::S3::Bucket",
    "DomainEventsBus42B15453": "AWS::Events::EventBus",
    "DomainEventsBusArchive26D681C1": "AWS::Events::Archive",
    "FulfilmentStateMachineE22F1BA6": "AWS::StepFunctions::StateMachine",
    "MonitoringAlarmTopicAF62D4F1": "AWS::SNS::Topic",
    "WebhooksShopifySecret5730534C": "AWS::SecretsManager::Secret",
    "WebhooksStripeSecret97E6BE8C": "AWS::SecretsManager::Secret",
    "HttpCursorKeyCAE686E1": "AWS::SecretsManager::Secret",
}


def test_stateful_and_named_resources_keep_their_logical_ids(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    for logical, kind in PINNED_LOGICAL_IDS.items():
        assert logical in resources and resources[logical]["Type"] == kind, logical
