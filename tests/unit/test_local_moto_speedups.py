"""The embedded stack's speed-ups of moto answer exactly what moto answers (moto in-process)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from infra.local import patching
from infra.local import stack as embedded_stack
from tests.builders import keyed_by_pk_sk

REGION = "eu-central-1"
TABLE = "speedups-test"


@pytest.fixture
def dynamodb(moto_in_process: None) -> Any:
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(
        TableName=TABLE,
        **keyed_by_pk_sk("G"),
        GlobalSecondaryIndexes=[
            {
                "IndexName": "ByG",
                "KeySchema": [{"AttributeName": "G", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for p in range(5):
        for s in range(12):
            client.put_item(
                TableName=TABLE,
                Item={
                    "PK": {"S": f"ORDER#{p}"},
                    "SK": {"S": f"EVENT#{s:03d}"},
                    "G": {"S": f"g{s % 3}"},
                    "n": {"N": str(s)},
                },
            )
    return client


QUERIES: list[dict[str, Any]] = [
    {"KeyConditionExpression": "PK = :p", "ExpressionAttributeValues": {":p": {"S": "ORDER#2"}}},
    {
        "KeyConditionExpression": "PK = :p AND begins_with(SK, :s)",
        "ExpressionAttributeValues": {":p": {"S": "ORDER#1"}, ":s": {"S": "EVENT#00"}},
        "ScanIndexForward": False,
    },
    {
        "KeyConditionExpression": "PK = :p AND SK BETWEEN :a AND :b",
        "FilterExpression": "n > :n",
        "ExpressionAttributeValues": {
            ":p": {"S": "ORDER#3"},
            ":a": {"S": "EVENT#002"},
            ":b": {"S": "EVENT#010"},
            ":n": {"N": "4"},
        },
    },
    {"KeyConditionExpression": "PK = :p", "ExpressionAttributeValues": {":p": {"S": "NONE"}}},
    {
        "IndexName": "ByG",
        "KeyConditionExpression": "G = :g",
        "ExpressionAttributeValues": {":g": {"S": "g1"}},
    },
]


def all_pages(client: Any, request: dict[str, Any], limit: int | None) -> list[Any]:
    pages, start = [], None
    while True:
        extra: dict[str, Any] = {"Limit": limit} if limit else {}
        if start:
            extra["ExclusiveStartKey"] = start
        page = client.query(TableName=TABLE, **request, **extra)
        pages.append((page["Items"], page.get("LastEvaluatedKey"), page["Count"]))
        start = page.get("LastEvaluatedKey")
        if not start:
            return pages


@pytest.mark.parametrize("limit", [None, 5])
def test_a_query_on_one_partition_answers_as_moto_does(dynamodb: Any, limit: int | None) -> None:
    expected = [all_pages(dynamodb, q, limit) for q in QUERIES]
    with patching.installed(embedded_stack._query_one_partition):
        actual = [all_pages(dynamodb, q, limit) for q in QUERIES]
    assert actual == expected
    assert len(expected[0][0][0] if limit is None else expected[0]) > 1


class Untouchable:
    """An item the query must not look at: any attribute read fails."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"read .{name} of an item in another partition")


def test_a_query_on_one_partition_reads_no_other_partition(dynamodb: Any) -> None:
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.dynamo_type import DynamoType

    table = dynamodb_backends["123456789012"][REGION].tables[TABLE]
    table.items[DynamoType({"S": "ORDER#0"})][DynamoType({"S": "X"})] = Untouchable()
    with patching.installed(embedded_stack._query_one_partition):
        page = dynamodb.query(TableName=TABLE, **QUERIES[0])
    assert page["Count"] == 12
