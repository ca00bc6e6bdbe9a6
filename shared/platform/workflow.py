"""The fulfilment workflow as the domain sees it: start one per order, resume a waiting step."""

from __future__ import annotations

import contextlib
import json
from datetime import datetime, timedelta
from typing import Any, Protocol

from botocore.exceptions import ClientError

from shared.kernel.time import utc_iso
from shared.platform import aws
from shared.platform.table import ConditionFailed, Table


class Workflow(Protocol):
    def start(self, order_id: str, payload: dict[str, Any]) -> bool: ...

    def resume(self, task_token: str, output: dict[str, Any]) -> bool: ...

    def exists(self, order_id: str) -> bool: ...


# A token whose task already finished, timed out or never existed: nothing left to resume.
_DEAD_TOKEN_ERRORS = {"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"}


class TaskTokenStore(Protocol):
    """Where a waiting step's task token is kept until whoever can resume it finds it."""

    def put(
        self, order_id: str, name: str, token: str, *, at: datetime, ttl: timedelta
    ) -> None: ...

    def get(self, order_id: str, name: str) -> str | None: ...

    def delete(self, order_id: str, name: str, token: str) -> None:
        """Forget a wait unless it now holds another token."""
        ...


class StepFunctionsWorkflow:
    def __init__(self, state_machine_arn: str) -> None:
        self._arn = state_machine_arn

    def start(self, order_id: str, payload: dict[str, Any]) -> bool:
        """Start the execution named after the order. False: it was started before.

        The name is the idempotency key: a second start of the same name never runs a second
        execution (refused, or for a running one with the same input, answered as the same
        execution), so a redelivered or replayed order never runs twice.
        """
        try:
            aws.stepfunctions().start_execution(
                stateMachineArn=self._arn, name=order_id, input=json.dumps(payload)
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ExecutionAlreadyExists":
                return False
            raise
        return True

    def exists(self, order_id: str) -> bool:
        """Whether the order's execution was ever started (running or finished, 90 days)."""
        arn = self._arn.replace(":stateMachine:", ":execution:") + f":{order_id}"
        try:
            aws.stepfunctions().describe_execution(executionArn=arn)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ExecutionDoesNotExist":
                return False
            raise
        return True

    def resume(self, task_token: str, output: dict[str, Any]) -> bool:
        """Complete a waiting task. False: the task is gone (finished or timed out)."""
        try:
            aws.stepfunctions().send_task_success(taskToken=task_token, output=json.dumps(output))
        except ClientError as error:
            if error.response["Error"]["Code"] in _DEAD_TOKEN_ERRORS:
                return False
            raise
        return True


def wait_sk(name: str) -> str:
    return f"WAIT#{name}"


class TaskTokens:
    """The task tokens workflows wait on: ORDER#<id> / WAIT#<name>, in the order's partition
    (a wait belongs to one order's execution, and expires with a TTL past its timeout)."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def put(self, order_id: str, name: str, token: str, *, at: datetime, ttl: timedelta) -> None:
        self._table.put(
            {
                "PK": f"ORDER#{order_id}",
                "SK": wait_sk(name),
                "type": "wait",
                "task_token": token,
                "created_at": utc_iso(at),
                "expires_at": int((at + ttl).timestamp()),
            }
        )

    def get(self, order_id: str, name: str) -> str | None:
        item = self._table.get(f"ORDER#{order_id}", wait_sk(name), consistent=True)
        return item["task_token"] if item else None

    def delete(self, order_id: str, name: str, token: str) -> None:
        """Forget a wait, unless it now holds another token than the one used."""
        with contextlib.suppress(ConditionFailed):
            self._table.delete(
                f"ORDER#{order_id}",
                wait_sk(name),
                condition="task_token = :token",
                values={":token": token},
            )
