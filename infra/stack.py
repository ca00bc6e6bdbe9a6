"""The orderhub stack: one per shop."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.api import HttpApi
from infra.constructs.events import DomainEvents
from infra.constructs.fulfilment import Fulfilment
from infra.constructs.monitoring import Monitoring
from infra.constructs.orders import OrderProcessing
from infra.constructs.storage import Storage
from infra.constructs.webhooks import PROVIDERS, Webhooks


class OrderhubStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        config = StageConfig.from_context(self)
        monitoring = Monitoring(self, "Monitoring", config=config)
        storage = Storage(self, "Storage", config=config)
        domain_events = DomainEvents(self, "DomainEvents")
        webhooks = Webhooks(self, "Webhooks", config=config, storage=storage)
        fulfilment = Fulfilment(
            self, "Fulfilment", config=config, storage=storage, monitoring=monitoring
        )
        OrderProcessing(
            self,
            "Orders",
            config=config,
            storage=storage,
            fulfilment=fulfilment,
            domain_events=domain_events,
            monitoring=monitoring,
        )
        api = HttpApi(
            self, "Http", config=config, storage=storage, webhooks=webhooks, monitoring=monitoring
        )

        CfnOutput(self, "ApiUrl", value=api.url, description="Base URL of webhooks and API")
        for kind, providers in PROVIDERS.items():
            for provider in providers:
                CfnOutput(
                    self,
                    f"{provider.capitalize()}WebhookUrl",
                    value=f"{api.url}/webhooks/{kind}/{provider}",
                    description=f"Configure this URL in {provider}",
                )
                CfnOutput(
                    self,
                    f"{provider.capitalize()}SecretName",
                    value=webhooks.secrets[provider].secret_name,
                    description=f"Put {provider}'s webhook secret here as webhook_secret",
                )
        CfnOutput(self, "TableName", value=storage.table.table_name)
        CfnOutput(self, "DocumentsBucket", value=storage.documents.bucket_name)
        CfnOutput(self, "EventBusName", value=domain_events.bus.event_bus_name)
        CfnOutput(self, "StateMachineArn", value=fulfilment.state_machine.state_machine_arn)
        CfnOutput(self, "AlarmTopicArn", value=monitoring.topic.topic_arn)
