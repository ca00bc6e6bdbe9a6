"""Allegro OAuth: access tokens from the seller's refresh token, and the device flow that gets
one (developer.allegro.pl/en/auth/, "Device flow" and "Refreshing the token").

- Refresh: POST {auth}/auth/oauth/token?grant_type=refresh_token&refresh_token=<token> with
  HTTP basic client_id:client_secret -> {access_token, refresh_token, expires_in (s, 12 h)}.
  Allegro issues a NEW refresh token every time and the old one stops working (400
  invalid_grant), so whoever refreshes must store the new one back in the secret: the poller
  returns it as PollResult.secret_update, the push client hands it to `save_secret`.
- The secret also keeps `access_token` and `access_token_expires_at` (ISO 8601): the poller and
  the push client run in different functions, and both reuse the stored access token until
  RENEW_BEFORE its end, so normally only one of them refreshes.
- Secrets are cached in each warm container for minutes (shared/platform/secrets.py), so this
  process remembers the refresh tokens it rotated away (`AllegroTokens`): a stale copy of the
  secret is answered with the newer tokens instead of a refresh Allegro would refuse. When
  another function rotated first (Allegro refuses our copy's refresh token) the still valid
  access token is used until the newer secret is read; RENEW_BEFORE is longer than the
  secret cache, so that copy arrives before the access token ends.
- Device flow: POST {auth}/auth/oauth/device (form client_id, basic auth) -> device_code,
  user_code, verification_uri(_complete), interval, expires_in (Allegro sends the numbers as
  strings); then POST {auth}/auth/oauth/token?grant_type=urn:ietf:params:oauth:grant-type:
  device_code&device_code=<code> every `interval` seconds: 400 authorization_pending (keep
  going), slow_down (5 s more, RFC 8628 3.5), access_denied, expired_token / invalid_grant.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.kernel.time import utc_iso
from shared.platform.clock import Clock, utc_now

if TYPE_CHECKING:
    import httpx

PRODUCTION_API = "https://api.allegro.pl"
PRODUCTION_AUTH = "https://allegro.pl"
SANDBOX_API = "https://api.allegro.pl.allegrosandbox.pl"
SANDBOX_AUTH = "https://allegro.pl.allegrosandbox.pl"
TOKEN_PATH = "/auth/oauth/token"  # noqa: S105 - a path, not a secret
DEVICE_PATH = "/auth/oauth/device"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
# Longer than the 5 minutes a warm container caches the secret (see the module docstring).
RENEW_BEFORE = timedelta(minutes=10)
SLOW_DOWN_SECONDS = 5.0  # RFC 8628 3.5
LOGIN_HINT = "run the device login again (make admin ARGS='allegro-login')"


class AllegroError(Exception):
    """An Allegro call did not do what was asked."""


class AllegroNotConfigured(AllegroError):
    """The secret lacks the app's credentials or the seller's refresh token."""


class AllegroUnavailable(AllegroError):
    """Timeout, connection error, 5xx or a rate limit that outlasted the bounded wait."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AllegroAuthorizationLost(AllegroError):
    """Allegro no longer accepts the seller's authorization: a person must log in again."""


class DeviceLoginFailed(AllegroError):
    """The device flow ended without tokens (denied, expired, or refused)."""


@dataclass(frozen=True)
class Endpoints:
    api: str
    auth: str


def endpoints(secret: Mapping[str, Any]) -> Endpoints:
    """The API and OAuth hosts: `api_url`/`auth_url` when set, else by `environment`
    (sandbox unless it says production). Only `api_url` set: a simulator serving both."""
    production = str(secret.get("environment") or "sandbox").strip().lower() == "production"
    api = str(secret.get("api_url") or "").strip().rstrip("/")
    auth = str(secret.get("auth_url") or "").strip().rstrip("/")
    if not auth:
        auth = api or (PRODUCTION_AUTH if production else SANDBOX_AUTH)
    if not api:
        api = PRODUCTION_API if production else SANDBOX_API
    return Endpoints(api=api, auth=auth)


@dataclass(frozen=True)
class TokenState:
    refresh_token: str
    access_token: str | None = None
    expires_at: datetime | None = None

    def valid_for(self, now: datetime, margin: timedelta) -> bool:
        return (
            bool(self.access_token)
            and self.expires_at is not None
            and (now + margin < self.expires_at)
        )

    def fields(self) -> dict[str, str]:
        """The secret's fields for these tokens."""
        document = {"refresh_token": self.refresh_token}
        if self.access_token and self.expires_at is not None:
            document["access_token"] = self.access_token
            document["access_token_expires_at"] = utc_iso(self.expires_at)
        return document

    @classmethod
    def from_secret(cls, secret: Mapping[str, Any]) -> TokenState:
        access = str(secret.get("access_token") or "") or None
        expires: datetime | None = None
        try:
            expires = datetime.fromisoformat(str(secret.get("access_token_expires_at") or ""))
        except ValueError:
            access = None  # no usable expiry: refresh rather than guess
        if expires is not None and expires.tzinfo is None:
            access, expires = None, None
        return cls(str(secret.get("refresh_token") or "").strip(), access, expires)


