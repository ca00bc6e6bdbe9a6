"""Allegro OAuth against the simulator's token endpoints (in-process, no socket): rotating
refresh tokens kept and stored back, a stored access token reused, stale secret copies, a
revoked authorization, and the device flow."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.providers.channels.allegro.api import AllegroApi, Pacer
from shared.providers.channels.allegro.oauth import (
    PRODUCTION_API,
    PRODUCTION_AUTH,
    SANDBOX_API,
    SANDBOX_AUTH,
    TOKEN_PATH,
    AllegroAuthorizationLost,
    AllegroNotConfigured,
    AllegroTokens,
    Credentials,
    DeviceLoginFailed,
    Endpoints,
    device_login,
    endpoints,
)
from shared.providers.channels.allegro.simulator import AllegroSimulator

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def simulator() -> AllegroSimulator:
    return AllegroSimulator(client_id="app-1", client_secret="s3cret", refresh_token="rt-0")


@pytest.fixture
def http(simulator: AllegroSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(transport=simulator.transport()) as client:
        yield client


@pytest.fixture
def secret(simulator: AllegroSimulator) -> dict[str, str]:
    return {
        "client_id": "app-1",
        "client_secret": "s3cret",
        "refresh_token": "rt-0",
        "api_url": simulator.base_url,
    }


def refreshes(simulator: AllegroSimulator) -> list[str]:
    """The refresh tokens spent at the token endpoint, in order."""
    return [
        r["query"]["refresh_token"][0]
        for r in simulator.requests
        if r["path"] == TOKEN_PATH and r["query"].get("grant_type") == ["refresh_token"]
    ]


# -- hosts -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        ({}, Endpoints(SANDBOX_API, SANDBOX_AUTH)),
        ({"environment": "production"}, Endpoints(PRODUCTION_API, PRODUCTION_AUTH)),
        ({"api_url": "http://127.0.0.1:9/"}, Endpoints("http://127.0.0.1:9", "http://127.0.0.1:9")),
        (
            {"api_url": "https://api.example", "auth_url": "https://auth.example"},
            Endpoints("https://api.example", "https://auth.example"),
        ),
    ],
)
def test_hosts_follow_the_environment_unless_named(
    secret: dict[str, str], expected: Endpoints
) -> None:
    assert endpoints(secret) == expected


def test_a_secret_without_the_seller_token_is_not_configured() -> None:
    with pytest.raises(AllegroNotConfigured, match="refresh_token"):
        Credentials.from_secret({"client_id": "a", "client_secret": "b"})


# -- refresh and rotation --------------------------------------------------------------------------


def test_a_refresh_rotates_the_token_and_the_new_one_is_to_be_stored(
    simulator: AllegroSimulator, http: httpx.Client, secret: dict[str, str]
) -> None:
    # Given a secret with only the refresh token from the device login
    tokens = AllegroTokens(now=Clock())
    credentials = Credentials.from_secret(secret)
    # When an access token is needed
    access = tokens.access_token(credentials, http)
    # Then Allegro was asked once with basic auth, and the rotated tokens are to be stored back
    (request,) = [r for r in simulator.requests if r["path"] == TOKEN_PATH]
    assert request["method"] == "POST"
    assert request["headers"]["authorization"].startswith("Basic ")
    update = tokens.secret_update(credentials)
    assert update is not None
    assert update["access_token"] == access
    assert update["refresh_token"] != "rt-0"
    assert update["access_token_expires_at"] == "2026-12-01T20:59:59.000Z"  # 09:00 + 43199 s
    # and the old refresh token no longer works at Allegro
    assert simulator.live_refresh_tokens() == {update["refresh_token"]}


def test_a_stored_access_token_is_reused_by_another_process(
    simulator: AllegroSimulator, http: httpx.Client, secret: dict[str, str]
) -> None:
    # Given the poller refreshed and stored the tokens
    first = AllegroTokens(now=Clock())
    first.access_token(Credentials.from_secret(secret), http)
    update = first.secret_update(Credentials.from_secret(secret)) or {}
    stored = {**secret, **update}
    # When the push client (another process) reads the stored secret
    other = AllegroTokens(now=Clock())
    credentials = Credentials.from_secret(stored)
    # Then it uses the stored access token: no second refresh, nothing to store
    assert other.access_token(credentials, http) == stored["access_token"]
    assert len(refreshes(simulator)) == 1
    assert other.secret_update(credentials) is None


def test_a_stale_copy_of_the_secret_gets_the_rotated_tokens(
    simulator: AllegroSimulator, http: httpx.Client, secret: dict[str, str]
) -> None:
    # Given this process refreshed (rt-0 -> R1) but its cached secret still says rt-0
    clock = Clock()
    tokens = AllegroTokens(now=clock)
    stale = Credentials.from_secret(secret)
    tokens.access_token(stale, http)
    rotated = tokens.current(stale).refresh_token
    # When the access token ends and the stale copy is used again
    clock.now += timedelta(hours=12)
    tokens.access_token(stale, http)
    # Then R1 was spent, not rt-0 (which Allegro would refuse), and the update is still due
    assert refreshes(simulator) == ["rt-0", rotated]
    assert tokens.secret_update(stale) is not None


def test_a_token_another_process_rotated_first_keeps_the_valid_access_token(
    simulator: AllegroSimulator, http: httpx.Client, secret: dict[str, str]
) -> None:
    # Given both functions hold the same stored tokens, 8 minutes before the access token ends
    setup = AllegroTokens(now=Clock())
    setup.access_token(Credentials.from_secret(secret), http)
    stored = {**secret, **(setup.secret_update(Credentials.from_secret(secret)) or {})}
    clock = Clock()
    clock.now = datetime.fromisoformat(stored["access_token_expires_at"]) - timedelta(minutes=8)
    poller, pusher = AllegroTokens(now=clock), AllegroTokens(now=clock)
    credentials = Credentials.from_secret(stored)
    # When the poller refreshes first, then the pusher tries with the spent refresh token
    renewed = poller.access_token(credentials, http)
    kept = pusher.access_token(credentials, http)
    again = pusher.access_token(credentials, http)
    # Then the pusher keeps its still valid access token and does not ask again
    assert renewed != stored["access_token"]
    assert kept == again == stored["access_token"]
    assert refreshes(simulator).count(stored["refresh_token"]) == 2
    assert len(refreshes(simulator)) == 3
    # and once it reads the secret the poller stored, it uses those tokens
    newer = Credentials.from_secret({**stored, **(poller.secret_update(credentials) or {})})
    assert pusher.access_token(newer, http) == renewed


def test_a_revoked_authorization_asks_for_the_device_login(
    simulator: AllegroSimulator, http: httpx.Client, secret: dict[str, str]
) -> None:
    simulator.revoke_refresh_tokens()
    with pytest.raises(AllegroAuthorizationLost, match="device login"):
        AllegroTokens(now=Clock()).access_token(Credentials.from_secret(secret), http)


def test_a_401_after_a_refresh_is_a_lost_authorization(
    simulator: AllegroSimulator, secret: dict[str, str]
) -> None:
    # Given Allegro issues tokens but refuses them on the API (the app lost its scopes)
    inner = simulator.transport()

    def refuse_api(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/auth/"):
            return inner.handle_request(request)
        return httpx.Response(401, json={"error": "invalid_token"})

    tokens = AllegroTokens(now=Clock())
    with httpx.Client(transport=httpx.MockTransport(refuse_api)) as http:
        api = AllegroApi.from_secret(
            secret, http, tokens=tokens, pacer=Pacer(0), sleep=lambda _: None
        )
        # When a call is made, Then one new token is tried, then the error says what to do
        with pytest.raises(AllegroAuthorizationLost, match="device login"):
            api.call("GET", "/order/event-stats", "stats")
    assert len(refreshes(simulator)) == 2


def test_a_401_once_gets_a_new_token_and_the_call_succeeds(
    simulator: AllegroSimulator, http: httpx.Client, secret: dict[str, str]
) -> None:
    tokens = AllegroTokens(now=Clock())
    api = AllegroApi.from_secret(secret, http, tokens=tokens, pacer=Pacer(0))
    api.call("GET", "/order/event-stats", "stats")
    simulator.expire_access_tokens()  # revoked early on Allegro's side
    assert api.call("GET", "/order/event-stats", "stats").status_code == 200
    assert len(refreshes(simulator)) == 2


# -- the device flow -------------------------------------------------------------------------------


def login(simulator: AllegroSimulator, http: httpx.Client) -> tuple[dict[str, str], Any]:
    shown: list[str] = []
    slept: list[float] = []
    fields = device_login(
        "app-1",
        "s3cret",
        simulator.base_url,
        http,
        show=shown.append,
        sleep=slept.append,
        now=Clock(),
    )
    return fields, (shown, slept)


def test_the_device_flow_shows_the_code_and_returns_the_secrets_fields(
    simulator: AllegroSimulator, http: httpx.Client
) -> None:
    # Given Allegro answers "pending" once, then the seller has confirmed
    fields, (shown, slept) = login(simulator, http)
    # Then the person was told where to confirm, polling kept Allegro's interval
    (message,) = shown
    device = next(r for r in simulator.requests if r["path"] == "/auth/oauth/device")
    assert device["form"] == {"client_id": "app-1"}
    assert device["headers"]["authorization"].startswith("Basic ")
    assert "/skojarz-aplikacje?code=" in message
    assert slept == [5.0, 5.0]
    # and the fields to store are a live refresh token and its access token
    assert set(fields) == {"refresh_token", "access_token", "access_token_expires_at"}
    assert fields["refresh_token"] in simulator.live_refresh_tokens()
    polls = [r for r in simulator.requests if r["query"].get("device_code")]
    assert polls[0]["query"]["grant_type"] == ["urn:ietf:params:oauth:grant-type:device_code"]


def test_slow_down_widens_the_interval(simulator: AllegroSimulator, http: httpx.Client) -> None:
    simulator.device_script = ["slow_down", "authorization_pending"]
    _, (_, slept) = login(simulator, http)
    assert slept == [5.0, 10.0, 10.0]


@pytest.mark.parametrize(
    ("outcome", "message"), [("access_denied", "refused"), ("expired_token", "expired")]
)
def test_a_denied_or_expired_login_fails_clearly(
    simulator: AllegroSimulator, http: httpx.Client, outcome: str, message: str
) -> None:
    simulator.device_script = ["authorization_pending", outcome]
    with pytest.raises(DeviceLoginFailed, match=message):
        login(simulator, http)


def test_a_login_never_confirmed_ends_when_the_code_expires(
    simulator: AllegroSimulator, http: httpx.Client
) -> None:
    simulator.device_script = ["authorization_pending"] * 800  # 3600 s at 5 s
    with pytest.raises(DeviceLoginFailed, match="expired"):
        login(simulator, http)


def test_wrong_app_credentials_fail_the_login(
    simulator: AllegroSimulator, http: httpx.Client
) -> None:
    with pytest.raises(DeviceLoginFailed, match="401"):
        device_login("app-1", "wrong", simulator.base_url, http, show=print, sleep=lambda _: None)
