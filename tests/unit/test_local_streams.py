"""The stream poller keeps a position, not an iterator: it follows the table's current stream
when the stream object is replaced under it, when iterators expire, and when a delivery fails.
Against moto in-process (no sockets)."""

from __future__ import annotations

import copy
import time
from typing import Any

import boto3
import pytest

from infra.local import patching
from infra.local import stack as embedded_stack
from infra.local.deployer import StreamMapping
from infra.local.streams import MappingState, Record, StreamPoller

REGION = "eu-central-1"
TABLE = "streams-test"


class RecordingPoller(StreamPoller):
    """Delivers to a list instead of invoking a Lambda function."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.delivered: list[str] = []
        self.fail_next = 0

    def _invoke(self, state: MappingState, batch: list[Record]) -> int | None:
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("the invoke itself failed")
        self.delivered += [r["dynamodb"]["Keys"]["PK"]["S"] for r in batch]
        return None


@pytest.fixture
def aws(moto_in_process: None) -> Any:
    session = boto3.Session(region_name=REGION)
    description = session.client("dynamodb").create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]
    return session, description["LatestStreamArn"]


def make_poller(session: Any, stream_arn: str, reported: list[str], **kwargs: Any) -> Any:
    mapping = StreamMapping(
        function_name="f",
        stream_arn=stream_arn,
        batch_size=10,
        filters=[],
        bisect_on_error=False,
        maximum_retry_attempts=-1,
        report_batch_item_failures=False,
        on_failure_arn=None,
        starting_position="TRIM_HORIZON",
    )
    poller = RecordingPoller(
        [mapping],
        session,
        endpoint=None,
        region=REGION,
        report=lambda error, context="": reported.append(f"{context}: {error}"),
        **kwargs,
    )
    for state in poller.states:
        poller._discover_shards(state)
    return poller


def put(session: Any, pk: str) -> None:
    session.client("dynamodb").put_item(TableName=TABLE, Item={"PK": {"S": pk}})


def poll_until(poller: Any, expected: list[str], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while poller.delivered != expected and time.monotonic() < deadline:
        poller.poll_once()
        time.sleep(0.01)
    assert poller.delivered == expected


def test_the_poller_follows_a_table_whose_stream_object_was_replaced(aws: Any) -> None:
    from moto.dynamodb.models import dynamodb_backends

    session, stream_arn = aws
    reported: list[str] = []
    poller = make_poller(session, stream_arn, reported, refresh_seconds=0.05)
    put(session, "before")
    poll_until(poller, ["before"])

    # What moto's own transact_write_items did on every cancelled transaction.
    tables = dynamodb_backends["123456789012"][REGION].tables
    tables[TABLE] = copy.deepcopy(tables[TABLE])
    put(session, "after")

    poll_until(poller, ["before", "after"])  # resumed after "before": nothing twice
    assert poller.reanchored >= 1
    assert reported == []


def test_expired_iterators_are_renewed_from_the_position(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    session, stream_arn = aws
    monkeypatch.setattr(embedded_stack, "SHARD_ITERATOR_LIFETIME_SECONDS", 0.05)
    with patching.installed(embedded_stack._expire_shard_iterators):
        reported: list[str] = []
        poller = make_poller(session, stream_arn, reported, refresh_seconds=60)
        put(session, "one")
        poll_until(poller, ["one"])
        time.sleep(0.1)  # the iterator the poller holds expires
        put(session, "two")
        poll_until(poller, ["one", "two"])
        assert reported == []  # an expired iterator is routine, not a harness error


def test_a_failed_delivery_is_reported_and_retried_from_the_position(aws: Any) -> None:
    session, stream_arn = aws
    reported: list[str] = []
    poller = make_poller(session, stream_arn, reported, refresh_seconds=60)
    put(session, "first")
    poll_until(poller, ["first"])
    put(session, "second")
    poller.fail_next = 1

    poller.poll_once()
    assert poller.delivered == ["first"]
    assert len(reported) == 1 and "the invoke itself failed" in reported[0]

    poll_until(poller, ["first", "second"])
