"""The orderhub stack: one per shop."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.api import HttpApi
from infra.constructs.channels import ChannelPushes
from infra.constructs.events import DomainEvents
from infra.constructs.fulfilment import Fulfilment
from infra.constructs.ingress import Ingress
from infra.constructs.monitoring import Monitoring
from infra.constructs.orders import OrderProcessing
from infra.constructs.storage import Storage


class OrderhubStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        config = StageConfig.from_context(self)
        monitoring = Monitoring(self, "Monitoring", config=config)
        storage = Storage(self, "Storage", config=config)
        domain_events = DomainEvents(self, "DomainEvents")
        ingress = Ingress(self, "Ingress", config=config, storage=storage, monitoring=monitoring)
        fulfilment = Fulfilment(
            self, "Fulfilment", config=config, storage=storage, monitoring=monitoring
        )
        orders = OrderProcessing(
            self,
            "Orders",
            config=config,
            storage=storage,
            fulfilment=fulfilment,
            domain_events=domain_events,
            monitoring=monitoring,
            ingress=ingress,
        )
        api = HttpApi(
            self,
            "Http",
            config=config,
            storage=storage,
            ingress=ingress,
            monitoring=monitoring,
            fulfilment=fulfilment,
        )
        orders.public_url(api.url)
        pushes = ChannelPushes(
            self,
            "Channels",
            config=config,
            storage=storage,
            monitoring=monitoring,
            ingress=ingress,
        )
        pushes.grant_send(orders.router)

        CfnOutput(self, "ApiUrl", value=api.url, description="Base URL of webhooks and API")
        for provider in ingress.providers():
            name = provider.construct_name
            if provider.path is not None:
                CfnOutput(
                    self,
                    f"{name}WebhookUrl",
                    value=f"{api.url}{provider.path}",
                    description=f"Configure this URL in {provider.title}",
                )
            if provider.name in ingress.queues:
                queue = ingress.queues[provider.name]
                CfnOutput(
                    self,
                    f"{name}QueueArn",
                    value=queue.queue_arn,
                    description=f"Register this queue as {provider.title}'s destination",
                )
                CfnOutput(self, f"{name}QueueUrl", value=queue.queue_url)
            CfnOutput(
                self,
                f"{name}SecretName",
                value=ingress.secrets[provider.name].secret_name,
                description=f"Put {provider.title}'s "
                + (", ".join(f.name for f in provider.secrets) or "credentials")
                + " here",
            )
        CfnOutput(self, "TableName", value=storage.table.table_name)
        CfnOutput(self, "DocumentsBucket", value=storage.documents.bucket_name)
        CfnOutput(self, "EventBusName", value=domain_events.bus.event_bus_name)
        CfnOutput(self, "StateMachineArn", value=fulfilment.state_machine.state_machine_arn)
        CfnOutput(self, "AlarmTopicArn", value=monitoring.topic.topic_arn)
