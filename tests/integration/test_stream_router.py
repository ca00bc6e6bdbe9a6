"""The stream router with real stream records: partial batch failures, outbox publishing."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from infra.local.streams import as_lambda_record
from shared.domain.events import InboundEnvelope, OrderReceived, PaymentReported
from shared.store.inbox import InboxEntry, InboxRepository, InboxStatus
from shared.store.orders import OrderRepository
from shared.store.table import Table
from tests.builders import FakeContext, a_payment, an_order


@pytest.fixture
def router_env(table: Table, monkeypatch: pytest.MonkeyPatch) -> Table:
    role = boto3.client("iam").create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")
    machine = boto3.client("stepfunctions").create_state_machine(
        name="fulfilment",
        roleArn=role["Role"]["Arn"],
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
    )
    boto3.client("events").create_event_bus(Name="domain")
    monkeypatch.setenv("TABLE_NAME", table.name)
    monkeypatch.setenv("STATE_MACHINE_ARN", machine["stateMachineArn"])
    monkeypatch.setenv("EVENT_BUS_NAME", "domain")
    return table


def stream_records(table: Table) -> list[dict[str, Any]]:
    """Every record on the table's stream, in the shape Lambda delivers them."""
    streams = boto3.client("dynamodbstreams")
    arn = table.client.describe_table(TableName=table.name)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)["Records"]
    return [as_lambda_record(dict(r), stream_arn=arn, region="eu-central-1") for r in records]


def accepted(inbox: InboxRepository, event_id: str, envelope: InboundEnvelope) -> None:
    inbox.record(
        InboxEntry(
            source="test",
            event_id=event_id,
            topic="t",
            received_at=datetime.now(UTC),
            status=InboxStatus.ACCEPTED,
            raw_body=b"{}",
            envelope=envelope,
        )
    )


def test_a_failing_record_is_reported_alone_and_the_rest_take_effect(router_env: Table) -> None:
    from functions.stream_router.handler import lambda_handler

    inbox = InboxRepository(router_env)
    order = an_order(("MUG", 1, 4900))
    accepted(inbox, "order-1", InboundEnvelope(event=OrderReceived(order=order)))
    unknown_order_payment = a_payment(None, 4900, shopify_order="not-yet")
    accepted(
        inbox, "payment-1", InboundEnvelope(event=PaymentReported(payment=unknown_order_payment))
    )
    records = stream_records(router_env)

    result = lambda_handler({"Records": records}, FakeContext())

    failing = [
        r["dynamodb"]["SequenceNumber"]
        for r in records
        if r["dynamodb"]["Keys"]["PK"]["S"] == "INBOX#test#payment-1"
    ]
    assert result == {"batchItemFailures": [{"itemIdentifier": failing[0]}]}
    executions = boto3.client("stepfunctions").list_executions(
        stateMachineArn=os.environ["STATE_MACHINE_ARN"]
    )["executions"]
    assert len(executions) == 1 and executions[0]["name"].startswith("ord_")


def test_a_very_large_order_arrives_through_the_stream(router_env: Table) -> None:
    from functions.stream_router.handler import lambda_handler

    order = an_order(*[(f"SKU-{n:04d}", 1, 100) for n in range(1, 800)])
    accepted(
        InboxRepository(router_env), "big-1", InboundEnvelope(event=OrderReceived(order=order))
    )

    result = lambda_handler({"Records": stream_records(router_env)}, FakeContext())

    assert result == {"batchItemFailures": []}
    found = OrderRepository(router_env).find_by_channel("shopify", order.external_id)
    assert found is not None


def test_timeline_entries_become_domain_events(router_env: Table) -> None:
    from functions.stream_router.handler import lambda_handler

    inbox = InboxRepository(router_env)
    accepted(inbox, "order-1", InboundEnvelope(event=OrderReceived(order=an_order())))
    lambda_handler({"Records": stream_records(router_env)}, FakeContext())
    timeline = [
        r
        for r in stream_records(router_env)
        if r["dynamodb"]["Keys"]["SK"]["S"].startswith("EVENT#")
    ]
    assert len(timeline) == 1

    published: list[dict[str, Any]] = []
    events = boto3.client("events")
    original = events.put_events

    def capture(**request: Any) -> Any:
        published.extend(request["Entries"])
        return original(**request)

    from shared import aws

    client = aws.events()
    client.put_events = capture  # type: ignore[method-assign]
    result = lambda_handler({"Records": timeline}, FakeContext())

    assert result == {"batchItemFailures": []}
    (entry,) = published
    detail = json.loads(entry["Detail"])
    assert (entry["Source"], entry["DetailType"], entry["EventBusName"]) == (
        "orderhub.orders",
        "OrderReceived",
        "domain",
    )
    assert detail["event_id"].endswith("/1") and detail["schema_version"] == 1
    assert detail["status"] == "received"


def test_a_failing_delivery_is_listed_and_a_replay_processes_it_again(router_env: Table) -> None:
    from functions.stream_router.handler import lambda_handler

    inbox = InboxRepository(router_env)
    early = a_payment(None, 4900, shopify_order="5770099999")  # its order is not here yet
    accepted(inbox, "paid-early", InboundEnvelope(event=PaymentReported(payment=early)))
    delivery = [
        r
        for r in stream_records(router_env)
        if r["dynamodb"]["Keys"]["PK"]["S"] == "INBOX#test#paid-early"
    ]
    for _ in range(2):  # the first attempt and a retry; a batch failing whole raises
        with pytest.raises(BatchProcessingError):
            lambda_handler({"Records": delivery}, FakeContext())

    (failure,) = inbox.failures()
    assert (failure["source"], failure["event_id"], failure["attempts"]) == (
        "test",
        "paid-early",
        2,
    )
    assert failure["last_error"].startswith("OrderNotYetKnown")

    seen = len(stream_records(router_env))
    assert inbox.replay("test", "paid-early")

    replayed = [
        r["eventName"]
        for r in stream_records(router_env)[seen:]
        if r["dynamodb"]["Keys"]["PK"]["S"] == "INBOX#test#paid-early"
    ]
    assert replayed == ["REMOVE", "INSERT"]  # the INSERT is what the stream router reacts to
    assert inbox.failures() == []
    assert inbox.get("test", "paid-early") is not None
    assert not inbox.replay("test", "never-stored")
