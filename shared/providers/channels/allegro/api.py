"""One Allegro REST call: bearer token, Allegro's media type, pacing and rate limits.

developer.allegro.pl/documentation: every resource answers `application/vnd.allegro.public.v1+json`
(Accept, and Content-Type for bodies; other types get 406/415). Allegro limits requests per
client id and answers 429 when a client exceeds it ("Limity", developer.allegro.pl/tutorials):
the call waits Retry-After (at most MAX_RETRY_WAIT, a couple of tries) and then raises
AllegroUnavailable with the wait still asked for. Requests from one process are spaced by
MIN_INTERVAL so one poll run (a page, then a checkout form per order) cannot burst.
A 401 gets one new access token and one retry; a second 401 is AllegroAuthorizationLost.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from shared.channels.http import retry_after
from shared.providers.channels.allegro.oauth import (
    LOGIN_HINT,
    TOKENS,
    AllegroAuthorizationLost,
    AllegroTokens,
    AllegroUnavailable,
    Credentials,
)

if TYPE_CHECKING:
    import httpx

MEDIA_TYPE = "application/vnd.allegro.public.v1+json"
MIN_INTERVAL = 0.05  # seconds between two requests of one process (20/s; Allegro allows far more)
MAX_RETRY_WAIT = 5.0  # seconds one wait for Retry-After may take inside a call
RATE_LIMIT_TRIES = 3  # the first request and two retries after 429


class Pacer:
    """Spaces requests by `interval` seconds (shared by the threads of one caller)."""

    def __init__(
        self,
        interval: float = MIN_INTERVAL,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self._sleep = sleep
        self._monotonic = monotonic
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = self._monotonic()
            delay = self._next - now
            self._next = max(now, self._next) + self.interval
        if delay > 0:
            self._sleep(delay)


class AllegroApi:
    """Calls to one seller's Allegro API, as its secret describes it."""

    def __init__(
        self,
        credentials: Credentials,
        http: httpx.Client,
        *,
        tokens: AllegroTokens = TOKENS,
        pacer: Pacer | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.credentials = credentials
        self._http = http
        self._tokens = tokens
        self._pacer = pacer or Pacer(sleep=sleep)
        self._sleep = sleep

    @classmethod
    def from_secret(
        cls, secret: Mapping[str, Any], http: httpx.Client, **options: Any
    ) -> AllegroApi:
        return cls(Credentials.from_secret(secret), http, **options)

    def secret_update(self) -> dict[str, str] | None:
        """Token fields to store back in the secret (the rotated refresh token), if any."""
        return self._tokens.secret_update(self.credentials)

    def call(
        self,
        method: str,
        path: str,
        what: str,
        *,
        params: Any = None,
        json: Any = None,
    ) -> httpx.Response:
        """The answer to one request (any status but 401 and 429, which are handled here).
        Transport errors and a rate limit that lasts are AllegroUnavailable."""
        token = self._tokens.access_token(self.credentials, self._http)
        renewed = False
        tries = 0
        while True:
            response = self._send(method, path, what, token, params=params, json=json)
            if response.status_code == 401 and not renewed:
                token = self._tokens.renew(self.credentials, self._http, token)
                renewed = True
                continue
            if response.status_code == 401:
                raise AllegroAuthorizationLost(
                    f"{what}: Allegro refused a freshly refreshed access token (HTTP 401): "
                    f"the seller's authorization is no longer valid: {LOGIN_HINT}"
                )
            if response.status_code != 429:
                return response
            tries += 1
            wait = retry_after(response)
            if tries >= RATE_LIMIT_TRIES or (wait is not None and wait > MAX_RETRY_WAIT):
                raise AllegroUnavailable(
                    f"{what}: Allegro's rate limit (HTTP 429) still applies", retry_after=wait
                )
            self._sleep(1.0 if wait is None else wait)

    def _send(
        self, method: str, path: str, what: str, token: str, *, params: Any, json: Any
    ) -> httpx.Response:
        import httpx

        headers = {"Authorization": f"Bearer {token}", "Accept": MEDIA_TYPE}
        if json is not None:
            headers["Content-Type"] = MEDIA_TYPE
        content = None if json is None else _json_bytes(json)
        self._pacer.wait()
        try:
            return self._http.request(
                method,
                f"{self.credentials.endpoints.api}{path}",
                params=params,
                content=content,
                headers=headers,
                follow_redirects=False,
            )
        except httpx.HTTPError as error:
            raise AllegroUnavailable(f"{what}: {type(error).__name__}: {error}") from error


def _json_bytes(document: Any) -> bytes:
    import json

    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def error_text(response: httpx.Response) -> str:
    """Allegro's error answer in a line: {"errors": [{"code", "message", "userMessage"}]}."""
    try:
        errors = response.json().get("errors") or []
        parts = [
            f"{e.get('code', '')}: {e.get('userMessage') or e.get('message') or ''}"
            for e in errors[:3]
            if isinstance(e, dict)
        ]
    except (ValueError, AttributeError):
        parts = []
    return "; ".join(parts) or response.text[:300]


def unavailable(response: httpx.Response, what: str) -> AllegroUnavailable:
    return AllegroUnavailable(
        f"{what}: HTTP {response.status_code} {error_text(response)}",
        retry_after=retry_after(response),
    )
