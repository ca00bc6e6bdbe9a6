"""The domain event bus (docs/events.md) with an archive for replay."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from constructs import Construct


class DomainEvents(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(self, "Bus", description="orderhub domain events")
        self.bus.archive(
            "Archive",
            description="Every domain event for 30 days: replay into a new consumer or after a fix",
            event_pattern=events.EventPattern(account=[Stack.of(self).account]),
            retention=Duration.days(30),
        )
