"""The channel push queues: one SQS queue per channel with a client (its own dead-letter queue
and alarm; the event source's maximum concurrency is the channel's rate limit across
consumers), fed by the stream router with one message per `ShipmentCreated`.

A message is {"order_id", "shipment_id"}. Retries back off: a channel that is down or
throttling (ChannelUnavailable) makes the message visible again after the channel's
Retry-After, else after 30 s doubling per receive (at most 15 min), until the queue's
maxReceiveCount moves it to the DLQ (alarmed). A channel that refuses the push for good
(ChannelRejected) puts the order on the attention list and the message straight on the
DLQ: retrying cannot help, and a person must see it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.platform import aws

BASE_BACKOFF_SECONDS = 30
MAX_BACKOFF_SECONDS = 900  # SQS allows up to 12 h; a channel down longer alarms anyway


class PushMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    order_id: str
    shipment_id: str


def backoff_seconds(receive_count: int, retry_after: float | None) -> int:
    if retry_after is not None and retry_after > 0:
        return int(min(max(retry_after, 1), MAX_BACKOFF_SECONDS))
    return int(min(BASE_BACKOFF_SECONDS * 2 ** max(receive_count - 1, 0), MAX_BACKOFF_SECONDS))


class PushQueues:
    """Where the stream router sends a shipment: the queue of the order's channel
    (CHANNEL_PUSH_QUEUES: {channel: queue URL}); a channel with none is not told."""

    def __init__(self, urls: Mapping[str, str]) -> None:
        self._urls = dict(urls)

    @classmethod
    def from_json(cls, document: str) -> PushQueues:
        return cls(json.loads(document or "{}"))

    def send(self, channel: str, message: PushMessage) -> bool:
        url = self._urls.get(channel)
        if url is None:
            return False
        aws.client("sqs").send_message(QueueUrl=url, MessageBody=message.model_dump_json())
        return True


def queue_url_of(arn: str) -> str:
    """arn:aws:sqs:<region>:<account>:<name> -> its URL, as SQS answers it."""
    _, _, _, _, account, name = arn.split(":", 5)
    found: Any = aws.client("sqs").get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)
    return str(found["QueueUrl"])
