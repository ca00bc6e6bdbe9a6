"""Deploy the synthesised template into moto: each resource created through boto3 under its
logical id, with intrinsics resolved. What moto cannot run faithfully is handed to the local
runtime instead (stream event source mappings, schedules, the HTTP API)."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any

from infra.local.template import Physical, Resolver

# Permissions and policies have no effect in moto; log groups and the HTTP API are served by
# the local runtime; the archive and metadata need no local counterpart.
NOT_EMULATED = {
    # Asynchronous-invocation retries and failure destinations: the local scheduler invokes
    # synchronously and reports a failing run as a harness error instead.
    "AWS::Lambda::EventInvokeConfig",
    "AWS::IAM::Policy",
    "AWS::Lambda::Permission",
    "AWS::SQS::QueuePolicy",
    "AWS::SNS::TopicPolicy",
    "AWS::S3::BucketPolicy",
    "AWS::Logs::LogGroup",
    "AWS::Events::Archive",
    "AWS::CDK::Metadata",
    "AWS::ApiGatewayV2::Api",
    "AWS::ApiGatewayV2::Stage",
    "AWS::ApiGatewayV2::Route",
    "AWS::ApiGatewayV2::Integration",
    "AWS::SNS::Subscription",
}


@dataclass
class StreamMapping:
    function_name: str
    stream_arn: str
    batch_size: int
    filters: list[dict[str, Any]]
    bisect_on_error: bool
    maximum_retry_attempts: int
    report_batch_item_failures: bool
    on_failure_arn: str | None
    starting_position: str


@dataclass
class QueueMapping:
    """An SQS event source mapping, run by infra/local/queues.py as Lambda's poller runs it."""

    function_name: str
    queue_arn: str
    batch_size: int
    report_batch_item_failures: bool


@dataclass
class ScheduledTarget:
    arn: str
    input: str | None
    retry_attempts: int
    dead_letter_arn: str | None


@dataclass
class Schedule:
    rule_name: str
    expression: str
    targets: list[ScheduledTarget]


@dataclass
class Deployment:
    physical: dict[str, Physical] = field(default_factory=dict)
    stream_mappings: list[StreamMapping] = field(default_factory=list)
    queue_mappings: list[QueueMapping] = field(default_factory=list)
    schedules: list[Schedule] = field(default_factory=list)
    functions: dict[str, str] = field(default_factory=dict)  # logical id -> function name
    secrets: dict[str, str] = field(default_factory=dict)  # secret name -> ARN


def _placeholder_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "runs in-process from the source tree")
    return buffer.getvalue()


