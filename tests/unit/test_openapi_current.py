"""docs/openapi.json is generated from the handlers and committed; it must be current."""

from __future__ import annotations

import difflib
import json
from typing import Any

import pytest

from functions.api.contract import BEARER
from functions.api.openapi import DOCUMENT, document, render


@pytest.fixture(scope="module")
def generated() -> dict[str, Any]:
    return document()


def operations(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", operation)
        for path, methods in doc["paths"].items()
        for method, operation in methods.items()
    ]


def test_the_committed_openapi_document_is_current() -> None:
    committed, current = DOCUMENT.read_text(), render()
    if committed != current:
        diff = "".join(
            list(
                difflib.unified_diff(
                    committed.splitlines(keepends=True),
                    current.splitlines(keepends=True),
                    "docs/openapi.json (committed)",
                    "generated from functions/api",
                )
            )[:60]
        )
        pytest.fail(
            "docs/openapi.json is not current: run `python -m functions.api.openapi`\n" + diff,
            pytrace=False,
        )


def test_every_operation_needs_a_bearer_key_with_a_scope(generated: dict[str, Any]) -> None:
    scheme = generated["components"]["securitySchemes"][BEARER]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for name, operation in operations(generated):
        [requirement] = operation["security"]
        assert requirement[BEARER], name


def test_errors_are_documented_as_the_error_body_and_invalid_requests_as_400(
    generated: dict[str, Any],
) -> None:
    error_body = {"$ref": "#/components/schemas/ErrorBody"}
    for name, operation in operations(generated):
        responses = operation["responses"]
        assert "422" not in responses, name
        for status in ("400", "401", "403"):
            assert responses[status]["content"]["application/json"]["schema"] == error_body, name
    detail = generated["components"]["schemas"]["ErrorDetail"]
    assert set(detail["required"]) == {"code", "message"}
    assert "fields" in detail["properties"]


def test_the_document_is_plain_json_with_a_trailing_newline() -> None:
    text = DOCUMENT.read_text()
    assert text.endswith("}\n")
    assert json.loads(text)["openapi"].startswith("3.1")
