"""Where the Selling Partner API is and how one call to it fails.

- Hosts (developer-docs.amazon.com/sp-api/docs/sp-api-endpoints):
  https://sellingpartnerapi-{na,eu,fe}.amazon.com; the sandbox is the same host prefixed
  `sandbox.` (developer-docs.amazon.com/sp-api/docs/the-selling-partner-api-sandbox).
- Authorisation: every call carries an LWA access token (or a restricted data token) in the
  `x-amz-access-token` header, and nothing else: since 2 October 2023 SP-API needs no AWS IAM
  role and no Signature Version 4 ("SP-API no longer requires AWS IAM or AWS Signature
  Version 4", developer-docs.amazon.com/sp-api/changelog/sp-api-will-no-longer-require-aws-iam-
  or-aws-signature-version-4: a SigV4 signature that is sent is disregarded).
- Errors: a body `{"errors": [{"code", "message", "details"}]}`. 429 is the usage plan's rate
  limit: SP-API sends no Retry-After; `x-amzn-RateLimit-Limit` names the operation's rate in
  requests per second "when available" (developer-docs.amazon.com/sp-api/docs/usage-plans-and-
  rate-limits), else the operation's documented default rate does: one request's worth of
  time is the wait. 429 and 5xx are worth retrying; any other 4xx is
  Amazon's final word.

No httpx import: the queue consumer and the stream router load this module (the client is
passed in), and httpx stays out of their packages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

REGIONS = ("na", "eu", "fe")
DEFAULT_REGION = "eu"
ENVIRONMENTS = ("production", "sandbox")
LWA_BASE_URL = "https://api.amazon.com"  # one LWA token endpoint serves every region
LWA_TOKEN_PATH = "/auth/o2/token"  # noqa: S105 (a path, not a secret)
ACCESS_TOKEN_HEADER = "x-amz-access-token"  # noqa: S105 (a header name)
RATE_LIMIT_HEADER = "x-amzn-RateLimit-Limit"
REQUEST_ID_HEADER = "x-amzn-RequestId"
# Default usage plans (requests per second) of the operations called here, from each one's
# reference page: the wait after a 429, which carries no rate header of its own.
DEFAULT_RATES: dict[str, Decimal] = {
    "createRestrictedDataToken": Decimal(1),
    "getOrder": Decimal("0.5"),
    "getOrderItems": Decimal("0.5"),
    "confirmShipment": Decimal(2),
}
# SP-API asks for "AppName/Version (Language=...)" so its support can tell callers apart.
USER_AGENT = "orderhub/1.0 (Language=Python)"


class AmazonNotConfigured(ValueError):
    """The channel's secret lacks a field, or names a region or environment Amazon has not."""


class SpApiError(Exception):
    """An SP-API or LWA call did not do what was asked."""

    def __init__(self, message: str, *, status: int | None = None, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class SpApiRejected(SpApiError):
    """Amazon refused for good (a 4xx other than 429): retrying cannot help."""


class SpApiUnavailable(SpApiError):
    """Rate limited, a 5xx or no answer: worth retrying after `retry_after` seconds."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.retry_after = retry_after


@dataclass(frozen=True)
class SellingPartner:
    """One seller's authorisation of this app, read from the channel's secret."""

    api_url: str
    token_url: str
    client_id: str
    client_secret: str
    refresh_token: str
    seller_id: str | None = None

    @classmethod
    def from_secret(cls, secrets: Mapping[str, Any]) -> SellingPartner:
        missing = [
            name
            for name in ("lwa_client_id", "lwa_client_secret", "refresh_token")
            if not str(secrets.get(name) or "").strip()
        ]
        if missing:
            raise AmazonNotConfigured(f"the amazon secret lacks {', '.join(missing)}")
        api_url = _text(secrets, "api_url")
        lwa_url = _text(secrets, "lwa_url")
        # A simulator serves LWA and SP-API on one address: api_url alone points at both.
        lwa_base = lwa_url or api_url or LWA_BASE_URL
        return cls(
            api_url=(api_url or _production_or_sandbox_host(secrets)).rstrip("/"),
            token_url=lwa_base.rstrip("/") + LWA_TOKEN_PATH,
            client_id=str(secrets["lwa_client_id"]).strip(),
            client_secret=str(secrets["lwa_client_secret"]).strip(),
            refresh_token=str(secrets["refresh_token"]).strip(),
            seller_id=_text(secrets, "seller_id") or None,
        )


def _text(secrets: Mapping[str, Any], name: str) -> str:
    return str(secrets.get(name) or "").strip()


def _production_or_sandbox_host(secrets: Mapping[str, Any]) -> str:
    region = _text(secrets, "region").lower() or DEFAULT_REGION
    environment = _text(secrets, "environment").lower() or "production"
    if region not in REGIONS:
        raise AmazonNotConfigured(f"amazon region {region!r} is not one of {', '.join(REGIONS)}")
    if environment not in ENVIRONMENTS:
        raise AmazonNotConfigured(
            f"amazon environment {environment!r} is not one of {', '.join(ENVIRONMENTS)}"
        )
    prefix = "sandbox." if environment == "sandbox" else ""
    return f"https://{prefix}sellingpartnerapi-{region}.amazon.com"


def call(
    http: httpx.Client,
    method: str,
    url: str,
    *,
    token: str,
    what: str,
    json: Any = None,
    params: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One SP-API call with `token` (LWA or RDT); its JSON body ({} for a 204)."""
    response = http.request(
        method,
        url,
        headers={
            ACCESS_TOKEN_HEADER: token,
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        },
        json=json,
        params=dict(params) if params else None,
    )
    raise_for_status(response, what)
    if not response.content:
        return {}
    try:
        body = response.json()
    except ValueError as error:
        raise SpApiUnavailable(f"{what}: HTTP {response.status_code} with no JSON body") from error
    if not isinstance(body, dict):
        raise SpApiUnavailable(f"{what}: HTTP {response.status_code} with a non-object body")
    return body


def raise_for_status(response: httpx.Response, what: str) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    code, message = error_of(response)
    text = f"{what}: HTTP {status} {code} {message}".strip()
    if status in (408, 429) or status >= 500:
        wait = retry_after(response)
        if wait is None and status == 429 and what in DEFAULT_RATES:
            wait = float(1 / DEFAULT_RATES[what])
        raise SpApiUnavailable(text, status=status, code=code, retry_after=wait)
    raise SpApiRejected(text, status=status, code=code)


def error_of(response: httpx.Response) -> tuple[str, str]:
    """Amazon's first error code and its message (and details), or the body's start."""
    try:
        body = response.json()
    except ValueError:
        return "", response.text[:300]
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        details = str(first.get("details") or "")
        message = str(first.get("message") or "") + (f" ({details})" if details else "")
        return str(first.get("code") or ""), message[:300]
    if isinstance(body, dict) and "error" in body:  # LWA's OAuth error shape
        return str(body["error"]), str(body.get("error_description") or "")[:300]
    return "", response.text[:300]


def retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait: Retry-After if sent, else one request at the operation's rate."""
    for header, per_request in (("Retry-After", False), (RATE_LIMIT_HEADER, True)):
        value = response.headers.get(header)
        if not value:
            continue
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            continue
        if not number.is_finite() or number <= 0:
            continue
        return float(1 / number) if per_request else float(number)
    return None
