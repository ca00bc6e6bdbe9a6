"""CDK entry point: `python -m infra.app` (cdk.json's "app")."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from aws_cdk import App, Environment

from infra.nag import apply_nag
from infra.paths import CDK_JSON, ROOT
from infra.stack import OrderhubStack
from shared.registry import EXTRA_PROVIDERS_ENV

STACK_NAME = "orderhub"


def cdk_json_context() -> dict[str, Any]:
    """cdk.json's context: `python -m infra.app` without the CLI does not read it itself."""
    return dict(json.loads(CDK_JSON.read_text()).get("context", {}))


def build_app(
    context: dict[str, Any] | None = None, outdir: str | Path | None = None, *, nag: bool = True
) -> tuple[App, OrderhubStack]:
    merged = {**cdk_json_context(), **(context or {})}
    app = App(context=merged, outdir=str(outdir) if outdir else None)
    stage = str(app.node.try_get_context("orderhub:stage") or "dev")
    stack = OrderhubStack(
        app,
        f"{STACK_NAME}-{stage}",
        env=Environment(
            account=os.environ.get("CDK_DEFAULT_ACCOUNT"),
            region=os.environ.get("CDK_DEFAULT_REGION"),
        ),
        description="orderhub: webhooks -> orders, stock, fulfilment workflow",
    )
    if nag:
        apply_nag(app, stack)
    return app, stack


def main() -> None:
    if os.environ.get(EXTRA_PROVIDERS_ENV):
        # Fictional providers are for the tests' templates, never for a deployment.
        raise SystemExit(f"unset {EXTRA_PROVIDERS_ENV} to synthesise or deploy the stack")
    # Under the CDK CLI, CDK_OUTDIR says where to write; run directly, write ./cdk.out.
    outdir = None if "CDK_OUTDIR" in os.environ else ROOT / "cdk.out"
    stage = os.environ.get("ORDERHUB_STAGE")  # `make synth STAGE=prod`; the CLI uses -c
    app, _ = build_app({"orderhub:stage": stage} if stage else None, outdir=outdir)
    app.synth()


if __name__ == "__main__":
    main()
