"""Run every Lambda in-process, by the Handler string and the environment the template gives it.

moto funnels every invocation path (lambda.invoke, Step Functions tasks, EventBridge targets) into
LambdaFunction._invoke_lambda, which would start a Docker container. We replace that one method.
Invocations are serialised: each sets its own function's environment for its duration, and
os.environ is process-wide.
"""

from __future__ import annotations

import importlib
import json
import os
import threading
import time
import traceback
import uuid
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

_invocation_lock = threading.RLock()


@dataclass
class LambdaContext:
    """What the Lambda runtime passes as `context` (the attributes Powertools reads)."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: int
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class Invocation:
    function_name: str
    handler: str
    event: Any
    duration_ms: float
    error: str | None


@contextmanager
def environment_overlay(values: dict[str, str]) -> Iterator[None]:
    """Set variables for the duration of a block, then restore the previous values."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def _load_handler(handler: str) -> Callable[[Any, Any], Any]:
    module_name, _, function_name = handler.rpartition(".")
    module = importlib.import_module(module_name.replace("/", "."))
    return getattr(module, function_name)  # type: ignore[no-any-return]


class InProcessLambdas:
    """Patches moto so its Lambda invocations call our handlers in this process."""

    def __init__(self, *, region: str, extra_environment: dict[str, str] | None = None) -> None:
        self._region = region
        self._extra = extra_environment or {}
        self._patch: Any = None
        self.invocations: deque[Invocation] = deque(maxlen=2000)
        self.listeners: list[Callable[[Invocation], None]] = []

    def install(self) -> None:
        from moto.awslambda.models import LambdaFunction

        runtime = self

        def invoke(function: Any, event: Any = None) -> tuple[str, bool, str]:
            return runtime.invoke(function, event)

        self._patch = mock.patch.object(LambdaFunction, "_invoke_lambda", invoke)
        self._patch.start()

    def uninstall(self) -> None:
        if self._patch is not None:
            self._patch.stop()
            self._patch = None

    def invoke(self, function: Any, event: Any) -> tuple[str, bool, str]:
        payload = json.loads(event) if isinstance(event, str | bytes) else (event or {})
        environment = {
            "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_REGION": self._region,
            "AWS_DEFAULT_REGION": self._region,
            "_HANDLER": function.handler,
            **{k: str(v) for k, v in (function.environment_vars or {}).items()},
            **self._extra,
        }
        context = LambdaContext(
            function_name=function.function_name,
            invoked_function_arn=function.function_arn,
            memory_limit_in_mb=int(function.memory_size),
            timeout_seconds=int(function.timeout),
        )
        error: str | None = None
        with _invocation_lock, environment_overlay(environment), warnings.catch_warnings():
            started = time.perf_counter()  # inside the lock: queueing is not run time
            # Metrics are disabled locally; Powertools still warns that it published none.
            warnings.filterwarnings("ignore", message="No application metrics to publish")
            try:
                result = _load_handler(function.handler)(payload, context)
                body = json.dumps(result, default=str)
                errored = False
            except Exception as exc:
                error = type(exc).__name__
                body = json.dumps(
                    {
                        "errorType": error,
                        "errorMessage": str(exc),
                        "stackTrace": traceback.format_exception(exc),
                    }
                )
                errored = True
            elapsed_ms = (time.perf_counter() - started) * 1000
        record = Invocation(function.function_name, function.handler, payload, elapsed_ms, error)
        self.invocations.append(record)
        for listener in self.listeners:
            listener(record)
        return body, errored, ""
