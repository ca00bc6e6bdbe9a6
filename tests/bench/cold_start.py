"""1. Cold import per handler, beside the interpreter floor and a Powertools hello-world.

Every sample is a fresh interpreter (nothing cached in memory), with warm .pyc on disk (one
untimed run first writes __pycache__; PYTHONDONTWRITEBYTECODE, which the Makefile exports, is
removed for these children) and the environment a Lambda function has.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field

from tests.bench.report import ROOT, heading, how, note, percentile, table

SAMPLES = int(os.environ.get("BENCH_COLD_SAMPLES", "20"))
IMPORTTIME_RUNS = 3
HELLO = "hello_powertools"
FLOOR = "hot_path_floor"
HANDLERS = (
    "functions.webhooks_orders.handler",
    "functions.webhooks_payments.handler",
    "functions.api.handler",
    "functions.stream_router.handler",
    "functions.fulfilment.handler",
    "functions.pollers.reconcile",
)
# Prints the seconds `import <module>` took inside the child, then how many of the source
# modules it imported have a cached .pyc (the evidence that .pyc were warm; frozen stdlib
# modules have no __cached__ and are not counted).
_IMPORT_SCRIPT = """\
import time
started = time.perf_counter()
import {module}
elapsed = time.perf_counter() - started
import os, sys
sources = [m for m in list(sys.modules.values())
           if (getattr(m, "__file__", None) or "").endswith(".py")
           and getattr(m, "__cached__", None)]
cached = [m for m in sources if os.path.exists(m.__cached__)]
print(elapsed, len(cached), len(sources), int(sys.flags.dont_write_bytecode))
"""


@dataclass
class Target:
    label: str
    module: str | None  # None: the floor, `python -c pass`
    imports_ms: list[float] = field(default_factory=list)
    process_ms: list[float] = field(default_factory=list)
    pyc: tuple[int, int] = (0, 0)

    @property
    def function_name(self) -> str:
        parts = (self.module or "floor").split(".")
        return "bench-" + (parts[1] if len(parts) > 1 else parts[0]).replace("_", "-")


def child_environment(function_name: str) -> dict[str, str]:
    """What the Lambda runtime sets (and what Powertools reads at import), nothing that turns
    off bytecode caching."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(
        {
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests" / "bench")]),
            "LAMBDA_TASK_ROOT": str(ROOT),
            "AWS_LAMBDA_FUNCTION_NAME": function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
            "AWS_REGION": "eu-central-1",
            "AWS_DEFAULT_REGION": "eu-central-1",
            "POWERTOOLS_SERVICE_NAME": function_name,
            "POWERTOOLS_METRICS_NAMESPACE": "orderhub",
        }
    )
    return env


def _command(target: Target) -> list[str]:
    if target.module is None:
        return [sys.executable, "-c", "pass"]
    return [sys.executable, "-c", _IMPORT_SCRIPT.format(module=target.module)]


def run_once(target: Target) -> tuple[float, str]:
    """Whole-process wall time (fork/exec, interpreter start, import, exit) and its stdout."""
    command = _command(target)
    env = child_environment(target.function_name)
    started = time.perf_counter()
    result = subprocess.run(  # noqa: S603 - our own interpreter with a fixed script
        command, cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"{target.label} failed:\n{result.stderr[-2000:]}")
    return wall * 1000, result.stdout


def measure(targets: list[Target], samples: int) -> None:
    for target in targets:  # untimed: writes __pycache__ where it is missing
        run_once(target)
    for _ in range(samples):  # round-robin, so drift on the machine hits every target alike
        for target in targets:
            wall_ms, out = run_once(target)
            target.process_ms.append(wall_ms)
            if target.module is not None:
                seconds, cached, sources, no_write = out.split()
                target.imports_ms.append(float(seconds) * 1000)
                target.pyc = (int(cached), int(sources))
                if no_write != "0":
                    raise RuntimeError("PYTHONDONTWRITEBYTECODE leaked into the child")


_IMPORTTIME = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)")


