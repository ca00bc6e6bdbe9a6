"""docs/openapi.json, generated from the handlers: `python -m functions.api.openapi` rewrites
it (tests/unit/test_openapi_current.py fails while the committed file is not current)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

from functions.api.contract import BEARER
from functions.api.handler import app

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
VERSION = "1"
DESCRIPTION = (
    "The orderhub management API: orders and stock, behind bearer API keys with scopes. "
    'Every error is `{"error": {"code", "message", ...}}`; see docs/api.md.'
)


def document() -> dict[str, Any]:
    generated: dict[str, Any] = json.loads(
        app.get_openapi_json_schema(
            title="orderhub API",
            version=VERSION,
            description=DESCRIPTION,
            security_schemes={
                BEARER: HTTPBearer(
                    bearerFormat="API key",
                    description="`Authorization: Bearer <api key>`; each route names the scope "
                    "the key needs.",
                )
            },
        )
    )
    # Powertools documents its own 422 for invalid requests; this API answers 400 (ErrorBody).
    for operations in generated["paths"].values():
        for operation in operations.values():
            operation["responses"].pop("422", None)
    _drop_unreferenced(generated["components"]["schemas"], generated["paths"])
    return generated


def _drop_unreferenced(schemas: dict[str, Any], paths: dict[str, Any]) -> None:
    """Keep the component schemas the operations reach (Powertools adds its own error types)."""
    prefix = "#/components/schemas/"
    reached: set[str] = set()
    pending = [paths]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(prefix):
                name = ref.removeprefix(prefix)
                if name not in reached:
                    reached.add(name)
                    pending.append(schemas[name])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    for name in set(schemas) - reached:
        del schemas[name]


def render() -> str:
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        sys.exit(0 if DOCUMENT.read_text() == render() else 1)
    DOCUMENT.write_text(render())
    print(f"wrote {DOCUMENT}")
