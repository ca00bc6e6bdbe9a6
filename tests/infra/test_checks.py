"""cfn-lint and cdk-nag over the real synthesis (the real Lambda packages, built without Docker
for arm64, are held to what they ship in tests/infra/test_packages.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cfnlint.api import ManualArgs, lint

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
