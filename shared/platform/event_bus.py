"""Publishes domain events to the EventBridge bus (docs/events.md is the contract)."""

from __future__ import annotations

import json

from shared.kernel.events import TimelineEntry, domain_event_detail
from shared.platform import aws

EVENT_SOURCE = "orderhub.orders"


class PublishFailed(RuntimeError):
    """EventBridge did not accept an entry; the stream record is retried."""


class EventBridgePublisher:
    def __init__(self, bus_name: str) -> None:
        self._bus = bus_name

    def publish(self, entry: TimelineEntry) -> None:
        response = aws.events().put_events(
            Entries=[
                {
                    "EventBusName": self._bus,
                    "Source": EVENT_SOURCE,
                    "DetailType": entry.type.value,
                    "Detail": json.dumps(domain_event_detail(entry), separators=(",", ":")),
                    "Resources": [f"orderhub:order/{entry.order_id}"],
                    "Time": entry.at,
                }
            ]
        )
        if response.get("FailedEntryCount"):
            failure = response["Entries"][0]
            raise PublishFailed(f"{failure.get('ErrorCode')}: {failure.get('ErrorMessage')}")
