"""TransactWriteItems for moto, with DynamoDB's semantics and none of its side effects.

moto 5.2's `DynamoDBBackend.transact_write_items` deep-copies every table it touches before each
transaction (O(table size)) and, on cancellation, *replaces* `backend.tables[name]` with that
copy: whoever holds the old table's StreamShard (a stream poller) then reads a stream that
never grows again. Its partial writes also reach the stream before the cancellation.

This implementation evaluates every condition against the state before the transaction (the
items of one transaction are distinct, so that is DynamoDB's semantics), cancels with per-item
reasons and writes nothing when one fails, otherwise applies the writes and leaves exactly one
stream record per changed item. If applying fails unexpectedly, only the touched items are
restored, in place, and the stream records it added are trimmed: the table object is never
replaced. `ClientRequestToken` is honoured as DynamoDB does: a repeat of a successful request
within 10 minutes succeeds without applying it again; the same token with a different request
is an IdempotentParameterMismatchException.
"""

from __future__ import annotations

import base64
import copy
import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from unittest import mock

from infra.local import patching

IDEMPOTENCY_WINDOW_SECONDS = 600.0
_WRITES = ("Put", "Update", "Delete")


@dataclass
class _Op:
    kind: str
    spec: dict[str, Any]
    table: Any
    hash_key: Any
    range_key: Any
    before: Any = None  # the item before the transaction (a private copy once applying)


def _idempotent_mismatch() -> Exception:
    from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException

    return DynamodbException(
        ERROR_TYPE_PREFIX + "IdempotentParameterMismatchException",
        "The request uses the same client token as a previous, but non-identical request.",
    )


def _parse(backend: Any, transact_items: list[dict[str, Any]]) -> list[_Op]:
    from moto.dynamodb.exceptions import (
        MockValidationException,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactWriteSingleOpException,
    )

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    ops: list[_Op] = []
    seen: set[tuple[str, Any, Any]] = set()
    for item in transact_items:
        if len(item) != 1:
            raise TransactWriteSingleOpException()
        kind, spec = next(iter(item.items()))
        if kind not in ("ConditionCheck", *_WRITES):
            raise MockValidationException(f"Unsupported transaction operation {kind}")
        table = backend.get_table(spec["TableName"])
        if kind == "Put":
            attrs = spec["Item"]
            key = {table.hash_key_attr: attrs.get(table.hash_key_attr)}
            if table.range_key_attr is not None:
                key[table.range_key_attr] = attrs.get(table.range_key_attr)
            key = {name: value for name, value in key.items() if value is not None}
        else:
            key = spec["Key"]
        hash_key, range_key = backend.get_keys_value(table, key)
        identity = (table.name, hash_key, range_key)
        if identity in seen:
            raise MultipleTransactionsException()
        seen.add(identity)
        ops.append(_Op(kind, spec, table, hash_key, range_key))
    return ops


def _check(ops: list[_Op]) -> None:
    """Every condition against the pre-transaction state; cancel (writing nothing) on a failure."""
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import TransactionCanceledException

    reasons: list[tuple[Any, Any, Any]] = []
    for op in ops:
        current = op.table.get_item(op.hash_key, op.range_key)
        op.before = current
        expression = op.spec.get("ConditionExpression")
        if expression is None:
            reasons.append((None, None, None))
            continue
        condition = get_filter_expression(
            expression,
            op.spec.get("ExpressionAttributeNames"),
            op.spec.get("ExpressionAttributeValues"),
        )
        if condition.expr(current):
            reasons.append((None, None, None))
            continue
        old = None
        if op.spec.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current is not None:
            old = current.to_json()["Attributes"]
        reasons.append(("ConditionalCheckFailed", "The conditional request failed", old))
    if any(code is not None for code, _, _ in reasons):
        raise TransactionCanceledException(reasons)


def _install(table: Any, hash_key: Any, range_key: Any, item: Any) -> None:
    """Put `item` (or nothing) at a key directly: no conditions, no stream record."""
    if range_key is not None:
        if item is None:
            table.items[hash_key].pop(range_key, None)
        else:
            table.items[hash_key][range_key] = item
    elif item is None:
        table.items.pop(hash_key, None)
    else:
        table.items[hash_key] = item


