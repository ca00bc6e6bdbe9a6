"""Data: the single table (stream on), the idempotency table, the documents bucket."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import StageConfig
from infra.nag import acknowledge
from shared.platform import schema

_S = dynamodb.AttributeType.STRING


class Storage(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig) -> None:
        super().__init__(scope, construct_id)
        removal = RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=schema.PARTITION_KEY, type=_S),
            sort_key=dynamodb.Attribute(name=schema.SORT_KEY, type=_S),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            # New and old images: reactions that compare before/after (stock projections) need
            # both, and a stream's view type cannot change without re-creating the stream.
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=schema.TTL_ATTRIBUTE,
            deletion_protection=config.retain_data,
            removal_policy=removal,
        )
        for index in schema.INDEXES:
            # GSI1: orders by status and date; GSI2: all orders by date. Both carry the list
            # columns, so listing never reads the base table.
            self.table.add_global_secondary_index(
                index_name=index,
                partition_key=dynamodb.Attribute(name=f"{index}PK", type=_S),
                sort_key=dynamodb.Attribute(name=f"{index}SK", type=_S),
                projection_type=dynamodb.ProjectionType.INCLUDE,
                non_key_attributes=list(schema.LIST_PROJECTION),
            )
        self.idempotency_table = dynamodb.Table(
            self,
            "IdempotencyTable",
            partition_key=dynamodb.Attribute(name="id", type=_S),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute="expiration",
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.documents = s3.Bucket(
            self,
            "Documents",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            removal_policy=removal,
            auto_delete_objects=False,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="inbox-bodies",
                    prefix="inbox/",
                    expiration=Duration.days(90),
                    noncurrent_version_expiration=Duration.days(7),
                )
            ],
        )
        acknowledge(self.documents, "S1")

    def grant_items(
        self, grantee: iam.IGrantable, *actions: str, leading_keys: tuple[str, ...] = ()
    ) -> None:
        """Item actions on the base table only (no index ARNs unless asked for).

        `leading_keys` restricts them to items whose partition key matches one of the
        patterns (IAM's dynamodb:LeadingKeys, e.g. "INBOX#*"): the item families a function
        owns, so a webhook function cannot write an order even if its code were subverted."""
        conditions = (
            {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": list(leading_keys)}}
            if leading_keys
            else None
        )
        principal = grantee.grant_principal
        principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[f"dynamodb:{action}" for action in actions],
                resources=[self.table.table_arn],
                conditions=conditions,
            )
        )

    def grant_index_query(self, grantee: iam.IGrantable) -> None:
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["dynamodb:Query"],
            resource_arns=[f"{self.table.table_arn}/index/*"],
        )

    def grant_inbox_blobs(
        self, grantee: iam.IGrantable, *, read: bool = False, source: str | None = None
    ) -> None:
        """An ingress function writes large raw bodies under inbox/<its source>/ only; the
        stream router reads them all."""
        prefix = f"inbox/{source}/*" if source else "inbox/*"
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["s3:GetObject"] if read else ["s3:PutObject"],
            resource_arns=[self.documents.arn_for_objects(prefix)],
        )

    def grant_order_documents(self, grantee: iam.IGrantable, *, write: bool) -> None:
        """Order details too large for an item live under orders/."""
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["s3:GetObject", "s3:PutObject"] if write else ["s3:GetObject"],
            resource_arns=[self.documents.arn_for_objects("orders/*")],
        )
