"""Login with Amazon (LWA) access tokens for SP-API calls.

developer-docs.amazon.com/sp-api/docs/connecting-to-the-selling-partner-api, step 1: POST
https://api.amazon.com/auth/o2/token, form-encoded grant_type=refresh_token, refresh_token,
client_id, client_secret -> {"access_token": "Atza|...", "token_type": "bearer",
"expires_in": 3600}. The refresh token does not rotate (unlike Allegro's), so nothing is
stored back; the access token is kept in this process until a minute before it expires, per
app and seller authorisation (client id and refresh token), and dropped when Amazon refuses it
(`forget`). LWA errors are OAuth's {"error", "error_description"}: invalid_grant (a revoked
authorisation) and invalid_client are final, a 5xx or 429 is retried.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from shared.providers.channels.amazon.api import (
    USER_AGENT,
    SellingPartner,
    SpApiUnavailable,
    raise_for_status,
)

if TYPE_CHECKING:
    import httpx

DEFAULT_LIFETIME_SECONDS = 3600
# Renewed this long before it expires: a token must outlive the calls made with it.
RENEW_BEFORE_SECONDS = 60.0


@dataclass
class TokenCache:
    """Access tokens by app and seller authorisation, on a monotonic clock."""

    clock: Callable[[], float] = time.monotonic
    _tokens: dict[str, tuple[str, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @staticmethod
    def key(partner: SellingPartner) -> str:
        # A digest, so the refresh token itself is not a dictionary key someone may log.
        material = "\n".join((partner.token_url, partner.client_id, partner.refresh_token))
        return hashlib.sha256(material.encode()).hexdigest()

    def get(self, partner: SellingPartner) -> str | None:
        with self._lock:
            found = self._tokens.get(self.key(partner))
        if found is None or self.clock() >= found[1] - RENEW_BEFORE_SECONDS:
            return None
        return found[0]

    def put(self, partner: SellingPartner, token: str, lifetime: float) -> None:
        with self._lock:
            self._tokens[self.key(partner)] = (token, self.clock() + lifetime)

    def forget(self, partner: SellingPartner) -> None:
        with self._lock:
            self._tokens.pop(self.key(partner), None)


_process_cache = TokenCache()


def access_token(
    http: httpx.Client, partner: SellingPartner, *, cache: TokenCache | None = None
) -> str:
    """A live LWA access token for `partner`: the cached one, or a new one from LWA."""
    cache = cache or _process_cache
    cached = cache.get(partner)
    if cached is not None:
        return cached
    response = http.post(
        partner.token_url,
        data={
            "grant_type": "refresh_token",
            "refresh_token": partner.refresh_token,
            "client_id": partner.client_id,
            "client_secret": partner.client_secret,
        },
        headers={"Accept": "application/json", "User-Agent": USER_AGENT},
    )
    raise_for_status(response, "LWA token")
    try:
        body = response.json()
        token = str(body["access_token"])
        lifetime = float(body.get("expires_in") or DEFAULT_LIFETIME_SECONDS)
    except (ValueError, KeyError, TypeError) as error:
        raise SpApiUnavailable("LWA token: the answer has no access_token") from error
    if not 0 < lifetime <= DEFAULT_LIFETIME_SECONDS:  # also NaN: never cache past an hour
        lifetime = DEFAULT_LIFETIME_SECONDS
    cache.put(partner, token, lifetime)
    return token


def forget(partner: SellingPartner, *, cache: TokenCache | None = None) -> None:
    """Drop `partner`'s cached token (Amazon refused it: revoked or expired early)."""
    (cache or _process_cache).forget(partner)
