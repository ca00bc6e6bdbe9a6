"""cfn-lint and cdk-nag over the real synthesis, and a real Lambda package built without Docker."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from cfnlint.api import ManualArgs, lint

from infra.bundling import build_package
from infra.nag import REASONS

# Reasons kept for findings this stack does not draw (none today).
_UNUSED_HERE: set[str] = set()


def test_cfn_lint_finds_nothing(template: dict[str, Any]) -> None:
    matches = lint(
        json.dumps(template), config=ManualArgs(regions=["eu-central-1"], ignore_checks=["W3005"])
    )  # W3005: CDK's redundant DependsOn
    assert [str(m) for m in matches] == []


def test_cdk_nag_runs_at_synth_and_every_acknowledgement_has_a_reason(tmp_path: Path) -> None:
    from infra.app import build_app

    app, _ = build_app({"aws:cdk:bundling-stacks": []}, outdir=tmp_path)
    app.synth()  # raises ValidationFailed on any unacknowledged AwsSolutions finding

    (report,) = json.loads((tmp_path / "validation-report.json").read_text())["pluginReports"]
    assert (report["pluginName"], report["conclusion"]) == ("AwsSolutions", "success")
    assert report["violations"] == []
    suppressed = report["suppressedViolations"]
    assert suppressed, "the report lists what was acknowledged"
    assert all(len(v["reason"]) > 60 for v in suppressed), "every acknowledgement says why"
    assert {v["reason"] for v in suppressed} >= set(REASONS.values()) - _UNUSED_HERE


def test_a_lambda_package_is_built_without_docker_for_arm64(tmp_path: Path) -> None:
    out = tmp_path / "webhooks"
    out.mkdir()

    build_package("webhooks", out)

    assert (out / "functions" / "webhooks" / "handler.py").exists()
    assert (out / "shared" / "inbox" / "store.py").exists()
    assert not (out / "functions" / "api").exists()  # only its own function
    assert not (out / "boto3").exists() and not (out / "botocore").exists()
    native = list(out.glob("pydantic_core/_pydantic_core.*.so"))
    assert native and "aarch64" in native[0].name
    pycs = list(out.glob("shared/**/__pycache__/*.cpython-313.pyc"))
    assert pycs
    flags = int.from_bytes(pycs[0].read_bytes()[4:8], "little")
    # unchecked-hash (flags 1): valid on Lambda's read-only, mtime-reset file system, and no
    # source is hashed at import (the package never changes in place)
    assert flags == 1

    archive = tmp_path / "package.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in out.rglob("*"):
            zipped.write(path, path.relative_to(out))
    assert archive.stat().st_size < 50 * 1024 * 1024
