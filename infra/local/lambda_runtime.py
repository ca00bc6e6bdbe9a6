"""Run every Lambda in-process, by the Handler string and the environment the template gives it.

moto funnels every invocation path (lambda.invoke, Step Functions tasks, EventBridge targets) into
LambdaFunction._invoke_lambda, which would start a Docker container. We replace that one method.

Concurrency follows Lambda's execution environments: one warm environment per function (per
handler module), so invocations of one function run one at a time (our handler modules keep
state at module level: Powertools' BatchProcessor, the API resolvers' current event), while
different functions run concurrently. Each invocation sees its function's environment through a
thread-aware `os.environ` (ThreadEnviron): reads consult an overlay set for the invoking thread
only, so no process-wide lock is needed for environment variables. What Lambda would keep apart
in separate processes but one process shares (Powertools' class-level metric store) is guarded.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
import threading
import time
import traceback
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from infra.local import ids, patching

_UNSET = None  # in an overlay: the variable is deleted for this thread
# Set on the AWS requests a foreground invocation makes (one the HTTP API waits for), so the
# embedded stack can serve them before background work (infra/local/stack.py).
FOREGROUND_HEADER = "x-orderhub-foreground"
_foreground = threading.local()
# How long background work steps aside for one HTTP request at a time: long enough to leave
# a webhook's acknowledgement the interpreter (a few ms), short enough that a stream of
# requests cannot starve the stream router and the workflow.
YIELD_LIMIT_SECONDS = 0.05


class ForegroundGate:
    """What an HTTP request waits for should not wait behind background work.

    Every function shares this one interpreter, so an acknowledgement competes with the stream
    router, the workflow's tasks and moto for the interpreter lock, and each time it blocks
    (a socket read, a lock) it queues behind whatever holds it: under load that, not the work,
    was most of an acknowledgement's time. The gateway counts the requests it is serving;
    background work checks at each AWS request and invocation it starts (safe points: it holds
    no lock an HTTP request could need) and waits while any are in flight, up to
    YIELD_LIMIT_SECONDS. In AWS they run on separate machines; here they take turns, the
    HTTP request first."""

    def __init__(self) -> None:
        self._condition = threading.Condition(threading.Lock())
        self._serving = 0

    @contextmanager
    def serving(self) -> Iterator[None]:
        with self._condition:
            self._serving += 1
        try:
            yield
        finally:
            with self._condition:
                self._serving -= 1
                if not self._serving:
                    self._condition.notify_all()

    def step_aside(self, limit: float = YIELD_LIMIT_SECONDS) -> None:
        """Called by background work at a safe point: wait while HTTP requests are served."""
        if not self._serving or getattr(_foreground, "active", False):
            return
        with self._condition:
            self._condition.wait_for(lambda: not self._serving, timeout=limit)


FOREGROUND = ForegroundGate()


class ThreadEnviron(os._Environ):  # type: ignore[type-arg]
    """os.environ whose reads and writes, inside `overlay(...)`, see that thread's own values.

    It shares the process environment's storage, so outside an overlay it *is* os.environ
    (writes still reach the C environment through putenv). Inside one, writes stay in the
    overlay and vanish when it ends, as a function's changes stay in its own environment.
    Threads a function starts itself do not inherit its overlay.
    """

    def __init__(self, base: os._Environ) -> None:  # type: ignore[type-arg]
        super().__init__(
            base._data,  # type: ignore[attr-defined]
            base.encodekey,
            base.decodekey,
            base.encodevalue,
            base.decodevalue,
        )
        self.base = base
        self._local = threading.local()

    def _overlay(self) -> dict[str, str | None] | None:
        values: dict[str, str | None] | None = getattr(self._local, "values", None)
        return values

    @contextmanager
    def overlay(self, values: dict[str, str]) -> Iterator[None]:
        """`values` on top of the process environment, for the calling thread, for a block."""
        previous = self._overlay()
        layered: dict[str, str | None] = dict(previous or {})
        layered.update({key: str(value) for key, value in values.items()})
        self._local.values = layered
        try:
            yield
        finally:
            self._local.values = previous

    def __getitem__(self, key: str) -> str:
        values = self._overlay()
        if values is not None and key in values:
            value = values[key]
            if value is None:  # deleted for this thread
                raise KeyError(key)
            return value
        found: str = super().__getitem__(key)
        return found

    def __setitem__(self, key: str, value: str) -> None:
        values = self._overlay()
        if values is None:
            super().__setitem__(key, value)
            return
        self.encodekey(key)  # the same TypeErrors as os.environ
        self.encodevalue(value)
        values[key] = value

    def __delitem__(self, key: str) -> None:
        values = self._overlay()
        if values is None:
            super().__delitem__(key)
            return
        if key not in self:
            raise KeyError(key)
        values[key] = _UNSET

    def __iter__(self) -> Iterator[str]:
        values = self._overlay()
        if values is None:
            yield from super().__iter__()
            return
        keys = [key for key in super().__iter__() if values.get(key, "") is not _UNSET]
        present = set(keys)
        keys += [key for key, value in values.items() if value is not _UNSET and key not in present]
        yield from keys

    def __len__(self) -> int:
        if self._overlay() is None:
            return super().__len__()
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        return f"environ({dict(self)!r})"


_environ_lock = threading.Lock()


def install_thread_environ() -> ThreadEnviron:
    """Make os.environ a ThreadEnviron (once per process; later calls return the same one)."""
    with _environ_lock:
        if not isinstance(os.environ, ThreadEnviron):
            os.environ = ThreadEnviron(os.environ)  # noqa: B003 - same storage, not a reset
        return os.environ


@contextmanager
def environment_overlay(values: dict[str, str]) -> Iterator[None]:
    """Set variables for the duration of a block: for this thread only when os.environ is a
    ThreadEnviron, else process-wide (then restored)."""
    environ = os.environ
    if isinstance(environ, ThreadEnviron):
        with environ.overlay(values):
            yield
        return
    saved = {key: environ.get(key) for key in values}
    environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                environ.pop(key, None)
            else:
                environ[key] = old


@dataclass
class LambdaContext:
    """What the Lambda runtime passes as `context` (the attributes Powertools reads)."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: int
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=ids.request_id)
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
    queued_ms: float = 0.0  # waiting for the function's execution environment


