"""`python -m tests.bench [cold|warm|aws|packages|load ...]`: each section in a fresh process.

Sections run one after another in their own interpreters, so one section's imports, patches
and threads (the embedded stack) never colour another's figures. A section that crashes is
reported and the others still run; the exit status is then 1. Figures are never judged.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time

from tests.bench.report import ROOT

SECTIONS = {
    "cold": "tests.bench.cold_start",
    "warm": "tests.bench.warm_path",
    "aws": "tests.bench.aws_work",
    "packages": "tests.bench.packages",
    "load": "tests.bench.load",
}


def main(argv: list[str]) -> int:
    chosen = argv or list(SECTIONS)
    unknown = [name for name in chosen if name not in SECTIONS]
    if unknown:
        print(f"unknown section(s) {unknown}; choose from {list(SECTIONS)}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(
        f"orderhub bench: Python {platform.python_version()} ({sys.executable}), "
        f"{platform.machine()}, {os.cpu_count()} CPUs, load average {load}",
        flush=True,
    )
    print("Figures are measured now, on this machine; nothing here passes or fails.", flush=True)
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH") or str(ROOT)}
    crashed: list[str] = []
    for name in chosen:
        result = subprocess.run(  # noqa: S603 - our interpreter and our own modules
            [sys.executable, "-m", SECTIONS[name]], cwd=ROOT, env=env, check=False
        )
        if result.returncode != 0:
            crashed.append(name)
            print(
                f"\n!! section {name!r} crashed (exit {result.returncode}); see above", flush=True
            )
    seconds = time.perf_counter() - started
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"\nbench finished in {seconds:.0f} s (load average now {load})", flush=True)
    if crashed:
        print(f"crashed sections: {', '.join(crashed)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
