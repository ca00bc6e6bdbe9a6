"""In-process Lambdas: each invocation sees its own function's environment without a process-wide
lock; one function's invocations run one at a time (one warm execution environment), different
functions run concurrently."""

from __future__ import annotations

import importlib
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from infra.local import lambda_runtime, patching
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


def _http_event(who: str) -> dict[str, Any]:
    context = {
        "http": {"method": "GET", "path": "/who", "sourceIp": "127.0.0.1", "protocol": "HTTP/1.1"},
        "requestId": who,
        "routeKey": "GET /who",
        "stage": "$default",
    }
    return {
        "version": "2.0",
        "routeKey": "GET /who",
        "rawPath": "/who",
        "rawQueryString": "",
        "headers": {"who": who},
        "requestContext": context,
        "isBase64Encoded": False,
    }


def test_two_resolver_functions_at_once_each_see_their_own_event() -> None:
    # Powertools keeps the event being resolved on the BaseRouter class: one per process.
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

    wrong: list[tuple[str, str]] = []
    with patching.installed(lambda_runtime._per_thread_router_state):

        def run(who: str) -> None:
            app = APIGatewayHttpResolver()

            @app.get("/who")
            def answer() -> dict[str, str]:
                time.sleep(0.001)
                seen = app.current_event.headers["who"]
                if seen != who:
                    wrong.append((who, seen))
                return {"who": seen}

            for _ in range(50):
                app.resolve(_http_event(who), None)  # type: ignore[arg-type]

        threads = [threading.Thread(target=run, args=(f"function-{i}",)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert wrong == []


def test_each_execution_environment_has_its_own_copy_of_the_module(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "envtest_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "handler.py").write_text("STATE: list[str] = []\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    environments = lambda_runtime.Environments("envtest_pkg.handler", limit=2)
    inside = threading.Barrier(2)
    seen: dict[str, int] = {}

    def invocation() -> None:
        with environments.take() as module:
            seen[module] = id(importlib.import_module(module).STATE)
            inside.wait(timeout=5)  # both environments busy at once

    threads = [threading.Thread(target=invocation) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(seen) == ["envtest_pkg.handler", "envtest_pkg.handler__env1"]
    assert len(set(seen.values())) == 2  # module state is per environment
    with environments.take() as again:
        assert again in seen  # a warm environment is reused, none is started
    assert environments.started == 2
    for name in [n for n in sys.modules if n.startswith("envtest_pkg")]:
        del sys.modules[name]