def _write(backend: Any, op: _Op) -> None:
    spec = op.spec
    name = spec["TableName"]
    if op.kind == "Put":
        backend.put_item(name, spec["Item"])
    elif op.kind == "Delete":
        backend.delete_item(name, spec["Key"])
    else:
        backend.update_item(
            name,
            spec["Key"],
            update_expression=spec["UpdateExpression"],
            expression_attribute_names=spec.get("ExpressionAttributeNames"),
            expression_attribute_values=spec.get("ExpressionAttributeValues"),
        )


def _record_changes(writes: list[_Op]) -> None:
    """One stream record per changed item, none for a write that changed nothing."""
    for op in writes:
        shard = op.table.stream_shard
        if shard is None:
            continue
        after = op.table.get_item(op.hash_key, op.range_key)
        if after is None and op.before is None:
            continue
        if after is not None and op.before is not None and after == op.before:
            continue
        shard.add(op.before, after)


def _apply(backend: Any, ops: list[_Op]) -> None:
    writes = [op for op in ops if op.kind in _WRITES]
    for op in writes:
        op.before = copy.deepcopy(op.before)  # one item, not the table
    shards = {id(op.table): op.table.stream_shard for op in writes if op.table.stream_shard}
    marks = {key: len(shard.items) for key, shard in shards.items()}
    applied: list[_Op] = []
    try:
        for op in writes:
            applied.append(op)
            _write(backend, op)
    except Exception:
        for op in reversed(applied):
            _install(op.table, op.hash_key, op.range_key, op.before)
        for key, shard in shards.items():
            del shard.items[marks[key] :]
        raise
    # moto adds a record per internal step (an Update that creates an item adds two INSERTs):
    # replace them with DynamoDB's one record per item.
    for key, shard in shards.items():
        del shard.items[marks[key] :]
    _record_changes(writes)


def transact_write_items(backend: Any, transact_items: list[dict[str, Any]]) -> None:
    """A drop-in for `DynamoDBBackend.transact_write_items` (run it under the DynamoDB lock)."""
    ops = _parse(backend, transact_items)
    _check(ops)
    _apply(backend, ops)


class ClientTokens:
    """ClientRequestToken -> (the request it came with, when it succeeded), for 10 minutes."""

    def __init__(self, window_seconds: float = IDEMPOTENCY_WINDOW_SECONDS) -> None:
        self._window = window_seconds
        self._seen: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()
        self.replayed = 0

    def _expire(self, now: float) -> None:
        while self._seen:
            token, (_, at) = next(iter(self._seen.items()))
            if now - at < self._window:
                break
            del self._seen[token]

    def seen(self, token: str, request: str) -> bool:
        """True when this exact request already succeeded under this token."""
        with self._lock:
            self._expire(time.monotonic())
            found = self._seen.get(token)
        if found is None:
            return False
        if found[0] != request:
            raise _idempotent_mismatch()
        self.replayed += 1
        return True

    def succeeded(self, token: str, request: str) -> None:
        with self._lock:
            self._seen[token] = (request, time.monotonic())
            self._seen.move_to_end(token)


def _comparable(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    return repr(value)


def install(patches: list[Any], tokens: ClientTokens | None = None) -> ClientTokens:
    """Patch moto's backend and response layer; the patches are appended for the caller to stop."""
    from moto.core.responses import ActionResult
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

    tokens = tokens or ClientTokens()
    original_response = DynamoHandler.transact_write_items

    def backend_method(self: Any, transact_items: list[dict[str, Any]]) -> None:
        transact_write_items(self, transact_items)

    def response_method(self: Any) -> Any:
        token = self.body.get("ClientRequestToken")
        if not token:
            return original_response(self)
        request = json.dumps(
            {k: v for k, v in self.body.items() if k != "ClientRequestToken"},
            sort_keys=True,
            default=_comparable,  # Binary attributes arrive as bytes
        )
        if tokens.seen(token, request):
            return ActionResult({"ConsumedCapacity": [], "ItemCollectionMetrics": {}})
        result = original_response(self)
        tokens.succeeded(token, request)
        return result

    patching.start(
        patches,
        mock.patch.object(DynamoDBBackend, "transact_write_items", backend_method),
        mock.patch.object(DynamoHandler, "transact_write_items", response_method),
    )
    return tokens
