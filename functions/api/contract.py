"""What the OpenAPI document says beside the handlers' own signatures: the bearer scheme, the
scope each route requires (auth.py enforces exactly these), and the error body."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

BEARER = "apiKey"
Security = list[dict[str, list[str]]]


def requires(scope: str) -> Security:
    """A route's security requirement: a bearer API key holding `scope` (OpenAPI 3.1 lets a
    non-OAuth requirement list role names; auth.py reads them from the route)."""
    return [{BEARER: [scope]}]


class FieldProblem(BaseModel):
    field: str = Field(description="The parameter or body field, e.g. `limit`, `on_hand`.")
    problem: str


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: str = Field(description="Stable, machine-readable: `invalid_request`, `not_found`, ...")
    message: str = Field(description="For people; wording may change.")
    fields: list[FieldProblem] | None = Field(
        default=None, description="With `invalid_request`: each field that was refused."
    )


class ErrorBody(BaseModel):
    """Every 4xx (and 5xx) body."""

    error: ErrorDetail


_WHEN = {
    400: "Invalid request: `invalid_request` (with `fields`) or `invalid_cursor`",
    401: "`unauthorized`: no API key, or not a valid one (`WWW-Authenticate: Bearer`)",
    403: "`forbidden`: the API key lacks the route's scope",
    404: "Not found",
    409: "Conflict",
    422: "`unprocessable`: the request is well-formed but cannot be met",
    502: "`provider_error`: the payment provider refused or did not answer",
    415: "`unsupported_media_type`: the body is not `application/json`",
}


def responses(
    model: type[BaseModel], description: str, *statuses: int, success: int = 200, **when: str
) -> dict[int, Any]:
    """A route's OpenAPI `responses`: `success` (200) with `model`, and each error status with
    the error body (`when` overrides an error's description: `s404="..."`)."""
    documented: dict[int, Any] = {
        success: {"description": description, "content": {"application/json": {"model": model}}}
    }
    for status in statuses:
        documented[status] = {
            "description": when.get(f"s{status}", _WHEN[status]),
            "content": {"application/json": {"model": ErrorBody}},
        }
    return documented