class Deployer:
    def __init__(
        self,
        template: dict[str, Any],
        session: Any,
        *,
        endpoint: str | None,
        region: str,
        account: str,
        stack_name: str,
    ) -> None:
        self._template = template
        self._resources: dict[str, Any] = template["Resources"]
        self._session = session
        self._endpoint = endpoint
        self._region = region
        self._account = account
        self.deployment = Deployment()
        self._creating: set[str] = set()
        self.resolver = Resolver(
            template, region=region, account=account, stack_name=stack_name, ensure=self.ensure
        )
        self._zip = _placeholder_zip()

    def client(self, service: str) -> Any:
        return self._session.client(service, endpoint_url=self._endpoint)

    def deploy(self) -> Deployment:
        for logical in self._resources:
            self.ensure(logical)
        return self.deployment

    def ensure(self, logical: str) -> Physical:
        found = self.deployment.physical.get(logical)
        if found is not None:
            return found
        if logical in self._creating:
            raise RuntimeError(f"circular reference through {logical}")
        self._creating.add(logical)
        resource = self._resources[logical]
        depends_on = resource.get("DependsOn", [])
        for dependency in [depends_on] if isinstance(depends_on, str) else depends_on:
            self.ensure(dependency)
        if "Condition" in resource and not self.resolver.condition(resource["Condition"]):
            physical = Physical(ref=logical)
        else:
            properties = self.resolver.resolve(resource.get("Properties", {}))
            physical = self._create(logical, resource["Type"], properties)
        self.deployment.physical[logical] = physical
        self._creating.discard(logical)
        return physical

    # -- one method per resource type ------------------------------------------------------
    def _create(self, logical: str, kind: str, props: dict[str, Any]) -> Physical:
        creator = {
            "AWS::IAM::Role": self._role,
            "AWS::DynamoDB::Table": self._table,
            "AWS::SQS::Queue": self._queue,
            "AWS::SNS::Topic": self._topic,
            "AWS::S3::Bucket": self._bucket,
            "AWS::SecretsManager::Secret": self._secret,
            "AWS::Events::EventBus": self._bus,
            "AWS::Lambda::Function": self._function,
            "AWS::StepFunctions::StateMachine": self._state_machine,
            "AWS::Lambda::EventSourceMapping": self._event_source_mapping,
            "AWS::Events::Rule": self._rule,
            "AWS::CloudWatch::Alarm": self._alarm,
        }.get(kind)
        if creator is not None:
            return creator(logical, props)
        if kind in NOT_EMULATED:
            arn = f"arn:aws:local:{self._region}:{self._account}:{logical}"
            return Physical(ref=logical, attributes={"Arn": arn, "ApiEndpoint": "local"})
        raise NotImplementedError(f"the local stack cannot create {kind} ({logical})")

    def _arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self._region}:{self._account}:{resource}"

    def _role(self, logical: str, props: dict[str, Any]) -> Physical:
        role = self.client("iam").create_role(
            RoleName=logical,
            AssumeRolePolicyDocument=json.dumps(props.get("AssumeRolePolicyDocument", {})),
        )["Role"]
        return Physical(ref=logical, attributes={"Arn": role["Arn"], "RoleId": role["RoleId"]})

    def _table(self, logical: str, props: dict[str, Any]) -> Physical:
        name = props.get("TableName", logical)
        request: dict[str, Any] = {
            "TableName": name,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            request["GlobalSecondaryIndexes"] = [
                {k: v for k, v in index.items() if k != "ContributorInsightsSpecification"}
                for index in props["GlobalSecondaryIndexes"]
            ]
        if props.get("StreamSpecification"):
            request["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": props["StreamSpecification"]["StreamViewType"],
            }
        dynamodb = self.client("dynamodb")
        table = dynamodb.create_table(**request)["TableDescription"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
        return Physical(
            ref=name,
            attributes={
                "Arn": table["TableArn"],
                "StreamArn": table.get("LatestStreamArn", ""),
            },
        )

    def _queue(self, logical: str, props: dict[str, Any]) -> Physical:
        name = props.get("QueueName", logical)
        attributes: dict[str, str] = {
            key: str(props[key])
            for key in ("MessageRetentionPeriod", "VisibilityTimeout")
            if key in props
        }
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        return Physical(ref=url, attributes={"Arn": arn, "QueueName": name, "QueueUrl": url})

    def _topic(self, logical: str, props: dict[str, Any]) -> Physical:
        arn = self.client("sns").create_topic(Name=props.get("TopicName", logical))["TopicArn"]
        return Physical(ref=arn, attributes={"TopicArn": arn, "TopicName": logical})

    def _bucket(self, logical: str, props: dict[str, Any]) -> Physical:
        name = props.get("BucketName", logical.lower())
        s3 = self.client("s3")
        create: dict[str, Any] = {"Bucket": name}
        if self._region != "us-east-1":
            create["CreateBucketConfiguration"] = {"LocationConstraint": self._region}
        s3.create_bucket(**create)
        return Physical(
            ref=name,
            attributes={
                "Arn": f"arn:aws:s3:::{name}",
                "DomainName": f"{name}.s3.amazonaws.com",
                "RegionalDomainName": f"{name}.s3.{self._region}.amazonaws.com",
            },
        )

    def _secret(self, logical: str, props: dict[str, Any]) -> Physical:
        name = props.get("Name", logical)
        generate = props.get("GenerateSecretString")
        value = props.get("SecretString")
        if value is None and generate:
            template = json.loads(generate.get("SecretStringTemplate", "{}"))
            if generate.get("GenerateStringKey"):
                template[generate["GenerateStringKey"]] = "generated-locally"
            value = json.dumps(template)
        arn = self.client("secretsmanager").create_secret(
            Name=name,
            SecretString=value or "{}",
            Description=props.get("Description", ""),
        )["ARN"]
        self.deployment.secrets[name] = arn
        return Physical(ref=arn, attributes={"Id": arn})

    def _bus(self, logical: str, props: dict[str, Any]) -> Physical:
        name = props.get("Name", logical)
        arn = self.client("events").create_event_bus(Name=name)["EventBusArn"]
        return Physical(ref=name, attributes={"Arn": arn, "Name": name})

    def _function(self, logical: str, props: dict[str, Any]) -> Physical:
        name = props.get("FunctionName", logical)
        function = self.client("lambda").create_function(
            FunctionName=name,
            Runtime=props.get("Runtime", "python3.13"),
            Role=props["Role"],
            Handler=props["Handler"],
            Code={"ZipFile": self._zip},
            Description=props.get("Description", ""),
            Timeout=int(props.get("Timeout", 3)),
            MemorySize=int(props.get("MemorySize", 128)),
            Environment={"Variables": props.get("Environment", {}).get("Variables", {})},
            Architectures=props.get("Architectures", ["x86_64"]),
        )
        self.deployment.functions[logical] = name
        return Physical(ref=name, attributes={"Arn": function["FunctionArn"]})

    def _state_machine(self, logical: str, props: dict[str, Any]) -> Physical:
        definition = props.get("DefinitionString")
        if definition is None:
            definition = json.dumps(props["Definition"])
        for key, value in props.get("DefinitionSubstitutions", {}).items():
            definition = definition.replace("${" + key + "}", str(value))
        name = props.get("StateMachineName", logical)
        arn = self.client("stepfunctions").create_state_machine(
            name=name,
            definition=definition,
            roleArn=props["RoleArn"],
            type=props.get("StateMachineType", "STANDARD"),
        )["stateMachineArn"]
        return Physical(ref=arn, attributes={"Arn": arn, "Name": name})

    def _event_source_mapping(self, logical: str, props: dict[str, Any]) -> Physical:
        # Not created in moto: moto would invoke synchronously inside PutItem (or SendMessage),
        # one record at a time, ignoring batching, filters, partial failures, retries and the
        # DLQ. The embedded stack's pollers run them instead (streams.py, queues.py).
        if ":sqs:" in props["EventSourceArn"]:
            self.deployment.queue_mappings.append(
                QueueMapping(
                    function_name=props["FunctionName"],
                    queue_arn=props["EventSourceArn"],
                    batch_size=int(props.get("BatchSize", 10)),
                    report_batch_item_failures="ReportBatchItemFailures"
                    in props.get("FunctionResponseTypes", []),
                )
            )
            return Physical(ref=logical, attributes={"Id": logical})
        self.deployment.stream_mappings.append(
            StreamMapping(
                function_name=props["FunctionName"],
                stream_arn=props["EventSourceArn"],
                batch_size=int(props.get("BatchSize", 100)),
                filters=[
                    json.loads(f["Pattern"])
                    for f in props.get("FilterCriteria", {}).get("Filters", [])
                ],
                bisect_on_error=bool(props.get("BisectBatchOnFunctionError", False)),
                maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
                report_batch_item_failures="ReportBatchItemFailures"
                in props.get("FunctionResponseTypes", []),
                on_failure_arn=props.get("DestinationConfig", {})
                .get("OnFailure", {})
                .get("Destination"),
                starting_position=props.get("StartingPosition", "LATEST"),
            )
        )
        return Physical(ref=logical, attributes={"Id": logical})

    def _rule(self, logical: str, props: dict[str, Any]) -> Physical:
        name = props.get("Name", logical)
        events = self.client("events")
        request: dict[str, Any] = {"Name": name, "State": props.get("State", "ENABLED")}
        if props.get("EventBusName"):
            request["EventBusName"] = props["EventBusName"]
        if "ScheduleExpression" in props:
            request["ScheduleExpression"] = props["ScheduleExpression"]
        if "EventPattern" in props:
            request["EventPattern"] = json.dumps(props["EventPattern"])
        arn = events.put_rule(**request)["RuleArn"]
        targets = props.get("Targets", [])
        if "ScheduleExpression" in props:
            self.deployment.schedules.append(
                Schedule(
                    rule_name=name,
                    expression=props["ScheduleExpression"],
                    targets=[
                        ScheduledTarget(
                            arn=t["Arn"],
                            input=t.get("Input"),
                            retry_attempts=int(
                                t.get("RetryPolicy", {}).get("MaximumRetryAttempts", 185)
                            ),
                            dead_letter_arn=t.get("DeadLetterConfig", {}).get("Arn"),
                        )
                        for t in targets
                    ],
                )
            )
        elif targets:
            events.put_targets(
                Rule=name,
                EventBusName=props.get("EventBusName", "default"),
                Targets=[{"Id": t["Id"], "Arn": t["Arn"]} for t in targets],
            )
        return Physical(ref=name, attributes={"Arn": arn})

    def _alarm(self, logical: str, props: dict[str, Any]) -> Physical:
        request = {
            k: v
            for k, v in props.items()
            if k
            in {
                "AlarmDescription",
                "MetricName",
                "Namespace",
                "Statistic",
                "Period",
                "EvaluationPeriods",
                "Threshold",
                "ComparisonOperator",
                "TreatMissingData",
                "Dimensions",
                "AlarmActions",
            }
        }
        self.client("cloudwatch").put_metric_alarm(AlarmName=logical, **request)
        arn = self._arn("cloudwatch", f"alarm:{logical}")
        return Physical(ref=logical, attributes={"Arn": arn})
