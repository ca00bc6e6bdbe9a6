"""The fulfilment workflow as the domain sees it: start one per order, resume a waiting step."""

from __future__ import annotations

import json
from typing import Any, Protocol

from botocore.exceptions import ClientError

from shared.platform import aws


class Workflow(Protocol):
    def start(self, order_id: str, payload: dict[str, Any]) -> bool: ...

    def resume(self, task_token: str, output: dict[str, Any]) -> bool: ...

    def exists(self, order_id: str) -> bool: ...


# A token whose task already finished, timed out or never existed: nothing left to resume.
_DEAD_TOKEN_ERRORS = {"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"}


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
