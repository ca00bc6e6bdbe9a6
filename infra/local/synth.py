"""Synthesise the CDK app exactly as `cdk synth` would (cdk.json context included), cached on
disk by the hash of everything that shapes the template, so tests and the demo synthesise once."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from infra.paths import BUILD, ROOT
from shared.registry import EXTRA_PROVIDERS_ENV


# Local synthesis skips asset bundling: the embedded stack runs the source tree in-process.
# The embedded stack is a sandbox: the providers' test-mode payments (what the simulators and
# the providers' test dashboards send) pay its orders, unless ORDERHUB_ACCEPT_TEST_PAYMENTS=false.
def local_context() -> dict[str, Any]:
    return {
        "aws:cdk:bundling-stacks": [],
        "orderhub:acceptTestPayments": os.environ.get("ORDERHUB_ACCEPT_TEST_PAYMENTS", "true"),
    }


# What the template is made of: the CDK app, and the code it derives resources from (the
# provider registry, the table's schema, the functions' settings models). A provider added
# through ORDERHUB_EXTRA_PROVIDERS (tests) shapes it too.
_SHAPING = ("infra/**/*.py", "shared/**/*.py", "cdk.json", "uv.lock")


def _fingerprint(context: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(context, sort_keys=True).encode())
    extras = os.environ.get(EXTRA_PROVIDERS_ENV, "")
    digest.update(extras.encode())
    for path in [*_shaping_files(), *_extra_provider_files(extras)]:
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def _shaping_files() -> list[Path]:
    return [
        path
        for pattern in _SHAPING
        for path in sorted(ROOT.glob(pattern))
        # the embedded stack's own code does not shape the template
        if "local" not in path.relative_to(ROOT).parts
    ]


def _extra_provider_files(references: str) -> list[Path]:
    """The packages that define the extra providers' entries (their names, secrets and
    ingress kinds are the template's): "tests.fictional.acme:PROVIDERS" -> its .py files."""
    files: list[Path] = []
    for reference in filter(None, (r.strip() for r in references.split(","))):
        package = ROOT.joinpath(*reference.partition(":")[0].split("."))
        folder = package if package.is_dir() else package.parent
        files += sorted(path for path in folder.rglob("*.py") if path.is_relative_to(ROOT))
    return files


def synth_template(context: dict[str, Any] | None = None, *, fresh: bool = False) -> dict[str, Any]:
    """The stack's template; synthesised in a child process (jsii and Node stay out of ours)."""
    merged = {**local_context(), **(context or {})}
    outdir = BUILD / "synth" / _fingerprint(merged)
    outdir.parent.mkdir(parents=True, exist_ok=True)
    # Parallel test workers share the cache: one synthesises while the others wait for it.
    with (outdir.parent / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _synthesised(outdir, merged, fresh=fresh)


def _synthesised(outdir: Path, merged: dict[str, Any], *, fresh: bool) -> dict[str, Any]:
    templates = sorted(outdir.glob("*.template.json")) if outdir.exists() else []
    if fresh or not templates:
        outdir.mkdir(parents=True, exist_ok=True)
        script = (
            "import json, sys; from infra.app import build_app; "
            "app, _ = build_app(json.loads(sys.argv[1]), outdir=sys.argv[2]); app.synth()"
        )
        env = {
            **os.environ,
            "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
            "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
        }
        result = subprocess.run(
            [sys.executable, "-c", script, json.dumps(merged), str(outdir)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"cdk synth failed:\n{result.stdout}\n{result.stderr}")
        templates = sorted(outdir.glob("*.template.json"))
    document: dict[str, Any] = json.loads(Path(templates[0]).read_text())
    return document
