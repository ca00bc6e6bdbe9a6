"""DynamoDB stream event source mappings, as Lambda runs them.

Polls each stream's shards, drops records the mapping's filters reject, invokes the function
with batches of up to BatchSize records, honours ReportBatchItemFailures (retry from the first
failed record), BisectBatchOnFunctionError and MaximumRetryAttempts, and sends what is still
failing to the on-failure destination with the same `DDBStreamBatchInfo` body Lambda sends.

Like Lambda's poller it keeps a position (the last sequence number it consumed), not one
iterator forever: when an iterator dies (expired, trimmed, the stream gone or replaced) and
whenever a shard has been idle for `refresh_seconds`, it rediscovers the stream's shards and
resumes AFTER_SEQUENCE_NUMBER its position. A batch that could not be delivered (the invoke
itself failed) is retried from that position; that failure is a harness error, reported.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.config import Config

from infra.local.deployer import StreamMapping
from infra.local.event_filters import matches
from infra.local.polling import PollingLoop

Record = dict[str, Any]
_ITERATOR_ENDED = {
    "ExpiredIteratorException",
    "TrimmedDataAccessException",
    "ResourceNotFoundException",
}


def _to_lambda_json(value: Any) -> Any:
    """boto3 gives bytes and datetimes; a Lambda event carries base64 strings and epoch numbers."""
    if isinstance(value, dict):
        return {k: _to_lambda_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_lambda_json(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, datetime):
        return int(value.timestamp())
    return value


def as_lambda_record(record: Record, *, stream_arn: str, region: str) -> Record:
    """A DynamoDB Streams API record in the shape Lambda delivers it to a function."""
    converted: Record = _to_lambda_json(record)
    converted["eventSourceARN"] = stream_arn
    converted["awsRegion"] = region
    converted["eventVersion"] = "1.1"
    return converted


@dataclass
class _Shard:
    shard_id: str
    iterator: str | None = None
    last_sequence: str | None = None  # the last record consumed (delivered or filtered out)
    anchored_at: float = 0.0  # monotonic time the iterator was obtained
    closed: bool = False  # a closed shard read to its end


Reporter = Callable[..., Any]


@dataclass
class MappingState:
    mapping: StreamMapping
    shards: dict[str, _Shard] = field(default_factory=dict)
    delivered: int = 0
    filtered_out: int = 0
    dead_lettered: int = 0
    invocations: int = 0


class StreamPoller(PollingLoop):
    thread_name = "stream-poller"

    def __init__(
        self,
        mappings: list[StreamMapping],
        session: Any,
        *,
        endpoint: str,
        region: str,
        retry_delay_seconds: float = 0.05,
        poll_interval_seconds: float = 0.05,
        refresh_seconds: float = 1.0,
        report: Reporter | None = None,
    ) -> None:
        self._streams = session.client("dynamodbstreams", endpoint_url=endpoint)
        # Lambda's own retry is ours (below), and an invocation may run up to 15 minutes.
        invoke_config = Config(read_timeout=900, retries={"total_max_attempts": 1})
        self._lambda = session.client("lambda", endpoint_url=endpoint, config=invoke_config)
        self._sqs = session.client("sqs", endpoint_url=endpoint)
        super().__init__(interval_seconds=poll_interval_seconds, report=report)
        self._region = region
        self._retry_delay = retry_delay_seconds
        self._refresh = refresh_seconds
        self.states = [MappingState(mapping) for mapping in mappings]
        self.errors: list[str] = []  # also passed to `report` (the stack's error record)
        self.reanchored = 0  # how often a shard was resumed from its position (tests)

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        for state in self.states:
            self._discover_shards(state)
        super().start()

    def _error(self, error: BaseException, context: str) -> None:
        # Kept on the poller too (tests read it); reported when the stack gave a reporter.
        self.errors.append(f"{context}: {error!r}")
        if self._report is not None:
            self._report(error, context)

    # -- polling ---------------------------------------------------------------------------------
    def poll_once(self) -> int:
        """One pass over every shard of every mapping; returns how many records it consumed."""
        consumed = 0
        with self._poll_lock:
            for state in self.states:
                if any(self._stale(shard) for shard in state.shards.values()) or not state.shards:
                    self._discover_shards(state)
                for shard in list(state.shards.values()):
                    consumed += self._poll_shard(state, shard)
        return consumed

    def _stale(self, shard: _Shard) -> bool:
        """Resume from the position when the iterator died or has been idle a while: a stream
        replaced under us (moto used to swap the table object) then costs at most that while."""
        if shard.closed:
            return False
        return shard.iterator is None or time.monotonic() - shard.anchored_at > self._refresh

    def _discover_shards(self, state: MappingState) -> None:
        try:
            description = self._streams.describe_stream(StreamArn=state.mapping.stream_arn)
        except Exception as error:
            self._error(error, f"describe_stream {state.mapping.stream_arn}")
            return
        for listed in description["StreamDescription"]["Shards"]:
            shard = state.shards.setdefault(listed["ShardId"], _Shard(listed["ShardId"]))
            if self._stale(shard):
                self._anchor(state, shard)

    def _anchor(self, state: MappingState, shard: _Shard) -> None:
        """A fresh iterator at the shard's position: after the last consumed record, else the
        mapping's starting position."""
        request: dict[str, str] = {
            "StreamArn": state.mapping.stream_arn,
            "ShardId": shard.shard_id,
        }
        if shard.last_sequence is not None:
            request |= {
                "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                "SequenceNumber": shard.last_sequence,
            }
        elif shard.iterator is not None and state.mapping.starting_position == "LATEST":
            # Nothing consumed yet from LATEST: a new LATEST would skip what arrived since.
            shard.anchored_at = time.monotonic()
            return
        else:
            request["ShardIteratorType"] = state.mapping.starting_position
        try:
            shard.iterator = self._streams.get_shard_iterator(**request)["ShardIterator"]
        except Exception as error:
            shard.iterator = None
            self._error(error, f"get_shard_iterator {shard.shard_id}")
            return
        shard.anchored_at = time.monotonic()
        if shard.last_sequence is not None:
            self.reanchored += 1

    def _poll_shard(self, state: MappingState, shard: _Shard) -> int:
        if shard.iterator is None:
            return 0
        try:
            response = self._streams.get_records(ShardIterator=shard.iterator, Limit=1000)
        except Exception as error:
            # ExpiredIterator, TrimmedDataAccess, ResourceNotFound...: resume from the position
            # on the next pass. Only unexpected failures are the harness's fault.
            code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
            if code not in _ITERATOR_ENDED:
                self._error(error, f"get_records {shard.shard_id}")
            shard.iterator = None
            return 0
        following = response.get("NextShardIterator")
        raw = response.get("Records", [])
        if not raw:
            shard.iterator = following
            shard.closed = following is None
            return 0
        records = [
            as_lambda_record(r, stream_arn=state.mapping.stream_arn, region=self._region)
            for r in raw
        ]
        try:
            self._consume(state, shard, records)
        except Exception as error:
            # The invoke itself failed (not the function): retry from the position.
            self._error(error, f"delivering to {state.mapping.function_name}")
            shard.iterator = None
            return 0
        shard.last_sequence = records[-1]["dynamodb"]["SequenceNumber"]
        shard.iterator = following
        shard.anchored_at = time.monotonic()
        return len(records)

    def _consume(self, state: MappingState, shard: _Shard, records: list[Record]) -> None:
        """Deliver a response's records in batches, moving the position after each batch."""
        size = max(1, state.mapping.batch_size)
        batch: list[Record] = []
        for record in records:
            if not self._passes_filters(state.mapping, record):
                state.filtered_out += 1
                if not batch:
                    shard.last_sequence = record["dynamodb"]["SequenceNumber"]
                continue
            batch.append(record)
            if len(batch) == size:
                self._deliver(state, shard, batch)
                shard.last_sequence = batch[-1]["dynamodb"]["SequenceNumber"]
                batch = []
        if batch:
            self._deliver(state, shard, batch)

    @staticmethod
    def _passes_filters(mapping: StreamMapping, record: Record) -> bool:
        return not mapping.filters or any(matches(p, record) for p in mapping.filters)

    # -- delivery ----------------------------------------------------------------------------
    def _deliver(self, state: MappingState, shard: _Shard, batch: list[Record]) -> None:
        mapping = state.mapping
        limit = mapping.maximum_retry_attempts
        pending: list[tuple[list[Record], int]] = [(batch, 0)]
        while pending:
            chunk, attempts = pending.pop(0)
            while True:
                failed_from = self._invoke(state, chunk)
                if failed_from is None:
                    state.delivered += len(chunk)
                    break
                attempts += 1
                if failed_from == 0 and mapping.bisect_on_error and len(chunk) > 1:
                    middle = len(chunk) // 2
                    pending[0:0] = [(chunk[:middle], attempts), (chunk[middle:], attempts)]
                    break
                state.delivered += failed_from
                chunk = chunk[failed_from:]
                if 0 <= limit < attempts:
                    self._dead_letter(state, shard, chunk, attempts)
                    break
                time.sleep(self._retry_delay * min(attempts, 10))

    def _invoke(self, state: MappingState, batch: list[Record]) -> int | None:
        """None when the batch succeeded, else the index of the first record to retry."""
        state.invocations += 1
        response = self._lambda.invoke(
            FunctionName=state.mapping.function_name,
            Payload=json.dumps({"Records": batch}).encode(),
        )
        payload = response["Payload"].read()
        if response.get("FunctionError"):
            return 0
        if not state.mapping.report_batch_item_failures:
            return None
        result = json.loads(payload or b"null") or {}
        failures = (result.get("batchItemFailures") or []) if isinstance(result, dict) else []
        if not failures:
            return None
        sequence_numbers = [r["dynamodb"]["SequenceNumber"] for r in batch]
        failed = {f.get("itemIdentifier") for f in failures}
        if None in failed or "" in failed or not failed <= set(sequence_numbers):
            return 0  # an unusable report fails the whole batch, as Lambda does
        return min(sequence_numbers.index(identifier) for identifier in failed)

    def _dead_letter(
        self, state: MappingState, shard: _Shard, batch: list[Record], attempts: int
    ) -> None:
        state.dead_lettered += len(batch)
        mapping = state.mapping
        if mapping.on_failure_arn is None:
            return
        now = datetime.now(UTC).isoformat()
        body = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": mapping.function_name,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": attempts,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "version": "1.0",
            "timestamp": now,
            "DDBStreamBatchInfo": {
                "shardId": shard.shard_id,
                "startSequenceNumber": batch[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": batch[-1]["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": now,
                "approximateArrivalOfLastRecord": now,
                "batchSize": len(batch),
                "streamArn": mapping.stream_arn,
            },
        }
        queue_name = mapping.on_failure_arn.rsplit(":", 1)[-1]
        url = self._sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        self._sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))

    def drain(self, timeout: float = 10.0, quiet_polls: int = 2) -> None:
        """Process until the streams stay empty for `quiet_polls` passes (tests, the demo)."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while quiet < quiet_polls:
            if time.monotonic() > deadline:
                raise TimeoutError("streams did not go quiet")
            quiet = quiet + 1 if self.poll_once() == 0 else 0
