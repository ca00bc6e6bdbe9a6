"""The embedded stack's TransactWriteItems (infra/local/transactions.py), against moto in-process.

moto's own implementation replaced the table object on cancellation (so a stream poller kept
reading a stream that no longer grew), deep-copied whole tables per transaction, let a cancelled
transaction's writes reach the stream, and applied a botocore retry of a committed transaction
a second time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from infra.local import patching, transactions
from tests.builders import keyed_by_pk_sk

REGION = "eu-central-1"
TABLE = "transactions-test"


@pytest.fixture
def dynamodb(moto_in_process: None) -> Iterator[Any]:
    with patching.installed(transactions.install):
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(
            TableName=TABLE,
            **keyed_by_pk_sk(),
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        yield client


def backend_table() -> Any:
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends["123456789012"][REGION].tables[TABLE]


def key(pk: str) -> dict[str, Any]:
    return {"PK": {"S": pk}, "SK": {"S": "A"}}


def put(pk: str, **attrs: Any) -> dict[str, Any]:
    return {"Put": {"TableName": TABLE, "Item": {**key(pk), **attrs}}}


def stream_events() -> list[tuple[str, str]]:
    shard = backend_table().stream_shard
    return [(r.record["eventName"], r.record["dynamodb"]["Keys"]["PK"]["S"]) for r in shard.items]


def test_a_failed_condition_cancels_with_reasons_and_writes_nothing(dynamodb: Any) -> None:
    dynamodb.put_item(TableName=TABLE, Item={**key("order"), "v": {"N": "1"}})
    table_before = backend_table()
    events_before = stream_events()

    with pytest.raises(ClientError) as raised:
        dynamodb.transact_write_items(
            TransactItems=[
                put("new-a", v={"N": "1"}),
                {
                    "Put": {
                        "TableName": TABLE,
                        "Item": {**key("order"), "v": {"N": "2"}},
                        "ConditionExpression": "attribute_not_exists(PK)",
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
                put("new-b", v={"N": "1"}),
            ]
        )

    error = raised.value.response
    assert error["Error"]["Code"] == "TransactionCanceledException"
    reasons = error["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "ConditionalCheckFailed", "None"]
    assert reasons[1]["Item"] == {**key("order"), "v": {"N": "1"}}
    assert backend_table() is table_before  # the stream a poller holds is still the table's
    assert stream_events() == events_before  # no partial write reached the stream
    for pk in ("new-a", "new-b"):
        assert "Item" not in dynamodb.get_item(TableName=TABLE, Key=key(pk))


def test_conditions_see_the_state_before_the_transaction(dynamodb: Any) -> None:
    dynamodb.put_item(TableName=TABLE, Item={**key("stock"), "n": {"N": "5"}})
    dynamodb.transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": TABLE,
                    "Key": key("stock"),
                    "UpdateExpression": "SET n = n - :one",
                    "ConditionExpression": "n >= :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
            {
                "ConditionCheck": {
                    "TableName": TABLE,
                    "Key": key("other"),
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            },
        ]
    )
    item = dynamodb.get_item(TableName=TABLE, Key=key("stock"))["Item"]
    assert item["n"] == {"N": "4"}


def test_a_committed_transaction_leaves_one_stream_record_per_changed_item(dynamodb: Any) -> None:
    dynamodb.put_item(TableName=TABLE, Item={**key("same"), "v": {"N": "1"}})
    before = len(stream_events())
    dynamodb.transact_write_items(
        TransactItems=[
            {  # an Update that creates its item: moto alone records two INSERTs
                "Update": {
                    "TableName": TABLE,
                    "Key": key("created"),
                    "UpdateExpression": "SET v = :v",
                    "ExpressionAttributeValues": {":v": {"N": "1"}},
                }
            },
            put("same", v={"N": "1"}),  # changes nothing: DynamoDB writes no record
            put("fresh", v={"N": "1"}),
        ]
    )
    added = backend_table().stream_shard.items[before:]
    assert [(r.record["eventName"], r.record["dynamodb"]["Keys"]["PK"]["S"]) for r in added] == [
        ("INSERT", "created"),
        ("INSERT", "fresh"),
    ]
    assert added[0].record["dynamodb"]["NewImage"]["v"] == {"N": "1"}
    numbers = [int(r.record["dynamodb"]["SequenceNumber"]) for r in added]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)


def test_a_failure_while_applying_restores_the_touched_items_in_place(dynamodb: Any) -> None:
    dynamodb.put_item(TableName=TABLE, Item={**key("kept"), "v": {"S": "text"}})
    table_before = backend_table()
    events_before = stream_events()

    with pytest.raises(ClientError) as raised:
        dynamodb.transact_write_items(
            TransactItems=[
                put("first", v={"N": "1"}),
                {  # passes the condition phase, fails when applied: a string plus a number
                    "Update": {
                        "TableName": TABLE,
                        "Key": key("kept"),
                        "UpdateExpression": "SET v = v + :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
            ]
        )

    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert backend_table() is table_before
    assert stream_events() == events_before
    assert "Item" not in dynamodb.get_item(TableName=TABLE, Key=key("first"))
    assert dynamodb.get_item(TableName=TABLE, Key=key("kept"))["Item"]["v"] == {"S": "text"}


def add_one(pk: str) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": TABLE,
            "Key": key(pk),
            "UpdateExpression": "ADD n :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
    }


def test_a_retry_with_the_same_client_token_succeeds_without_applying_again(
    dynamodb: Any,
) -> None:
    # botocore fills ClientRequestToken itself and re-sends it unchanged when it retries a
    # request that timed out, though the first copy may have committed.
    dynamodb.transact_write_items(TransactItems=[add_one("counter")], ClientRequestToken="t-1")
    dynamodb.transact_write_items(TransactItems=[add_one("counter")], ClientRequestToken="t-1")
    assert dynamodb.get_item(TableName=TABLE, Key=key("counter"))["Item"]["n"] == {"N": "1"}

    dynamodb.transact_write_items(TransactItems=[add_one("counter")])  # a fresh token
    assert dynamodb.get_item(TableName=TABLE, Key=key("counter"))["Item"]["n"] == {"N": "2"}


def test_the_same_client_token_with_a_different_request_is_a_mismatch(dynamodb: Any) -> None:
    dynamodb.transact_write_items(TransactItems=[add_one("a")], ClientRequestToken="t-2")
    with pytest.raises(dynamodb.exceptions.IdempotentParameterMismatchException):
        dynamodb.transact_write_items(TransactItems=[add_one("b")], ClientRequestToken="t-2")
    assert "Item" not in dynamodb.get_item(TableName=TABLE, Key=key("b"))


def test_a_client_token_is_remembered_for_ten_minutes_only() -> None:
    tokens = transactions.ClientTokens(window_seconds=0.0)
    tokens.succeeded("t", "request")
    assert not tokens.seen("t", "request")


def test_a_client_token_works_with_binary_attributes(dynamodb: Any) -> None:
    item = put("blob", raw={"B": b"\x00\xffcompressed"})
    dynamodb.transact_write_items(TransactItems=[item], ClientRequestToken="t-3")
    dynamodb.transact_write_items(TransactItems=[item], ClientRequestToken="t-3")
    stored = dynamodb.get_item(TableName=TABLE, Key=key("blob"))["Item"]
    assert stored["raw"] == {"B": b"\x00\xffcompressed"}
