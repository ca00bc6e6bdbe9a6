"""Ingestion: the webhook functions, one per kind of provider, and each provider's secret."""

from __future__ import annotations

import json

from aws_cdk import Stack
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.storage import Storage
from infra.lambda_factory import PythonFunction
from infra.nag import acknowledge

# Which providers each webhook function serves; routes are /webhooks/<kind>/<provider>.
PROVIDERS = {
    "orders": ("shopify",),
    "payments": ("stripe",),
}


class Webhooks(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: StageConfig, storage: Storage
    ) -> None:
        super().__init__(scope, construct_id)
        stack_name = Stack.of(self).stack_name
        self.secrets: dict[str, secretsmanager.Secret] = {}
        self.functions: dict[str, PythonFunction] = {}
        for kind, providers in PROVIDERS.items():
            environment = {
                "TABLE_NAME": storage.table.table_name,
                "DOCUMENTS_BUCKET": storage.documents.bucket_name,
            }
            function = PythonFunction(
                self,
                f"{kind.capitalize()}Webhooks",
                handler=f"functions.webhooks_{kind}.handler.lambda_handler",
                description=f"POST /webhooks/{kind}/*: verify, map, store once in the inbox",
                config=config,
                environment=environment,
            )
            # The inbox write is the only table access a webhook needs, and only to the inbox
            # items of its own providers.
            storage.grant_items(
                function.function,
                "PutItem",
                leading_keys=tuple(f"INBOX#{provider}#*" for provider in providers),
            )
            storage.grant_inbox_blobs(function.function)
            for provider in providers:
                secret = secretsmanager.Secret(
                    self,
                    f"{provider.capitalize()}Secret",
                    secret_name=f"{stack_name}/{provider}",
                    description=f"{provider} webhook secret: set webhook_secret after deploy",
                    generate_secret_string=secretsmanager.SecretStringGenerator(
                        secret_string_template=json.dumps({"webhook_secret": ""}),
                        generate_string_key="unused",
                    ),
                )
                acknowledge(secret, "SMG4")
                secret.grant_read(function.function)
                function.function.add_environment(
                    f"{provider.upper()}_SECRET_ID", secret.secret_arn
                )
                self.secrets[provider] = secret
            self.functions[kind] = function
