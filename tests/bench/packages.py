"""5. Zipped package size per Lambda function, as infra/bundling.py builds it for deployment.

One package per function of the template: its handler's import graph plus, for a function that
serves one provider, that provider's package (PROVIDER); only the libraries that code imports.
The packages are built in a child process, so a failing build (uv missing, no wheel) is
reported as a skip instead of crashing the section. Beside each: what every function weighed
before the shape issue (tests/bench/before.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tests.bench import before
from tests.bench.report import ROOT, heading, how, note, table

ZIPPED_LIMIT_MB = 50  # Lambda: direct upload of a .zip
UNZIPPED_LIMIT_MB = 250  # Lambda: deployment package incl. layers, unzipped
MB = 1024 * 1024
# PEP 552 flags in a .pyc header: bit 0 hash-based, bit 1 check_source.
PYC_KINDS = {0: "timestamp", 1: "unchecked-hash", 3: "checked-hash"}


@dataclass(frozen=True)
class PackageFigures:
    unzipped: int
    zipped: int
    files: int
    py: int
    pyc: int
    pyc_kinds: dict[str, int]
    py_without_pyc: int
    largest: list[tuple[str, int]]


def lambda_packages(template: dict[str, object]) -> dict[str, tuple[str, dict[str, str]]]:
    """One name per distinct package ('webhooks-stripe', 'api', ...) -> (handler, the
    environment that shapes it: PROVIDER, if the function serves one provider)."""
    resources = template.get("Resources", {})
    assert isinstance(resources, dict)
    found: dict[str, tuple[str, dict[str, str]]] = {}
    for resource in resources.values():
        if resource.get("Type") != "AWS::Lambda::Function":
            continue
        properties = resource["Properties"]
        handler = str(properties["Handler"])
        if not handler.startswith("functions."):
            continue
        variables = properties.get("Environment", {}).get("Variables", {})
        provider = variables.get("PROVIDER")
        environment = {"PROVIDER": provider} if isinstance(provider, str) else {}
        name = handler.split(".")[1] + (f"-{provider}" if environment else "")
        found[name] = (handler, environment)
    return found


def uv_location() -> str | None:
    """Where infra/bundling.py will find uv (PATH first, then the Makefile's .tools)."""
    found = shutil.which("uv")
    if found:
        return found
    local = ROOT / ".tools" / "bin" / "uv"
    return str(local) if local.exists() else None


def _pyc_flags(path: Path) -> int:
    with path.open("rb") as handle:
        header = handle.read(8)
    return int.from_bytes(header[4:8], "little") if len(header) == 8 else -1


def measure(directory: Path, archive: Path) -> PackageFigures:
    unzipped = files = py = pyc = 0
    missing = 0
    kinds: dict[str, int] = {}
    top: dict[str, int] = {}
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(directory.rglob("*")):
            if not path.is_file():
                continue
            relative = path.relative_to(directory)
            size = path.stat().st_size
            bundle.write(path, relative.as_posix())
            files += 1
            unzipped += size
            top[relative.parts[0]] = top.get(relative.parts[0], 0) + size
            if path.suffix == ".py":
                py += 1
                tag = sys.implementation.cache_tag
                if not (path.parent / "__pycache__" / f"{path.stem}.{tag}.pyc").exists():
                    missing += 1
            elif path.suffix == ".pyc":
                pyc += 1
                kind = PYC_KINDS.get(_pyc_flags(path), "unknown")
                kinds[kind] = kinds.get(kind, 0) + 1
    largest = sorted(top.items(), key=lambda kv: -kv[1])[:3]
    return PackageFigures(
        unzipped=unzipped,
        zipped=archive.stat().st_size,
        files=files,
        py=py,
        pyc=pyc,
        pyc_kinds=kinds,
        py_without_pyc=missing,
        largest=largest,
    )


def build(
    packages: dict[str, tuple[str, dict[str, str]]], output: Path
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "1",
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
        "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
    }
    script = (
        "import json, sys; from pathlib import Path; from infra.bundling import build_function\n"
        "for name, (handler, environment) in json.loads(sys.argv[2]).items():\n"
        "    build_function(handler, Path(sys.argv[1]) / name, environment=environment)\n"
    )
    return subprocess.run(  # noqa: S603 - our interpreter, a fixed script, our package names
        [sys.executable, "-c", script, str(output), json.dumps(packages)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def main() -> int:
    from infra.local.synth import synth_template

    heading("5", "Lambda package size per function (infra.bundling.build_function, zipped)")
    started = time.perf_counter()
    uv = uv_location()
    if uv is None:
        print(
            "skipped: uv is not on PATH and .tools/bin/uv does not exist, and infra/bundling.py "
            "needs it to fetch the aarch64 wheels (`make setup` installs it)."
        )
        return 0
    packages = lambda_packages(synth_template())
    with tempfile.TemporaryDirectory(prefix="orderhub-bench-") as scratch:
        output = Path(scratch)
        result = build(packages, output)
        if result.returncode != 0:
            tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-8:])
            print(f"skipped: build_package failed (exit {result.returncode}):\n{tail}")
            return 0
        rows: list[list[object]] = []
        for name in sorted(packages):
            figures = measure(output / name, output / f"{name}.zip")
            rows.append(
                [
                    name,
                    packages[name][0].rsplit(".", 1)[0].removeprefix("functions.")
                    + "".join(f", {k}={v}" for k, v in packages[name][1].items()),
                    figures.unzipped / MB,
                    figures.zipped / MB,
                    before.PACKAGE_ZIPPED_MB,
                    f"{figures.zipped / MB / ZIPPED_LIMIT_MB:.0%}",
                    f"{figures.unzipped / MB / UNZIPPED_LIMIT_MB:.0%}",
                    figures.files,
                    figures.pyc,
                    ", ".join(f"{n} {kind}" for kind, n in sorted(figures.pyc_kinds.items())),
                    figures.py_without_pyc,
                    ", ".join(f"{top} {size / MB:.1f}" for top, size in figures.largest),
                ]
            )
    table(
        [
            "package",
            "handlers",
            "unzipped MB",
            "zipped MB",
            "before",
            f"of {ZIPPED_LIMIT_MB} MB zip",
            f"of {UNZIPPED_LIMIT_MB} MB",
            "files",
            ".pyc",
            ".pyc kinds",
            ".py w/o .pyc",
            "largest top-level entries (MB unzipped)",
        ],
        rows,
    )
    how(
        "infra.bundling.build_function(<handler>, tmpdir, environment=<PROVIDER>) in a child "
        "process (aarch64-manylinux_2_34 wheels for CPython 3.13 via uv at "
        f"{uv}, cached under .build/lambda-deps), then every file zipped "
        "with zipfile.ZIP_DEFLATED (default level; CDK's own asset zip may differ slightly); "
        ".pyc flags read from header bytes 4..8 (PEP 552: 0 timestamp, 1 unchecked-hash, "
        "3 checked-hash); '.py w/o .pyc' = "
        f"sources with no __pycache__/<name>.{sys.implementation.cache_tag}.pyc beside them."
    )
    note(
        f"Lambda limits: {ZIPPED_LIMIT_MB} MB zipped for direct upload, {UNZIPPED_LIMIT_MB} MB "
        "unzipped including layers; boto3/botocore are left out (the runtime provides them)."
    )
    note(
        f"'before' = every function's package before one function per provider and per-function "
        f"dependencies ({before.SOURCE}): {before.PACKAGE_UNZIPPED_MB} MB unzipped, "
        f"{before.PACKAGE_ZIPPED_MB} MB zipped, every runtime dependency and all of shared/. "
        "Third-party modules now ship as sourceless unchecked-hash .pyc (infra/bundling.py)."
    )
    print(f"(section 5 took {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
