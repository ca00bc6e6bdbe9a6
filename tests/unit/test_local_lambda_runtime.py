"""In-process Lambdas: each invocation sees its own function's environment without a process-wide
lock; one function's invocations run one at a time (one warm execution environment), different
functions run concurrently."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from infra.local import lambda_runtime
from infra.local.lambda_runtime import (
    InProcessLambdas,
    ThreadEnviron,
    environment_overlay,
    install_thread_environ,
)


@pytest.fixture
def environ() -> Iterator[ThreadEnviron]:
    original = os.environ
    installed = install_thread_environ()
    try:
        yield installed
    finally:
        os.environ = original  # noqa: B003 - the same storage: nothing is lost


def test_an_overlay_is_seen_by_its_own_thread_only(environ: ThreadEnviron) -> None:
    os.environ.pop("ORDERHUB_T_ONLY", None)
    seen_elsewhere: list[str | None] = []
    with environment_overlay({"ORDERHUB_T_ONLY": "mine", "PATH": "/overlaid"}):
        assert os.environ["ORDERHUB_T_ONLY"] == "mine"
        assert os.getenv("ORDERHUB_T_ONLY") == "mine"
        assert "ORDERHUB_T_ONLY" in os.environ
        assert dict(os.environ)["PATH"] == "/overlaid"
        assert os.environ.copy()["ORDERHUB_T_ONLY"] == "mine"
        thread = threading.Thread(
            target=lambda: seen_elsewhere.append(os.environ.get("ORDERHUB_T_ONLY"))
        )
        thread.start()
        thread.join()
    assert seen_elsewhere == [None]
    assert "ORDERHUB_T_ONLY" not in os.environ
    assert os.environ["PATH"] != "/overlaid"


def test_writes_inside_an_overlay_stay_in_it(environ: ThreadEnviron) -> None:
    os.environ["ORDERHUB_T_BASE"] = "process"
    try:
        with environment_overlay({}):
            os.environ["ORDERHUB_T_NEW"] = "function"
            del os.environ["ORDERHUB_T_BASE"]
            assert "ORDERHUB_T_BASE" not in os.environ
            assert "ORDERHUB_T_BASE" not in list(os.environ)
            assert os.environ.get("ORDERHUB_T_NEW") == "function"
            with pytest.raises(KeyError):
                del os.environ["ORDERHUB_T_BASE"]
            with pytest.raises(TypeError):
                os.environ["ORDERHUB_T_NUMBER"] = 1  # type: ignore[assignment]
        assert os.environ["ORDERHUB_T_BASE"] == "process"
        assert "ORDERHUB_T_NEW" not in os.environ
    finally:
        os.environ.pop("ORDERHUB_T_BASE", None)


def test_concurrent_overlays_never_see_each_other(environ: ThreadEnviron) -> None:
    wrong: list[str] = []

    def run(name: str) -> None:
        for _ in range(200):
            with environment_overlay({"ORDERHUB_T_WHO": name}):
                time.sleep(0)
                if os.environ["ORDERHUB_T_WHO"] != name:
                    wrong.append(name)

    threads = [threading.Thread(target=run, args=(f"f{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


def function(name: str) -> Any:
    return SimpleNamespace(
        function_name=name,
        function_arn=f"arn:aws:lambda:eu-central-1:123456789012:function:{name}",
        handler=f"tests.fake_{name}.handler",
        memory_size=128,
        timeout=30,
        environment_vars={"WHO": name},
    )


def test_one_function_runs_one_invocation_at_a_time_and_functions_run_concurrently(
    environ: ThreadEnviron, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = threading.Lock()
    running: Counter[str] = Counter()
    most: Counter[str] = Counter()
    overall = [0, 0]  # running now, most at once
    wrong_environment: list[str] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        name = context.function_name
        with lock:
            running[name] += 1
            most[name] = max(most[name], running[name])
            overall[0] += 1
            overall[1] = max(overall[1], overall[0])
        time.sleep(0.05)
        if os.environ.get("WHO") != name:
            wrong_environment.append(name)
        with lock:
            running[name] -= 1
            overall[0] -= 1
        return {"who": os.environ["WHO"]}

    loader: Callable[[str], Any] = lambda _handler: handler  # noqa: E731
    monkeypatch.setattr(lambda_runtime, "_load_handler", loader)
    runtime = InProcessLambdas(region="eu-central-1")
    results: list[tuple[str, bool]] = []

    def call(name: str) -> None:
        body, errored, _ = runtime.invoke(function(name), b"{}")
        results.append((body, errored))

    threads = [threading.Thread(target=call, args=(n,)) for n in ["a", "b", "c"] * 3]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert most == {"a": 1, "b": 1, "c": 1}  # one warm environment per function
    assert overall[1] >= 2  # but not one lock for every function
    assert wrong_environment == []
    assert sorted(results) == sorted([(f'{{"who": "{n}"}}', False) for n in "abc" * 3])
    assert all(i.queued_ms >= 0 for i in runtime.invocations)
