"""Lambda packages built on this machine, without Docker.

Each function's zip holds: the runtime dependencies the Lambda runtime lacks (wheels for
manylinux aarch64 / CPython 3.13, resolved from uv.lock), the `shared` package, and the
function's own package, all compiled to unchecked-hash .pyc. Timestamp-based .pyc never validate
on Lambda (zips reset mtimes, and /var/task is read-only, so every cold start would recompile);
checked-hash .pyc validate but hash every source file on import (1-4% of a cold start);
unchecked-hash .pyc are used as they are, which is safe because a deployed package never changes
in place: a new version is a new package, compiled again.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from infra.paths import BUILD, ROOT

LAMBDA_PYTHON = "3.13"
LAMBDA_PLATFORM = "aarch64-manylinux2014"
# PEP 552: the .pyc kind every package ships (see the module docstring).
PYC_INVALIDATION_MODE = "unchecked-hash"
# The Lambda Python runtime ships boto3 and its dependencies; bundling them only adds size.
PROVIDED_BY_RUNTIME = {
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "urllib3",
    "python-dateutil",
    "six",
}
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "tests")


def _uv() -> str:
    found = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    if not Path(found).exists():
        raise RuntimeError("uv is needed to bundle Lambda packages: run `make` targets")
    return found


def runtime_requirements() -> str:
    exported = subprocess.run(
        [
            _uv(),
            "export",
            "--frozen",
            "--no-dev",
            "--no-hashes",
            "--no-emit-project",
            "--no-header",
            "--no-annotate",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    kept = []
    for line in exported.splitlines():
        name = line.split("==")[0].split("[")[0].strip().lower()
        if line.strip() and not line.startswith("#") and name not in PROVIDED_BY_RUNTIME:
            kept.append(line.strip())
    return "\n".join(sorted(kept)) + "\n"


def dependencies_dir(platform: str = LAMBDA_PLATFORM) -> Path:
    """Install the runtime dependencies once per lock state; every function copies them.

    `platform` is a uv --python-platform; only the bench asks for another one than Lambda's
    (packages built the way they ship, with wheels this machine can import)."""
    requirements = runtime_requirements()
    digest = hashlib.sha256(f"{platform}{LAMBDA_PYTHON}{requirements}".encode()).hexdigest()
    target = BUILD / "lambda-deps" / digest[:16]
    if target.exists():
        return target
    staging = target.with_suffix(".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    requirements_file = staging.parent / f"{digest[:16]}.txt"
    requirements_file.write_text(requirements)
    subprocess.run(
        [
            _uv(),
            "pip",
            "install",
            "--quiet",
            "--target",
            str(staging),
            "--no-deps",
            "--python-platform",
            platform,
            "--python-version",
            LAMBDA_PYTHON,
            "--only-binary",
            ":all:",
            "--no-compile",
            "-r",
            str(requirements_file),
        ],
        cwd=ROOT,
        check=True,
    )
    staging.rename(target)
    return target


def _compiler() -> str | None:
    if sys.version_info[:2] == (3, 13):
        return sys.executable
    return shutil.which("python3.13")


def build_package(
    function_package: str, output_dir: Path, *, platform: str = LAMBDA_PLATFORM
) -> None:
    shutil.copytree(dependencies_dir(platform), output_dir, dirs_exist_ok=True)
    shutil.copytree(ROOT / "shared", output_dir / "shared", ignore=_IGNORE, dirs_exist_ok=True)
    (output_dir / "functions").mkdir(exist_ok=True)
    shutil.copy2(ROOT / "functions" / "__init__.py", output_dir / "functions" / "__init__.py")
    shutil.copytree(
        ROOT / "functions" / function_package,
        output_dir / "functions" / function_package,
        ignore=_IGNORE,
        dirs_exist_ok=True,
    )
    compiler = _compiler()
    if compiler is None:
        print(
            f"warning: no python{LAMBDA_PYTHON} here; {function_package} ships without .pyc",
            file=sys.stderr,
        )
        return
    subprocess.run(
        [
            compiler,
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            PYC_INVALIDATION_MODE,
            str(output_dir),
        ],
        check=True,
    )
