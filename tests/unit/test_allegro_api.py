"""Allegro calls: Allegro's media type on every call, Retry-After honoured within a bound
after 429, requests spaced so one run cannot burst."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from shared.providers.channels.allegro.api import (
    MAX_RETRY_WAIT,
    MEDIA_TYPE,
    AllegroApi,
    Pacer,
)
from shared.providers.channels.allegro.oauth import AllegroTokens, AllegroUnavailable
from shared.providers.channels.allegro.simulator import AllegroSimulator


@pytest.fixture
def simulator() -> AllegroSimulator:
    return AllegroSimulator(client_id="app-1", client_secret="s3cret", refresh_token="rt-0")


@pytest.fixture
def slept() -> list[float]:
    return []


@pytest.fixture
def api(simulator: AllegroSimulator, slept: list[float]) -> Iterator[AllegroApi]:
    secret = {
        "client_id": "app-1",
        "client_secret": "s3cret",
        "refresh_token": "rt-0",
        "api_url": simulator.base_url,
    }
    with httpx.Client(transport=simulator.transport()) as http:
        yield AllegroApi.from_secret(
            secret, http, tokens=AllegroTokens(), pacer=Pacer(0), sleep=slept.append
        )


def api_calls(simulator: AllegroSimulator) -> list[dict[str, object]]:
    return [r for r in simulator.requests if not str(r["path"]).startswith("/auth/")]


def test_every_call_sends_the_bearer_token_and_allegros_media_type(
    simulator: AllegroSimulator, api: AllegroApi
) -> None:
    api.call("PUT", "/order/checkout-forms/x/fulfillment", "put", json={"status": "SENT"})
    (request,) = api_calls(simulator)
    headers = request["headers"]
    assert isinstance(headers, dict)
    assert headers["authorization"].startswith("Bearer ")
    assert headers["accept"] == MEDIA_TYPE
    assert headers["content-type"] == MEDIA_TYPE


def test_a_429_waits_retry_after_then_succeeds(
    simulator: AllegroSimulator, api: AllegroApi, slept: list[float]
) -> None:
    # Given Allegro's limit is hit once and it asks for 2 seconds
    simulator.throttle(1, retry_after=2)
    # When a call is made, Then it waited as asked and got the answer
    assert api.call("GET", "/order/event-stats", "stats").status_code == 200
    assert slept == [2.0]
    assert len(api_calls(simulator)) == 2


def test_a_lasting_429_raises_with_the_wait_asked_for(
    simulator: AllegroSimulator, api: AllegroApi, slept: list[float]
) -> None:
    simulator.throttle(10, retry_after=1)
    with pytest.raises(AllegroUnavailable, match="429") as raised:
        api.call("GET", "/order/event-stats", "stats")
    assert raised.value.retry_after == 1.0
    assert slept == [1.0, 1.0]  # a couple of tries, then the run fails and is retried
    assert len(api_calls(simulator)) == 3


def test_a_wait_longer_than_the_bound_is_not_slept_inside_the_call(
    simulator: AllegroSimulator, api: AllegroApi, slept: list[float]
) -> None:
    simulator.throttle(1, retry_after=MAX_RETRY_WAIT * 10)
    with pytest.raises(AllegroUnavailable) as raised:
        api.call("GET", "/order/event-stats", "stats")
    assert raised.value.retry_after == MAX_RETRY_WAIT * 10
    assert slept == []


def test_the_pacer_spaces_requests() -> None:
    # Given three requests at the same moment, When each waits its turn
    slept: list[float] = []
    pacer = Pacer(0.1, sleep=slept.append, monotonic=lambda: 100.0)
    for _ in range(3):
        pacer.wait()
    # Then the second and third wait 0.1 s and 0.2 s
    assert slept == pytest.approx([0.1, 0.2])


def test_requests_spaced_in_time_do_not_wait() -> None:
    clock = iter([100.0, 100.5, 101.0])
    slept: list[float] = []
    pacer = Pacer(0.1, sleep=slept.append, monotonic=lambda: next(clock))
    for _ in range(3):
        pacer.wait()
    assert slept == []
