"""moto's Step Functions interpreter parses a state machine's definition for every execution.

The parse is ANTLR's Python runtime over the whole definition, then a walk that builds the
evaluation components: 42 ms of CPU for the order workflow's 9.3 KB definition (median of 20
parses on this machine), once per order, and in the embedded stack under load about a sixth of
everything the interpreter did (py-spy, docs/performance.md section 6). The components of the
states the workflow uses (Task, Choice, Pass, Wait, Succeed, Fail) keep no state of an
execution: that lives in the execution's environment. Map and Parallel do (their iteration and
branch workers record progress on the component), so a definition that has either is parsed per
execution, as before.

Inside an execution, every InputPath, OutputPath, ResultPath and Parameters reference was
compiled again by jsonpath_ng on each evaluation: a new PLY parser each time, whose productions
reference each other, so each parse also left about seventy objects of cyclic garbage. Under
load that was the largest share of what the embedded stack's collector found each second (a
gc.DEBUG_SAVEALL probe: 5,115 of 17,236 objects were PLY productions), and every collection
pause is a pause of every request in flight. A compiled path is only read when it finds or
updates data, so each distinct path is compiled once (CACHED_PATHS); a path jsonpath_ng
refuses raises each time, as before.

One thing on a component is shared by design: the key under which an execution keeps a
Retry's attempt count in its own memory (`EvalComponent.heap_key`), made on first use with an
unlocked check-then-set. With one program per execution that could not race; with one program
for all, two executions retrying for the first time at once could each make a key and one
lose its count (a review's probe, the window widened: a Task with MaxAttempts 1 failed three
times instead of two). The key is made under a lock here.
"""

from __future__ import annotations

import functools
import json
import threading
from typing import Any
from unittest import mock

from infra.local import patching

STATEFUL_STATES = frozenset({"Map", "Parallel"})
CACHED_DEFINITIONS = 64
CACHED_PATHS = 1024
# moto's modules that compile JSONPath with `from jsonpath_ng[.ext] import parse`
_PATH_COMPILERS = (
    "moto.stepfunctions.parser.asl.utils.json_path",
    "moto.stepfunctions.parser.asl.component.common.path.result_path",
)


def _state_types(states: Any) -> set[str]:
    """Every state type in a States block and the blocks nested in it."""
    found: set[str] = set()
    if not isinstance(states, dict):
        return found
    for state in states.values():
        if not isinstance(state, dict):
            continue
        found.add(str(state.get("Type")))
        for nested in ("ItemProcessor", "Iterator"):
            if isinstance(state.get(nested), dict):
                found |= _state_types(state[nested].get("States"))
        for branch in state.get("Branches") or []:
            if isinstance(branch, dict):
                found |= _state_types(branch.get("States"))
    return found


def shareable(definition: str) -> bool:
    """Whether one parse of `definition` may serve every execution (no Map, no Parallel)."""
    try:
        document = json.loads(definition)
    except ValueError:
        return False
    if not isinstance(document, dict):
        return False
    return not (_state_types(document.get("States")) & STATEFUL_STATES)


_KEY_ATTRIBUTE = "_EvalComponent__heap_key"  # EvalComponent's private __heap_key
_key_lock = threading.Lock()


def _heap_key(component: Any) -> str:
    """EvalComponent.heap_key, made once under a lock (the same key moto would make)."""
    from moto.stepfunctions.parser.utils import long_uid

    key: str | None = component.__dict__.get(_KEY_ATTRIBUTE)
    if key is None:
        with _key_lock:
            key = component.__dict__.get(_KEY_ATTRIBUTE)
            if key is None:
                key = long_uid()
                setattr(component, _KEY_ATTRIBUTE, key)
    return key


def install(patches: list[Any]) -> None:
    """Parse a shareable definition once (per process, the most recent CACHED_DEFINITIONS)."""
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    original = ExecutionWorker._get_evaluation_entrypoint

    @functools.lru_cache(maxsize=CACHED_DEFINITIONS)
    def shared_program(definition: str) -> Any:
        """The one program for `definition`, or None: parse it per execution. A definition
        moto's parser refuses raises each time (a failure is not cached), as before."""
        return AmazonStateLanguageParser.parse(definition)[0] if shareable(definition) else None

    def entrypoint(self: Any) -> Any:
        definition = self._evaluation_details.state_machine_details.definition
        program = shared_program(definition) if isinstance(definition, str) else None
        return program if program is not None else original(self)

    patching.start(
        patches,
        mock.patch.object(ExecutionWorker, "_get_evaluation_entrypoint", entrypoint),
        mock.patch.object(EvalComponent, "heap_key", property(_heap_key)),
        *(_compile_paths_once(module) for module in _PATH_COMPILERS),
    )


def _compile_paths_once(module_name: str) -> Any:
    """A patch of `module_name.parse` (jsonpath_ng's) that compiles each distinct path once."""
    import importlib

    module = importlib.import_module(module_name)
    return mock.patch.object(
        module, "parse", functools.lru_cache(maxsize=CACHED_PATHS)(module.parse)
    )