def import_breakdown(module: str) -> dict[str, float]:
    """Self time (ms) by top-level package from `python -X importtime`, median of a few runs."""
    runs: list[dict[str, float]] = []
    for _ in range(IMPORTTIME_RUNS):
        result = subprocess.run(  # noqa: S603
            [sys.executable, "-X", "importtime", "-c", f"import {module}"],
            cwd=ROOT,
            env=child_environment("bench-importtime"),
            capture_output=True,
            text=True,
            check=True,
        )
        totals: dict[str, float] = defaultdict(float)
        for line in result.stderr.splitlines():
            found = _IMPORTTIME.match(line)
            if not found:
                continue
            root = found.group(4).split(".")[0]
            group = "stdlib" if root in sys.stdlib_module_names or root == "_" else root
            totals[group] += int(found.group(1)) / 1000
        runs.append(totals)
    groups = {name for run in runs for name in run}
    return {name: statistics.median(run.get(name, 0.0) for run in runs) for name in groups}


def main() -> int:
    heading("1", "Cold import per handler (fresh interpreter each sample, warm .pyc)")
    floor = Target("floor: python -c pass", None)
    hello = Target("baseline: Powertools hello-world", HELLO)
    needs = Target("floor: what a webhook truly needs", FLOOR)
    handlers = [Target(module, module) for module in HANDLERS]
    targets = [floor, hello, needs, *handlers]
    started = time.perf_counter()
    measure(targets, SAMPLES)
    hello_p50 = statistics.median(hello.imports_ms)
    needs_p50 = statistics.median(needs.imports_ms)
    floor_p50 = statistics.median(floor.process_ms)
    rows: list[list[object]] = []
    for target in targets:
        imported = target.imports_ms
        rows.append(
            [
                target.label,
                len(target.process_ms),
                statistics.median(imported) if imported else "-",
                percentile(imported, 90) if imported else "-",
                statistics.median(target.process_ms),
                percentile(target.process_ms, 90),
                f"{statistics.median(imported) / hello_p50:.2f}x" if imported else "-",
                f"{statistics.median(imported) / needs_p50:.2f}x" if imported else "-",
                f"{target.pyc[0]}/{target.pyc[1]}" if imported else "-",
            ]
        )
    table(
        [
            "module",
            "n",
            "import p50 ms",
            "import p90 ms",
            "process p50 ms",
            "process p90 ms",
            "import / hello",
            "import / needs",
            "modules from .pyc",
        ],
        rows,
    )
    how(
        f"{SAMPLES} fresh `{os.path.basename(sys.executable)}` subprocesses per row, interleaved "
        "round-robin after one untimed run each; 'import' = time.perf_counter() around "
        "`import <module>` inside the child (interpreter start excluded); 'process' = parent's "
        "wall time of the whole child (start + import + exit; for the floor `-c pass` only); "
        "env: LAMBDA_TASK_ROOT, AWS_LAMBDA_FUNCTION_NAME, POWERTOOLS_SERVICE_NAME, AWS_REGION "
        "set, PYTHONDONTWRITEBYTECODE unset; 'modules from .pyc' = imported .py modules (frozen "
        "ones aside) whose __cached__ .pyc exists."
    )
    note(
        f"import / needs = import p50 / the hot-path floor ({needs_p50:.0f} ms: pydantic, "
        "Powertools' HTTP resolver, Logger and Metrics; boto3 is lazy on both sides); the "
        "budget in DESIGN.md is 2x."
    )
    note(
        f"import / hello = handler import p50 / hello-world import p50 ({hello_p50:.0f} ms); "
        f"interpreter floor p50 {floor_p50:.1f} ms. Python {sys.version.split()[0]} on this "
        f"machine ({os.cpu_count()} CPUs), not Lambda's arm64."
    )

    breakdown_targets = [HELLO, HANDLERS[0], HANDLERS[1]]
    breakdowns = {module: import_breakdown(module) for module in breakdown_targets}
    groups = sorted(
        {name for values in breakdowns.values() for name in values},
        key=lambda name: -max(values.get(name, 0.0) for values in breakdowns.values()),
    )
    shown = groups[:7]
    rows = [
        [
            module,
            *(values.get(name, 0.0) for name in shown),
            sum(values.values()) - sum(values.get(name, 0.0) for name in shown),
            sum(values.values()),
        ]
        for module, values in breakdowns.items()
    ]
    table(
        ["module", *(f"{name} ms" for name in shown), "rest ms", "total ms"],
        rows,
        title="Where the import time goes (self time by top-level package):",
    )
    how(
        f"`python -X importtime -c 'import <module>'`, self time of every imported module summed "
        f"by top-level package (stdlib grouped), median of {IMPORTTIME_RUNS} runs; -X importtime "
        "adds its own overhead, so totals exceed the import times above."
    )
    print(f"(section 1 took {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
