"""The single table: item (de)serialisation, conditional writes and transactions.

Uses the low-level client (the resource layer is slower to import and hides conditions).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from shared.kernel.errors import ConcurrentModification
from shared.platform import aws

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

Item = dict[str, Any]
AttributeValue = dict[str, Any]


class ConditionFailed(Exception):
    """A single-item conditional write found the item in another state."""

    def __init__(self, current: Item | None = None) -> None:
        super().__init__("condition failed")
        self.current = current


class TransactionConflict(Exception):
    """TransactWriteItems was cancelled; `failed` lists the indexes whose condition failed."""

    def __init__(self, failed: list[int], reasons: list[str]) -> None:
        super().__init__(f"transaction cancelled: {reasons}")
        self.failed = failed
        self.reasons = reasons


def serialize(value: Any) -> AttributeValue:  # noqa: PLR0911 - one branch per DynamoDB type
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | Decimal):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bytes | bytearray):
        return {"B": bytes(value)}
    if isinstance(value, Mapping):
        return {"M": {str(k): serialize(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [serialize(v) for v in value]}
    if isinstance(value, set | frozenset):
        return _serialize_set(value)
    raise TypeError(f"cannot store {type(value).__name__} in DynamoDB")


def _serialize_set(values: set[Any] | frozenset[Any]) -> AttributeValue:
    if not values:
        raise TypeError("DynamoDB cannot store an empty set; omit the attribute")
    if all(isinstance(v, str) for v in values):
        return {"SS": sorted(values)}
    if all(isinstance(v, int | Decimal) and not isinstance(v, bool) for v in values):
        return {"NS": sorted(str(v) for v in values)}
    if all(isinstance(v, bytes | bytearray) for v in values):
        return {"BS": sorted(bytes(v) for v in values)}
    raise TypeError("a DynamoDB set holds one type: strings, numbers or binary")


def deserialize(value: AttributeValue) -> Any:  # noqa: PLR0911 - one branch per DynamoDB type
    ((kind, inner),) = value.items()
    if kind == "S":
        return inner
    if kind == "N":
        number = Decimal(inner)
        return int(number) if number == number.to_integral_value() else number
    if kind == "BOOL":
        return inner
    if kind == "NULL":
        return None
    if kind == "B":
        # boto3 hands bytes; a Lambda stream event carries binary as base64 text.
        return base64.b64decode(inner) if isinstance(inner, str) else bytes(inner)
    if kind == "M":
        return {k: deserialize(v) for k, v in inner.items()}
    if kind == "L":
        return [deserialize(v) for v in inner]
    if kind == "NS":
        return {deserialize({"N": number}) for number in inner}
    if kind in ("SS", "BS"):
        return set(inner)
    raise TypeError(f"unknown DynamoDB type {kind}")


def to_item(values: Mapping[str, Any]) -> dict[str, AttributeValue]:
    return {k: serialize(v) for k, v in values.items() if v is not None}


def from_item(item: Mapping[str, Any]) -> Item:
    return {k: deserialize(v) for k, v in item.items()}


def set_clause(
    fields: Mapping[str, Any], *, prefix: str = "s"
) -> tuple[str, dict[str, str], dict[str, Any]]:
    """ "SET #s0 = :s0, ..." for a dict of fields, every name aliased (DynamoDB reserves
    hundreds of words: status, method, name, ...). Returns expression, names, values."""
    names = {f"#{prefix}{i}": name for i, name in enumerate(fields)}
    values = {f":{prefix}{i}": value for i, value in enumerate(fields.values())}
    expression = "SET " + ", ".join(f"#{prefix}{i} = :{prefix}{i}" for i in range(len(fields)))
    return expression, names, values


def key(pk: str, sk: str) -> dict[str, AttributeValue]:
    return {"PK": {"S": pk}, "SK": {"S": sk}}


def _add_expressions(
    request: dict[str, Any],
    condition: str | None,
    values: Mapping[str, Any] | None,
    names: Mapping[str, str] | None,
) -> None:
    if condition:
        request["ConditionExpression"] = condition
    if values:
        request["ExpressionAttributeValues"] = {k: serialize(v) for k, v in values.items()}
    if names:
        request["ExpressionAttributeNames"] = dict(names)


@dataclass
class Transaction:
    """Collects TransactWriteItems actions; `commit` maps cancellations to TransactionConflict."""

    table: Table
    actions: list[dict[str, Any]] = field(default_factory=list)

    def put(
        self,
        item: Mapping[str, Any],
        condition: str | None = None,
        values: Mapping[str, Any] | None = None,
        names: Mapping[str, str] | None = None,
    ) -> int:
        action: dict[str, Any] = {"TableName": self.table.name, "Item": to_item(item)}
        _add_expressions(action, condition, values, names)
        return self._add({"Put": action})

    def update(
        self,
        pk: str,
        sk: str,
        expression: str,
        *,
        condition: str | None = None,
        values: Mapping[str, Any] | None = None,
        names: Mapping[str, str] | None = None,
    ) -> int:
        action: dict[str, Any] = {
            "TableName": self.table.name,
            "Key": key(pk, sk),
            "UpdateExpression": expression,
        }
        _add_expressions(action, condition, values, names)
        return self._add({"Update": action})

    def delete(
        self,
        pk: str,
        sk: str,
        *,
        condition: str | None = None,
        values: Mapping[str, Any] | None = None,
        names: Mapping[str, str] | None = None,
    ) -> int:
        action: dict[str, Any] = {"TableName": self.table.name, "Key": key(pk, sk)}
        _add_expressions(action, condition, values, names)
        return self._add({"Delete": action})

    def commit(self) -> None:
        self.table.transact(self.actions)

    def _add(self, action: dict[str, Any]) -> int:
        self.actions.append(action)
        return len(self.actions) - 1


class Table:
    """The single table. The client is resolved on first use, never at construction."""

    def __init__(self, name: str, client: Callable[[], DynamoDBClient] = aws.dynamodb) -> None:
        self.name = name
        self._client_factory = client

    @property
    def client(self) -> DynamoDBClient:
        return self._client_factory()

    def get(self, pk: str, sk: str, *, consistent: bool = False) -> Item | None:
        response = self.client.get_item(
            TableName=self.name, Key=key(pk, sk), ConsistentRead=consistent
        )
        item = response.get("Item")
        return from_item(item) if item else None

    def put(
        self,
        item: Mapping[str, Any],
        *,
        condition: str | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> None:
        request: dict[str, Any] = {"TableName": self.name, "Item": to_item(item)}
        _add_expressions(request, condition, values, None)
        if condition:
            request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        try:
            self.client.put_item(**request)
        except ClientError as error:
            _raise_if_condition_failed(error)
            raise

    def update(
        self,
        pk: str,
        sk: str,
        expression: str,
        *,
        condition: str | None = None,
        values: Mapping[str, Any] | None = None,
        names: Mapping[str, str] | None = None,
    ) -> Item:
        request: dict[str, Any] = {
            "TableName": self.name,
            "Key": key(pk, sk),
            "UpdateExpression": expression,
            "ReturnValues": "ALL_NEW",
        }
        _add_expressions(request, condition, values, names)
        if condition:
            request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        try:
            response = self.client.update_item(**request)
        except ClientError as error:
            _raise_if_condition_failed(error)
            raise
        return from_item(response["Attributes"])

    def delete(
        self,
        pk: str,
        sk: str,
        *,
        condition: str | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> None:
        request: dict[str, Any] = {"TableName": self.name, "Key": key(pk, sk)}
        _add_expressions(request, condition, values, None)
        try:
            self.client.delete_item(**request)
        except ClientError as error:
            _raise_if_condition_failed(error)
            raise

    def query(self, **request: Any) -> tuple[list[Item], dict[str, Any] | None]:
        response = self.client.query(TableName=self.name, **request)
        items = [from_item(item) for item in response.get("Items", [])]
        return items, response.get("LastEvaluatedKey")

    def query_all(self, **request: Any) -> list[Item]:
        items: list[Item] = []
        while True:
            page, last = self.query(**request)
            items.extend(page)
            if not last:
                return items
            request["ExclusiveStartKey"] = last

    def transaction(self) -> Transaction:
        return Transaction(self)

    def transact(self, actions: Sequence[dict[str, Any]]) -> None:
        try:
            self.client.transact_write_items(TransactItems=list(actions))  # type: ignore[arg-type]
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            cancellations: list[dict[str, Any]] = error.response.get(  # type: ignore[assignment]
                "CancellationReasons", []
            )
            reasons = [reason.get("Code", "None") for reason in cancellations]
            failed = [i for i, code in enumerate(reasons) if code == "ConditionalCheckFailed"]
            if not failed:
                # Another transaction on the same items, or throttling: nothing is wrong with
                # the request, it only has to be tried again (a retryable domain error).
                raise ConcurrentModification(f"transaction cancelled: {reasons}") from error
            raise TransactionConflict(failed, reasons) from error


def _raise_if_condition_failed(error: ClientError) -> None:
    if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
        old: dict[str, Any] | None = error.response.get("Item")  # type: ignore[assignment]
        raise ConditionFailed(from_item(old) if old else None) from error
