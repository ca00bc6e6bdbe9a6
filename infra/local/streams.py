"""DynamoDB stream event source mappings, as Lambda runs them.

Polls each stream's shards, drops records the mapping's filters reject, invokes the function
with batches of up to BatchSize records, honours ReportBatchItemFailures (retry from the first
failed record), BisectBatchOnFunctionError and MaximumRetryAttempts, and sends what is still
failing to the on-failure destination with the same `DDBStreamBatchInfo` body Lambda sends.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from infra.local.deployer import StreamMapping
from infra.local.event_filters import matches

Record = dict[str, Any]


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
    iterator: str | None


@dataclass
class MappingState:
    mapping: StreamMapping
    shards: dict[str, _Shard] = field(default_factory=dict)
    delivered: int = 0
    filtered_out: int = 0
    dead_lettered: int = 0
    invocations: int = 0


class StreamPoller:
    def __init__(
        self,
        mappings: list[StreamMapping],
        session: Any,
        *,
        endpoint: str,
        region: str,
        retry_delay_seconds: float = 0.05,
        poll_interval_seconds: float = 0.05,
    ) -> None:
        self._streams = session.client("dynamodbstreams", endpoint_url=endpoint)
        self._lambda = session.client("lambda", endpoint_url=endpoint)
        self._sqs = session.client("sqs", endpoint_url=endpoint)
        self._region = region
        self._retry_delay = retry_delay_seconds
        self._interval = poll_interval_seconds
        self.states = [MappingState(mapping) for mapping in mappings]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._poll_lock = threading.Lock()
        self.errors: list[str] = []

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        for state in self.states:
            self._discover_shards(state)
        self._thread = threading.Thread(target=self._run, name="stream-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.poll_once()
            except Exception as error:
                self.errors.append(repr(error))
                busy = 0
            if not busy:
                self._stop.wait(self._interval)

    # -- polling ---------------------------------------------------------------------------------
    def poll_once(self) -> int:
        """One pass over every shard of every mapping; returns how many records it consumed."""
        consumed = 0
        with self._poll_lock:
            for state in self.states:
                for shard in state.shards.values():
                    consumed += self._poll_shard(state, shard)
        return consumed

    def _discover_shards(self, state: MappingState) -> None:
        description = self._streams.describe_stream(StreamArn=state.mapping.stream_arn)
        for shard in description["StreamDescription"]["Shards"]:
            if shard["ShardId"] in state.shards:
                continue
            iterator = self._streams.get_shard_iterator(
                StreamArn=state.mapping.stream_arn,
                ShardId=shard["ShardId"],
                ShardIteratorType=state.mapping.starting_position,
            )["ShardIterator"]
            state.shards[shard["ShardId"]] = _Shard(shard["ShardId"], iterator)

    def _poll_shard(self, state: MappingState, shard: _Shard) -> int:
        if shard.iterator is None:
            return 0
        response = self._streams.get_records(ShardIterator=shard.iterator, Limit=1000)
        shard.iterator = response.get("NextShardIterator")
        records = [
            as_lambda_record(r, stream_arn=state.mapping.stream_arn, region=self._region)
            for r in response.get("Records", [])
        ]
        if not records:
            return 0
        wanted = [r for r in records if self._passes_filters(state.mapping, r)]
        state.filtered_out += len(records) - len(wanted)
        size = max(1, state.mapping.batch_size)
        for start in range(0, len(wanted), size):
            self._deliver(state, shard, wanted[start : start + size])
        return len(records)

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