@dataclass(frozen=True)
class Credentials:
    """What one Allegro secret says: the app, the hosts and the seller's tokens."""

    client_id: str
    client_secret: str
    endpoints: Endpoints
    tokens: TokenState
    secret_fields: dict[str, str]  # the token fields as the secret holds them now

    @classmethod
    def from_secret(cls, secret: Mapping[str, Any]) -> Credentials:
        client_id = str(secret.get("client_id") or "").strip()
        client_secret = str(secret.get("client_secret") or "").strip()
        tokens = TokenState.from_secret(secret)
        missing = [
            name
            for name, value in (
                ("client_id", client_id),
                ("client_secret", client_secret),
                ("refresh_token", tokens.refresh_token),
            )
            if not value
        ]
        if missing:
            raise AllegroNotConfigured(f"allegro's secret has no {', '.join(missing)}")
        held = {
            name: str(secret[name])
            for name in ("refresh_token", "access_token", "access_token_expires_at")
            if secret.get(name)
        }
        return cls(client_id, client_secret, endpoints(secret), tokens, held)

    def with_saved(self, fields: Mapping[str, str]) -> Credentials:
        """The same credentials once `fields` were stored back in the secret."""
        saved = {**self.secret_fields, **fields}
        return replace(self, tokens=TokenState.from_secret(saved), secret_fields=saved)

    @property
    def app_key(self) -> str:
        return f"{self.endpoints.auth}|{self.client_id}"


class _Token(BaseModel):
    model_config = ConfigDict(extra="ignore")
    access_token: str = Field(min_length=1, max_length=8192)
    refresh_token: str = Field(min_length=1, max_length=8192)
    expires_in: int = Field(ge=1, le=10**8)


class _OAuthError(BaseModel):
    model_config = ConfigDict(extra="ignore")
    error: str = ""
    error_description: str = ""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _oauth_error(response: httpx.Response) -> _OAuthError:
    try:
        return _OAuthError.model_validate_json(response.content)
    except ValidationError:
        return _OAuthError()


def _state_of(response: httpx.Response, now: datetime, what: str) -> TokenState:
    try:
        token = _Token.model_validate_json(response.content)
    except ValidationError as error:
        raise AllegroUnavailable(
            f"{what}: unreadable token answer: {error.errors()[0]['msg']}"
        ) from error
    return TokenState(
        token.refresh_token, token.access_token, now + timedelta(seconds=token.expires_in)
    )


def _post(http: httpx.Client, url: str, what: str, **kwargs: Any) -> httpx.Response:
    import httpx

    try:
        return http.post(url, headers={"Accept": "application/json"}, **kwargs)
    except httpx.HTTPError as error:
        raise AllegroUnavailable(f"{what}: {type(error).__name__}: {error}") from error


@dataclass
class _App:
    state: TokenState
    superseded: set[str] = field(default_factory=set)  # digests of rotated-away refresh tokens
    refused: str | None = None  # digest of a refresh token Allegro refused (rotated elsewhere)