# Powertools keeps one metric store per process (class-level on Metrics), not per function: in
# Lambda every function has its own process, here they share it. These methods read or change it.
_METRICS_METHODS = (
    "add_metric",
    "add_dimension",
    "add_metadata",
    "serialize_metric_set",
    "clear_metrics",
    "flush_metrics",
)


def _guard_powertools_metrics(patches: list[Any]) -> None:
    """One lock around Powertools' shared metric store, so functions running concurrently do not
    change it while another serialises it ("dictionary changed size during iteration")."""
    try:
        from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
            AmazonCloudWatchEMFProvider,
        )
    except ImportError:  # pragma: no cover - Powertools is a dependency of every function
        return
    lock = threading.RLock()
    for name in _METRICS_METHODS:
        original = getattr(AmazonCloudWatchEMFProvider, name)

        def guarded(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return _original(self, *args, **kwargs)

        patching.start(patches, mock.patch.object(AmazonCloudWatchEMFProvider, name, guarded))


_ROUTER_STATE = ("current_event", "lambda_context")


class _Undo:
    """Something `install` changed, with the function that changes it back (patch-like)."""

    def __init__(self, stop: Callable[[], None]) -> None:
        self.stop = stop


def _per_thread_router_state(patches: list[Any]) -> None:
    """Powertools' event handler keeps the event being resolved on the BaseRouter *class*
    (`BaseRouter.current_event = ...`): one per process, which in Lambda is one per execution
    environment. Here functions share the process, so two resolver-based functions running at
    once (a webhook and the API) would read each other's event. Make those two attributes
    per-thread, for class and instance access alike."""
    try:
        from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
    except ImportError:  # pragma: no cover - Powertools is a dependency of every function
        return
    local = threading.local()

    def attribute(name: str) -> property:
        def get(_: Any) -> Any:
            try:
                return getattr(local, name)
            except AttributeError:
                raise AttributeError(name) from None

        def set_(_: Any, value: Any) -> None:
            setattr(local, name, value)

        return property(get, set_)

    original_meta = type(BaseRouter)
    saved = {
        name: BaseRouter.__dict__[name] for name in _ROUTER_STATE if name in BaseRouter.__dict__
    }
    for name in _ROUTER_STATE:  # instance access: app.current_event
        type.__setattr__(BaseRouter, name, attribute(name))
    # class access: BaseRouter.current_event (a data descriptor on the metaclass wins)
    meta = type(
        "PerThreadRouterState", (original_meta,), {name: attribute(name) for name in _ROUTER_STATE}
    )
    type.__setattr__(BaseRouter, "__class__", meta)

    def undo() -> None:
        type.__setattr__(BaseRouter, "__class__", original_meta)
        for name in _ROUTER_STATE:
            type.__delattr__(BaseRouter, name)
            if name in saved:
                type.__setattr__(BaseRouter, name, saved[name])

    patches.append(_Undo(undo))


def _mark_foreground_requests(patches: list[Any]) -> None:
    """Tag the AWS requests made while a foreground invocation runs on this thread. The hook
    goes on the botocore session the functions' clients are built from (shared/platform/aws.py;
    clients copy its hooks when created: install this before the first function runs)."""
    from shared.platform import aws

    def tag(request: Any, **_: Any) -> None:
        if getattr(_foreground, "active", False):
            request.headers[FOREGROUND_HEADER] = "1"
        else:
            FOREGROUND.step_aside()

    events = aws.session()
    unique_id = "orderhub-local-foreground"
    events.register("before-send", tag, unique_id=unique_id)
    patches.append(_Undo(lambda: events.unregister("before-send", unique_id=unique_id)))


def _load_handler(handler: str) -> Callable[[Any, Any], Any]:
    module_name, _, function_name = handler.rpartition(".")
    module = importlib.import_module(module_name.replace("/", "."))
    return getattr(module, function_name)  # type: ignore[no-any-return]


def _module_copy(module_name: str, index: int) -> str:
    """A private copy of a handler module (its top level executed again: its own resolver,
    routers, processor), registered under its own name; the modules it imports stay shared."""
    name = f"{module_name}__env{index}"
    if name in sys.modules:
        return name
    original = importlib.import_module(module_name)
    spec = importlib.util.spec_from_file_location(name, original.__file__ or "")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot copy {module_name}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return name


class Environments:
    """The warm execution environments of one handler module, at most `limit` at once: an
    invocation takes an idle one (the most recently used) or starts a new one, else waits.
    Environment 0 is the module as imported; the others are private copies of it."""

    def __init__(self, module_name: str, limit: int = 1) -> None:
        self.module_name = module_name
        self.limit = max(1, limit)
        self._idle: list[str] = []
        self._started = 0
        self._condition = threading.Condition()
        self._copy_lock = threading.Lock()

    def warm(self) -> None:
        """Start every environment now (import the module and its copies), so a burst meets
        warm environments rather than a cold start per new one."""
        with self._condition:
            first, self._started = self._started, self.limit
        for index in range(first, self.limit):
            with self._copy_lock:
                module = self.module_name if index == 0 else _module_copy(self.module_name, index)
                importlib.import_module(module)
            with self._condition:
                self._idle.insert(0, module)
                self._condition.notify()

    @contextmanager
    def take(self) -> Iterator[str]:
        """Yields the module name to load the handler from, for the invocation's duration."""
        with self._condition:
            while not self._idle and self._started >= self.limit:
                self._condition.wait()
            index = None
            if self._idle:
                module = self._idle.pop()
            else:
                index = self._started
                self._started += 1
        if index is not None:
            try:
                with self._copy_lock:  # importing is not something to do twice at once
                    module = (
                        self.module_name if index == 0 else _module_copy(self.module_name, index)
                    )
            except BaseException:
                with self._condition:
                    self._started -= 1
                    self._condition.notify()
                raise
        try:
            yield module
        finally:
            with self._condition:
                self._idle.append(module)
                self._condition.notify()

    @property
    def started(self) -> int:
        return self._started


class InProcessLambdas:
    """Patches moto so its Lambda invocations call our handlers in this process."""

    def __init__(
        self,
        *,
        region: str,
        extra_environment: dict[str, str] | None = None,
        concurrency: dict[str, int] | None = None,
    ) -> None:
        self._region = region
        self._extra = extra_environment or {}
        self._patch: Any = None
        self._patches: list[Any] = []
        self._filter: tuple[Any, ...] | None = None
        # handler module -> how many execution environments it may have (default 1)
        self.concurrency: dict[str, int] = dict(concurrency or {})
        self._environments: dict[str, Environments] = {}
        self._environments_lock = threading.Lock()
        self.invocations: deque[Invocation] = deque(maxlen=2000)
        self.listeners: list[Callable[[Invocation], None]] = []

    def install(self) -> None:
        from moto.awslambda.models import LambdaFunction

        runtime = self

        def invoke(function: Any, event: Any = None) -> tuple[str, bool, str]:
            return runtime.invoke(function, event)

        install_thread_environ()
        # Metrics are disabled locally; Powertools still warns that it published none. Set once:
        # warnings.catch_warnings() per invocation is not thread-safe.
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        self._filter = warnings.filters[0]
        self._patch = mock.patch.object(LambdaFunction, "_invoke_lambda", invoke)
        self._patch.start()
        _guard_powertools_metrics(self._patches)
        _per_thread_router_state(self._patches)
        _mark_foreground_requests(self._patches)

    def uninstall(self) -> None:
        if self._patch is not None:
            self._patch.stop()
            self._patch = None
        patching.stop(self._patches)
        if self._filter is not None:
            with suppress(ValueError):
                warnings.filters.remove(self._filter)  # type: ignore[attr-defined]
            self._filter = None

    def environments(self, handler: str) -> Environments:
        """A handler module's execution environments. Per module, since a module's state (a
        BatchProcessor, a resolver's context) is per environment in Lambda and per process
        here. Functions with different modules run concurrently."""
        module = handler.rpartition(".")[0]
        with self._environments_lock:
            found = self._environments.get(module)
            if found is None:
                limit = self.concurrency.get(module, 1)
                found = self._environments[module] = Environments(module, limit)
            return found

    def _environment_of(self, function: Any) -> dict[str, str]:
        return {
            "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_REGION": self._region,
            "AWS_DEFAULT_REGION": self._region,
            "_HANDLER": function.handler,
            **{k: str(v) for k, v in (function.environment_vars or {}).items()},
            **self._extra,
        }

    def warm(self, function: Any) -> None:
        """Start all of a function's execution environments now, in its environment."""
        with environment_overlay(self._environment_of(function)):
            self.environments(function.handler).warm()

    def invoke(
        self, function: Any, event: Any, *, foreground: bool = False
    ) -> tuple[str, bool, str]:
        """Run one invocation; `foreground`: someone waits for it (the HTTP API), so its AWS
        requests are served before background work's."""
        payload = json.loads(event) if isinstance(event, str | bytes) else (event or {})
        environment = self._environment_of(function)
        context = LambdaContext(
            function_name=function.function_name,
            invoked_function_arn=function.function_arn,
            memory_limit_in_mb=int(function.memory_size),
            timeout_seconds=int(function.timeout),
        )
        error: str | None = None
        queued = time.perf_counter()
        if not foreground:
            FOREGROUND.step_aside()
        function_name = function.handler.rpartition(".")[2]
        with (
            environment_overlay(environment),  # a new environment imports its module in it
            self.environments(function.handler).take() as module,
        ):
            started = time.perf_counter()  # once it has an environment: queueing is not run time
            outer = getattr(_foreground, "active", False)
            _foreground.active = foreground or outer
            try:
                result = _load_handler(f"{module}.{function_name}")(payload, context)
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
            finally:
                _foreground.active = outer
            elapsed_ms = (time.perf_counter() - started) * 1000
        record = Invocation(
            function.function_name,
            function.handler,
            payload,
            elapsed_ms,
            error,
            queued_ms=(started - queued) * 1000,
        )
        self.invocations.append(record)
        for listener in self.listeners:
            listener(record)
        return body, errored, ""
