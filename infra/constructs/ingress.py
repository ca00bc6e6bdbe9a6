"""Ingestion, derived from the provider registry (shared/registry.py): for every provider its
secret, and for a webhook provider its own function (PROVIDER=<name>) with its own role that
reads only that secret and writes only that provider's inbox items, and an alarm on its errors.
"""

from __future__ import annotations

import json

from aws_cdk import Duration, Stack
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.monitoring import Monitoring
from infra.constructs.storage import Storage
from infra.lambda_factory import PythonFunction
from infra.nag import acknowledge
from shared import registry
from shared.registry import Provider

WEBHOOK_HANDLER = "functions.webhooks.handler.lambda_handler"


def construct_name(provider: Provider) -> str:
    """'shopify' -> 'Shopify', 'przelewy24' -> 'Przelewy24' (CloudFormation logical ids)."""
    return "".join(part.capitalize() for part in provider.name.replace("-", "_").split("_"))


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
        stack_name = Stack.of(self).stack_name
        self.secrets: dict[str, secretsmanager.Secret] = {}
        self.webhooks: dict[str, PythonFunction] = {}
        for provider in registry.providers():
            name = construct_name(provider)
            secret = secretsmanager.Secret(
                self,
                f"{name}Secret",
                secret_name=f"{stack_name}/{provider.name}",
                description=f"{provider.title}: set "
                + ", ".join(f.name for f in provider.secrets)
                + " after deploy",
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    secret_string_template=json.dumps({f.name: "" for f in provider.secrets}),
                    generate_string_key="unused",
                ),
            )
            acknowledge(secret, "SMG4")
            self.secrets[provider.name] = secret
            if provider.path is not None:
                self.webhooks[provider.name] = self._webhook(
                    provider=provider,
                    name=name,
                    secret=secret,
                    config=config,
                    storage=storage,
                    monitoring=monitoring,
                )

    def _webhook(
        self,
        *,
        provider: Provider,
        name: str,
        secret: secretsmanager.Secret,
        config: StageConfig,
        storage: Storage,
        monitoring: Monitoring,
    ) -> PythonFunction:
        function = PythonFunction(
            self,
            f"{name}Webhook",
            handler=WEBHOOK_HANDLER,
            description=f"POST {provider.path}: verify, map, store once in the inbox",
            config=config,
            environment={
                "PROVIDER": provider.name,
                "SECRET_ID": secret.secret_arn,
                "TABLE_NAME": storage.table.table_name,
                "DOCUMENTS_BUCKET": storage.documents.bucket_name,
            },
        )
        # The inbox write is the only table access a webhook needs, and only to the inbox
        # items of its own provider.
        storage.grant_items(
            function.function, "PutItem", leading_keys=(f"INBOX#{provider.name}#*",)
        )
        storage.grant_inbox_blobs(function.function)
        secret.grant_read(function.function)
        monitoring.alarm(
            f"{name}WebhookErrors",
            function.function.metric_errors(period=Duration.minutes(5), statistic="Sum"),
            description=f"The {provider.title} webhook failed (5xx): deliveries are being "
            "retried by the provider; look at its logs.",
        )
        return function
