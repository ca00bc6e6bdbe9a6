"""The embedded stack's SQS poller sleeps until a message arrives (infra/local/queues.py): moto
tells it when one is added or made visible, and a wake cuts its sleep short."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from infra.local import patching
from infra.local.polling import PollingLoop
from infra.local.queues import wake_on_arrival


@pytest.fixture
def sqs(moto_in_process: None) -> Iterator[tuple[Any, list[int]]]:
    wakes: list[int] = []
    with patching.installed(wake_on_arrival, lambda: wakes.append(1)):
        yield boto3.client("sqs", region_name="eu-central-1"), wakes


def test_a_sent_message_and_a_visibility_change_wake_the_poller(sqs: tuple[Any, list[int]]) -> None:
    client, wakes = sqs
    url = client.create_queue(QueueName="arrivals")["QueueUrl"]
    client.send_message(QueueUrl=url, MessageBody="one")
    client.send_message_batch(
        QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "two"}, {"Id": "b", "MessageBody": "3"}]
    )
    assert len(wakes) == 3
    received = client.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"][0]
    client.change_message_visibility(
        QueueUrl=url, ReceiptHandle=received["ReceiptHandle"], VisibilityTimeout=0
    )
    assert len(wakes) == 4


class _Counting(PollingLoop):
    def __init__(self) -> None:
        super().__init__(interval_seconds=60, report=None)
        self.passes = 0
        self.polled = threading.Event()

    def poll_once(self) -> int:
        self.passes += 1
        self.polled.set()
        return 0


def test_a_wake_ends_the_sleep_and_stop_ends_the_loop() -> None:
    loop = _Counting()
    loop.start()
    try:
        assert loop.polled.wait(5)  # the first pass runs at once
        loop.polled.clear()
        loop.wake()
        assert loop.polled.wait(5)  # long before the 60 s interval
        assert loop.passes == 2
    finally:
        started = time.monotonic()
        loop.stop()
        assert time.monotonic() - started < 5
