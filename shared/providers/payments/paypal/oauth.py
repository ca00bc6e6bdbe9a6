"""PayPal OAuth 2.0 client-credentials tokens, reused until shortly before they expire.

developer.paypal.com/api/rest/authentication/: POST {base}/v1/oauth2/token with HTTP basic
auth client_id:client_secret and the form `grant_type=client_credentials`; the answer carries
`access_token` and `expires_in` (seconds, about nine hours). Every other call sends
`Authorization: Bearer <access_token>`. A token is kept per (API host, client id, secret) and
renewed a minute before its end (or at once when an API call answers 401).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from shared.payments.gateway import GatewayUnavailable, send

if TYPE_CHECKING:
    import httpx

SANDBOX_API = "https://api-m.sandbox.paypal.com"
PRODUCTION_API = "https://api-m.paypal.com"
TOKEN_PATH = "/v1/oauth2/token"  # noqa: S105 - a path, not a secret
RENEW_BEFORE_SECONDS = 60.0


class AccessTokens:
    """A thread-safe cache of access tokens (one per app and host)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(base_url: str, client_id: str, client_secret: str) -> str:
        secret = hashlib.sha256(client_secret.encode()).hexdigest()
        return f"{base_url}|{client_id}|{secret}"

    def token(self, http: httpx.Client, base_url: str, client_id: str, client_secret: str) -> str:
        key = self._key(base_url, client_id, client_secret)
        with self._lock:
            found = self._tokens.get(key)
            if found is not None and self._clock() < found[1]:
                return found[0]
        response = send(
            http,
            "POST",
            f"{base_url}{TOKEN_PATH}",
            "PayPal OAuth token",
            auth=(client_id, client_secret),
            data={"grant_type": "client_credentials"},
            headers={"Accept": "application/json"},
        )
        try:
            document = response.json()
            access_token = str(document["access_token"])
            lifetime = float(document.get("expires_in", 0))
        except (ValueError, KeyError, TypeError) as error:
            raise GatewayUnavailable(f"PayPal OAuth token: unreadable answer: {error}") from error
        if not access_token:
            raise GatewayUnavailable("PayPal OAuth token: the answer has no access_token")
        with self._lock:
            self._tokens[key] = (access_token, self._clock() + lifetime - RENEW_BEFORE_SECONDS)
        return access_token

    def forget(self, base_url: str, client_id: str, client_secret: str) -> None:
        """The API refused the token (401): the next call asks for a new one."""
        with self._lock:
            self._tokens.pop(self._key(base_url, client_id, client_secret), None)