class AllegroTokens:
    """The seller's tokens as this process knows them, per app (auth host and client id).

    Thread-safe; a refresh holds the lock, so two threads never spend one refresh token."""

    def __init__(self, now: Clock = utc_now) -> None:
        self._now = now
        self._apps: dict[str, _App] = {}
        self._lock = threading.RLock()

    def current(self, credentials: Credentials) -> TokenState:
        """The newest tokens: the secret's, or those this process got by refreshing them."""
        with self._lock:
            return self._current(credentials)

    def secret_update(self, credentials: Credentials) -> dict[str, str] | None:
        """The token fields to store back when they differ from what the secret holds."""
        fields = self.current(credentials).fields()
        return None if fields == credentials.secret_fields else fields

    def access_token(self, credentials: Credentials, http: httpx.Client) -> str:
        with self._lock:
            state = self._current(credentials)
            if state.valid_for(self._now(), RENEW_BEFORE):
                assert state.access_token is not None
                return state.access_token
            return self._refresh(credentials, http, state, may_keep=True)

    def renew(self, credentials: Credentials, http: httpx.Client, rejected: str) -> str:
        """The API answered 401 to `rejected`: a new access token (unless another thread has
        already got one). AllegroAuthorizationLost when Allegro refuses the refresh."""
        with self._lock:
            state = self._current(credentials)
            if state.access_token and state.access_token != rejected:
                return state.access_token
            return self._refresh(credentials, http, state, may_keep=False)

    def _current(self, credentials: Credentials) -> TokenState:
        app = self._apps.get(credentials.app_key)
        if app is None:
            return credentials.tokens
        given = _digest(credentials.tokens.refresh_token)
        if given == _digest(app.state.refresh_token) or given in app.superseded:
            return app.state  # the secret is this process's own copy, or an older one
        # A refresh token this process never held: another function rotated it, or the
        # seller logged in again. The secret is newer than anything remembered here.
        del self._apps[credentials.app_key]
        return credentials.tokens

    def _refresh(
        self, credentials: Credentials, http: httpx.Client, state: TokenState, *, may_keep: bool
    ) -> str:
        now = self._now()
        app = self._apps.setdefault(credentials.app_key, _App(state))
        spent = _digest(state.refresh_token)
        still_valid = state.access_token is not None and state.valid_for(now, timedelta(0))
        if may_keep and still_valid and app.refused == spent:
            assert state.access_token is not None
            return state.access_token  # refused before: wait for the newer secret
        what = "Allegro token refresh"
        response = _post(
            http,
            f"{credentials.endpoints.auth}{TOKEN_PATH}",
            what,
            params={"grant_type": "refresh_token", "refresh_token": state.refresh_token},
            auth=(credentials.client_id, credentials.client_secret),
        )
        if response.status_code == 200:
            renewed = _state_of(response, now, what)
            app.superseded.add(spent)
            app.state, app.refused = renewed, None
            assert renewed.access_token is not None
            return renewed.access_token
        if response.status_code == 429 or response.status_code >= 500:
            raise AllegroUnavailable(f"{what}: HTTP {response.status_code}")
        problem = _oauth_error(response)
        if problem.error == "invalid_grant" and may_keep and still_valid:
            # Most likely another function rotated it first; its token reaches this process
            # with the next read of the secret, before this access token ends.
            app.refused = spent
            assert state.access_token is not None
            return state.access_token
        raise AllegroAuthorizationLost(
            f"{what}: Allegro refused the refresh token (HTTP {response.status_code} "
            f"{problem.error or 'error'}: {problem.error_description[:200]}); it was revoked, "
            f"expired (3 months unused) or spent by another copy of the secret: {LOGIN_HINT}"
        )


# One per process: the poller and the push client in one container share what they learnt.
TOKENS = AllegroTokens()


# -- the device flow (the admin CLI's allegro-login) --------------------------------------------
class _DeviceCode(BaseModel):
    model_config = ConfigDict(extra="ignore")
    device_code: str = Field(min_length=1, max_length=4096)
    user_code: str = Field(min_length=1, max_length=100)
    verification_uri: str = Field(default="", max_length=2048)
    verification_uri_complete: str = Field(default="", max_length=2048)
    interval: float = Field(default=5, ge=0, le=600)  # Allegro sends "5"
    expires_in: float = Field(default=3600, ge=1, le=86400)


def device_login(  # noqa: PLR0917 - the positional signature the admin CLI calls
    client_id: str,
    client_secret: str,
    auth_url: str,
    http: httpx.Client,
    show: Callable[[str], None],
    sleep: Callable[[float], None] = time.sleep,
    *,
    now: Clock = utc_now,
) -> dict[str, str]:
    """Run the device flow: `show` tells the person where to confirm; returns the secret's
    fields (refresh_token, access_token, access_token_expires_at) once they have."""
    auth = auth_url.rstrip("/")
    basic = (client_id, client_secret)
    what = "Allegro device authorization"
    response = _post(http, f"{auth}{DEVICE_PATH}", what, data={"client_id": client_id}, auth=basic)
    if response.status_code != 200:
        problem = _oauth_error(response)
        raise DeviceLoginFailed(
            f"{what}: HTTP {response.status_code} {problem.error} {problem.error_description}"
        )
    try:
        code = _DeviceCode.model_validate_json(response.content)
    except ValidationError as error:
        raise DeviceLoginFailed(f"{what}: unreadable answer: {error.errors()[0]['msg']}") from error
    where = code.verification_uri_complete or code.verification_uri
    show(f"Open {where} and confirm the code {code.user_code} (as the Allegro seller).")
    interval, waited = code.interval, 0.0
    while waited < code.expires_in:
        sleep(interval)
        waited += interval
        answer = _post(
            http,
            f"{auth}{TOKEN_PATH}",
            "Allegro device token",
            params={"grant_type": DEVICE_GRANT, "device_code": code.device_code},
            auth=basic,
        )
        if answer.status_code == 200:
            return _state_of(answer, now(), "Allegro device token").fields()
        if answer.status_code == 429 or answer.status_code >= 500:
            continue  # Allegro is busy: ask again at the next interval
        refusal = _oauth_error(answer).error
        if refusal == "authorization_pending":
            continue
        if refusal == "slow_down":
            interval += SLOW_DOWN_SECONDS
            continue
        if refusal == "access_denied":
            raise DeviceLoginFailed("the seller refused the authorization on Allegro")
        if refusal in ("expired_token", "invalid_grant"):
            raise DeviceLoginFailed("the code expired before it was confirmed: start again")
        raise DeviceLoginFailed(f"Allegro device token: HTTP {answer.status_code} {refusal}")
    raise DeviceLoginFailed("the code expired before it was confirmed: start again")
