"""SQS event source mappings, as Lambda runs them, on moto's SQS.

Receives up to BatchSize messages (10 per call, as SQS allows), invokes the function with the
SQS event Lambda sends, and deletes what succeeded: everything, or with ReportBatchItemFailures
everything but the reported messages (an unusable report fails the whole batch, as in Lambda).
What is not deleted becomes visible again after the queue's visibility timeout, and moto's
redrive policy moves it to the dead-letter queue after maxReceiveCount receives: the retry and
DLQ semantics are SQS's own, not re-implemented here.

A poll of an empty queue is a whole ReceiveMessage through botocore and moto: polling every
queue twenty times a second was, under load, 23% of what the embedded stack's interpreter did
(py-spy, docs/performance.md section 6). So the poller sleeps until a message is added to a
queue or made visible (`wake_on_arrival`), and looks again every IDLE_POLL_SECONDS for messages
whose visibility timeout or delay ran out (Lambda long-polls; a retry after a timeout of
seconds waits at most that much longer here).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from unittest import mock

from botocore.config import Config

from infra.local import patching
from infra.local.deployer import QueueMapping
from infra.local.polling import PollingLoop

Record = dict[str, Any]
MAX_RECEIVE = 10  # SQS's ReceiveMessage limit
IDLE_POLL_SECONDS = 0.25


def as_lambda_record(message: dict[str, Any], *, queue_arn: str, region: str) -> Record:
    """A ReceiveMessage message in the shape Lambda delivers it to a function."""
    attributes = {}
    for name, value in message.get("MessageAttributes", {}).items():
        binary = value.get("BinaryValue")
        attributes[name] = {
            "stringValue": value.get("StringValue"),
            "binaryValue": base64.b64encode(binary).decode() if binary is not None else None,
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value["DataType"],
        }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": attributes,
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def wake_on_arrival(patches: list[Any], wake: Callable[[], None]) -> None:
    """Call `wake` whenever moto adds a message to a queue or changes one's visibility (a
    ChangeMessageVisibility of 0 makes it receivable at once), from whichever thread did it."""
    from moto.sqs.models import Queue, SQSBackend

    add_message = Queue.add_message
    change_visibility = SQSBackend.change_message_visibility

    def added(self: Any, *args: Any, **kwargs: Any) -> None:
        add_message(self, *args, **kwargs)
        wake()

    def changed(self: Any, *args: Any, **kwargs: Any) -> None:
        change_visibility(self, *args, **kwargs)
        wake()

    patching.start(
        patches,
        mock.patch.object(Queue, "add_message", added),
        mock.patch.object(SQSBackend, "change_message_visibility", changed),
    )


@dataclass
class QueueState:
    mapping: QueueMapping
    url: str | None = None
    invocations: int = 0
    deleted: int = 0
    failed: int = 0  # left for SQS to make visible again (and, in the end, to dead-letter)


class QueuePoller(PollingLoop):
    thread_name = "queue-poller"

    def __init__(
        self,
        mappings: list[QueueMapping],
        session: Any,
        *,
        endpoint: str,
        region: str,
        poll_interval_seconds: float = IDLE_POLL_SECONDS,
        report: Callable[..., Any] | None = None,
    ) -> None:
        self._sqs = session.client("sqs", endpoint_url=endpoint)
        invoke_config = Config(read_timeout=900, retries={"total_max_attempts": 1})
        self._lambda = session.client("lambda", endpoint_url=endpoint, config=invoke_config)
        super().__init__(interval_seconds=poll_interval_seconds, report=report)
        self._region = region
        self.states = [QueueState(mapping) for mapping in mappings]

    def start(self) -> None:
        if self.states:  # no queue providers: no thread
            super().start()

    def poll_once(self) -> int:
        """One receive per mapping; returns how many messages were delivered."""
        with self._poll_lock:
            return sum(self._poll(state) for state in self.states)

    def _poll(self, state: QueueState) -> int:
        mapping = state.mapping
        if state.url is None:
            name = mapping.queue_arn.rsplit(":", 1)[-1]
            state.url = self._sqs.get_queue_url(QueueName=name)["QueueUrl"]
        messages = self._sqs.receive_message(
            QueueUrl=state.url,
            MaxNumberOfMessages=max(1, min(mapping.batch_size, MAX_RECEIVE)),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not messages:
            return 0
        records = [
            as_lambda_record(m, queue_arn=mapping.queue_arn, region=self._region) for m in messages
        ]
        failed = self._invoke(state, records)
        done = [r for r in records if r["messageId"] not in failed]
        for start in range(0, len(done), MAX_RECEIVE):
            self._sqs.delete_message_batch(
                QueueUrl=state.url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": r["receiptHandle"]}
                    for i, r in enumerate(done[start : start + MAX_RECEIVE])
                ],
            )
        state.deleted += len(done)
        state.failed += len(records) - len(done)
        return len(records)

    def _invoke(self, state: QueueState, records: list[Record]) -> set[str]:
        """The message ids to leave on the queue (all of them when the invocation failed)."""
        state.invocations += 1
        everything = {r["messageId"] for r in records}
        response = self._lambda.invoke(
            FunctionName=state.mapping.function_name,
            Payload=json.dumps({"Records": records}).encode(),
        )
        payload = response["Payload"].read()
        if response.get("FunctionError"):
            return everything
        if not state.mapping.report_batch_item_failures:
            return set()
        result = json.loads(payload or b"null") or {}
        failures = (result.get("batchItemFailures") or []) if isinstance(result, dict) else []
        failed = {f.get("itemIdentifier") for f in failures}
        if None in failed or "" in failed or not failed <= everything:
            return everything  # an unusable report fails the whole batch, as Lambda does
        return {str(identifier) for identifier in failed}

    def drain(self, timeout: float = 10.0, quiet_polls: int = 2) -> None:
        """Deliver until every queue stays empty for `quiet_polls` passes (tests, the demo)."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while quiet < quiet_polls:
            if time.monotonic() > deadline:
                raise TimeoutError("queues did not go quiet")
            quiet = quiet + 1 if self.poll_once() == 0 else 0
