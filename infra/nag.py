"""cdk-nag AwsSolutions at synth. Every finding is fixed in the constructs or acknowledged, on
the construct it concerns (or by its exact evidence), with the reason it is acceptable."""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Stack, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

_PREFIX = "AwsSolutions::AwsSolutions-"
REASONS = {
    "IAM5[Resource::*]": (
        "Only X-Ray's xray:PutTraceSegments/PutTelemetryRecords, added by active tracing: "
        "X-Ray supports no resource-level permissions."
    ),
    "IAM5[Resource::<StorageTableB43FDCE7.Arn>/index/*]": (
        "dynamodb:Query on the table's own GSIs (orders by status / by date), for the API and "
        "the reconciler only."
    ),
    "IAM5[Resource::<StorageDocumentsCD3FCE94.Arn>/inbox/*]": (
        "The stream router may only GetObject the large raw bodies every source stored under "
        "inbox/ (each ingress function may write only its own inbox/<source>/ prefix)."
    ),
    "IAM5[Resource::<StorageDocumentsCD3FCE94.Arn>/orders/*]": (
        "Order details too large for a DynamoDB item, under the orders/ prefix, keyed by their "
        "content hash: written by the stream router, read by the fulfilment steps."
    ),
    "IAM5[Resource::<FulfilmentTasksFunction634649D3.Arn>:*]": (
        "The state machine invokes the versions of its one task function (CDK's LambdaInvoke)."
    ),
    "L1": (
        "Pinned to python3.13 on purpose: the runtime the project builds wheels and .pyc for; "
        "a runtime upgrade is a deliberate, tested change."
    ),
    "APIG4": (
        "Webhook routes are authenticated in the function by each provider's signature over the "
        "raw body; /api/v1 routes by hashed bearer API keys with scopes, also in the function "
        "(a separate authorizer would add a hop and a cold start)."
    ),
    "SQS3": (
        "This queue is itself a dead-letter queue (a stream or rule destination), with an alarm."
    ),
    "S1": (
        "Private bucket read and written only by this stack's roles; CloudTrail data events are "
        "the audit trail where a shop needs one."
    ),
    "SMG4": (
        "Webhook secrets are issued by the providers and rotated in their dashboards; Secrets "
        "Manager rotation cannot call them. The functions re-read the secret every 5 minutes."
    ),
}
STACK_WIDE = [rule for rule in REASONS if rule.startswith("IAM5[")]


def acknowledge(scope: IConstruct, *rules: str) -> None:
    Validations.of(scope).acknowledge(
        *(Acknowledgment(id=_PREFIX + rule, reason=REASONS[rule]) for rule in rules)
    )


def acknowledge_evidence(scope: IConstruct, rule: str, reason: str) -> None:
    """For findings whose evidence names a resource only known at synth (a stage's names)."""
    Validations.of(scope).acknowledge(Acknowledgment(id=_PREFIX + rule, reason=reason))


def apply_nag(app: App, stack: Stack) -> None:
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    acknowledge(stack, *STACK_WIDE)
