"""moto's Step Functions interpreter parses a shareable definition once (infra/local/
state_machines.py); a definition with Map or Parallel, whose components record an execution's
progress, is parsed for every execution as before."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from infra.local import patching, state_machines

TASKS = {
    "StartAt": "Reserve",
    "States": {
        "Reserve": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "Paid?"},
        "Paid?": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.paid", "BooleanEquals": True, "Next": "Done"}],
            "Default": "Wait",
        },
        "Wait": {"Type": "Wait", "Seconds": 1, "Next": "Done"},
        "Done": {"Type": "Succeed"},
    },
}


def _with(state: dict[str, Any]) -> str:
    document = json.loads(json.dumps(TASKS))
    document["States"]["Extra"] = state
    return json.dumps(document)


def test_tasks_choices_and_waits_are_shareable() -> None:
    assert state_machines.shareable(json.dumps(TASKS))


@pytest.mark.parametrize(
    "state",
    [
        {"Type": "Map", "ItemProcessor": {"StartAt": "A", "States": {"A": {"Type": "Pass"}}}},
        {"Type": "Parallel", "Branches": [{"StartAt": "A", "States": {"A": {"Type": "Pass"}}}]},
        {  # nested: a Map inside a Parallel's branch
            "Type": "Parallel",
            "Branches": [
                {
                    "StartAt": "M",
                    "States": {
                        "M": {
                            "Type": "Map",
                            "Iterator": {"StartAt": "A", "States": {"A": {"Type": "Pass"}}},
                        }
                    },
                }
            ],
        },
    ],
)
def test_map_and_parallel_are_parsed_per_execution(state: dict[str, Any]) -> None:
    assert not state_machines.shareable(_with(state))


@pytest.mark.parametrize("definition", ["", "not json", "[]", "3"])
def test_what_is_not_a_json_object_is_not_shared(definition: str) -> None:
    assert not state_machines.shareable(definition)


def _worker(definition: str) -> Any:
    details = SimpleNamespace(state_machine_details=SimpleNamespace(definition=definition))
    return SimpleNamespace(_evaluation_details=details)


def test_a_definition_moto_refuses_is_refused_at_every_execution() -> None:
    """Shareable by its shape, but not a state machine: moto's parser raises, and the cache
    keeps no failure, so the next execution raises again as it would have."""
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    with patching.installed(state_machines.install):
        broken = '{"States": 3}'
        assert state_machines.shareable(broken)
        for _ in range(2):
            with pytest.raises(Exception):  # noqa: B017, PT011 - whatever moto's parser raises
                ExecutionWorker._get_evaluation_entrypoint(_worker(broken))


def test_one_parse_serves_every_execution_of_a_shareable_definition() -> None:
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    with patching.installed(state_machines.install):
        entry = ExecutionWorker._get_evaluation_entrypoint
        shared = json.dumps(TASKS)
        assert entry(_worker(shared)) is entry(_worker(shared))
        mapped = _with(
            {"Type": "Map", "Iterator": {"StartAt": "A", "States": {"A": {"Type": "Pass"}}}}
        )
        assert entry(_worker(mapped)) is not entry(_worker(mapped))


def test_a_components_retry_key_is_made_once_however_many_executions_ask() -> None:
    """Executions of one shared program keep a Retry's attempts under the component's key:
    asked for from many threads at once, every one gets the same key."""
    import threading

    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent

    class Probe(EvalComponent):
        def _eval_body(self, env: Any) -> None:  # pragma: no cover - never evaluated
            pass

    with patching.installed(state_machines.install):
        component = Probe()
        start = threading.Barrier(8)
        keys: list[str] = []

        def ask() -> None:
            start.wait()
            keys.append(component.heap_key)

        threads = [threading.Thread(target=ask) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(set(keys)) == 1 and len(keys) == 8
        assert Probe().heap_key != component.heap_key


PATH_CASES = [
    ("$", {"a": 1}),
    ("$.order.lines[0].sku", {"order": {"lines": [{"sku": "MUG"}, {"sku": "CUP"}]}}),
    ("$.order.lines[*].sku", {"order": {"lines": [{"sku": "MUG"}, {"sku": "CUP"}]}}),
    ("$.items[?(@.qty > 1)].sku", {"items": [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 1}]}),
    ("$.missing", {"present": True}),
]


def _module(name: str) -> Any:
    """moto's and jsonpath_ng's modules, untyped: their `parse` is not an explicit export."""
    import importlib

    return importlib.import_module(name)


JSON_PATH = "moto.stepfunctions.parser.asl.utils.json_path"
RESULT_PATH = "moto.stepfunctions.parser.asl.component.common.path.result_path"


def _extracted(path: str, data: Any) -> Any:
    from moto.stepfunctions.parser.asl.utils.json_path import extract_json

    try:
        return extract_json(path, json.loads(json.dumps(data)))
    except Exception as error:  # a path that finds nothing raises: so must the kept one
        return type(error).__name__


@pytest.mark.parametrize(("path", "data"), PATH_CASES)
def test_a_path_compiled_once_finds_what_a_fresh_compile_finds(path: str, data: Any) -> None:
    json_path = _module(JSON_PATH)
    fresh = _extracted(path, data)
    with patching.installed(state_machines.install):
        assert json_path.parse(path) is json_path.parse(path)
        assert _extracted(path, data) == fresh == _extracted(path, data)


def test_a_result_path_compiled_once_writes_each_result_into_its_own_input() -> None:
    result_path = _module(RESULT_PATH)
    with patching.installed(state_machines.install):
        compiled = result_path.parse("$.reservation")
        assert compiled is result_path.parse("$.reservation")
        first = compiled.update_or_create({"order": 1}, {"id": "r1"})
        second = compiled.update_or_create({"order": 2}, {"id": "r2"})
    assert (first, second) == (
        {"order": 1, "reservation": {"id": "r1"}},
        {"order": 2, "reservation": {"id": "r2"}},
    )


def test_a_path_jsonpath_refuses_is_refused_every_time_and_stopping_restores_parse() -> None:
    from jsonpath_ng.exceptions import JsonPathParserError

    json_path = _module(JSON_PATH)
    with patching.installed(state_machines.install):
        for _ in range(2):
            with pytest.raises(JsonPathParserError, match="Parse error"):
                json_path.parse("$.[[")
    assert json_path.parse is _module("jsonpath_ng.ext").parse
