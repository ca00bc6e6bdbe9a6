"""Login with Amazon tokens, the SP-API hosts a secret names, and how failures are told apart
(fakes behind httpx.MockTransport: no socket)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from shared.providers.channels.amazon import lwa
from shared.providers.channels.amazon.api import (
    AmazonNotConfigured,
    SellingPartner,
    SpApiError,
    SpApiRejected,
    SpApiUnavailable,
    call,
)
from shared.providers.channels.amazon.lwa import TokenCache, access_token

SECRET = {
    "lwa_client_id": "amzn1.application-oa2-client.lwa",
    "lwa_client_secret": "amzn1.oa2-cs.v1.lwa",
    "refresh_token": "Atzr|lwa-refresh",
}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class LoginWithAmazon:
    """LWA's token endpoint: a new token per call, each form kept."""

    def __init__(self, answer: Callable[[int], httpx.Response] | None = None) -> None:
        self.forms: list[dict[str, str]] = []
        self.content_types: list[str] = []
        self.urls: list[str] = []
        self._answer = answer

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.forms.append({k: v[0] for k, v in parse_qs(request.content.decode()).items()})
        self.content_types.append(request.headers["content-type"])
        self.urls.append(str(request.url))
        if self._answer is not None:
            return self._answer(len(self.forms))
        return httpx.Response(
            200,
            json={
                "access_token": f"Atza|token-{len(self.forms)}",
                "token_type": "bearer",
                "expires_in": 3600,
            },
        )


def client(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def test_the_token_is_requested_with_the_refresh_token_grant_form_encoded() -> None:
    login = LoginWithAmazon()
    partner = SellingPartner.from_secret(SECRET)

    token = access_token(client(login), partner, cache=TokenCache())

    assert token == "Atza|token-1"
    assert login.urls == ["https://api.amazon.com/auth/o2/token"]
    assert login.content_types == ["application/x-www-form-urlencoded"]
    assert login.forms == [
        {
            "grant_type": "refresh_token",
            "refresh_token": "Atzr|lwa-refresh",
            "client_id": "amzn1.application-oa2-client.lwa",
            "client_secret": "amzn1.oa2-cs.v1.lwa",
        }
    ]


def test_the_token_is_kept_until_a_minute_before_it_expires() -> None:
    # Given a token issued for 3600 s
    login, clock = LoginWithAmazon(), Clock()
    cache = TokenCache(clock=clock)
    partner = SellingPartner.from_secret(SECRET)
    http = client(login)
    first = access_token(http, partner, cache=cache)

    # When it is asked for again within its life, then near its end
    clock.now += 3500
    again = access_token(http, partner, cache=cache)
    clock.now += 50  # 60 s before expiry: renewed
    renewed = access_token(http, partner, cache=cache)

    # Then LWA is called once for the first hour less a minute
    assert (first, again, renewed) == ("Atza|token-1", "Atza|token-1", "Atza|token-2")
    assert len(login.forms) == 2


def test_tokens_are_kept_per_client_and_refresh_token() -> None:
    login, cache = LoginWithAmazon(), TokenCache()
    http = client(login)
    seller_a = SellingPartner.from_secret(SECRET)
    seller_b = SellingPartner.from_secret({**SECRET, "refresh_token": "Atzr|another-seller"})
    other_app = SellingPartner.from_secret({**SECRET, "lwa_client_id": "amzn1.other"})

    tokens = [access_token(http, p, cache=cache) for p in (seller_a, seller_b, other_app, seller_a)]

    assert tokens == ["Atza|token-1", "Atza|token-2", "Atza|token-3", "Atza|token-1"]


def test_a_forgotten_token_is_requested_again() -> None:
    login, cache = LoginWithAmazon(), TokenCache()
    partner = SellingPartner.from_secret(SECRET)
    access_token(client(login), partner, cache=cache)

    lwa.forget(partner, cache=cache)

    assert access_token(client(login), partner, cache=cache) == "Atza|token-2"


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (400, {"error": "invalid_grant", "error_description": "revoked"}, SpApiRejected),
        (401, {"error": "invalid_client", "error_description": "bad secret"}, SpApiRejected),
        (503, {"error": "server_error"}, SpApiUnavailable),
        (429, {"error": "slow_down"}, SpApiUnavailable),
        (200, {"token_type": "bearer"}, SpApiUnavailable),  # no access_token
    ],
)
def test_lwa_failures_are_final_or_retryable(status: int, body: Any, error: type) -> None:
    login = LoginWithAmazon(lambda _: httpx.Response(status, json=body))

    with pytest.raises(error):
        access_token(client(login), SellingPartner.from_secret(SECRET), cache=TokenCache())


@pytest.mark.parametrize(
    ("fields", "api_url", "token_url"),
    [
        ({}, "https://sellingpartnerapi-eu.amazon.com", "https://api.amazon.com/auth/o2/token"),
        ({"region": "na"}, "https://sellingpartnerapi-na.amazon.com", None),
        ({"region": "FE"}, "https://sellingpartnerapi-fe.amazon.com", None),
        ({"environment": "sandbox"}, "https://sandbox.sellingpartnerapi-eu.amazon.com", None),
        (
            {"region": "na", "environment": "sandbox"},
            "https://sandbox.sellingpartnerapi-na.amazon.com",
            None,
        ),
        # A simulator serving both: api_url alone is LWA's address too
        (
            {"api_url": "http://127.0.0.1:9000/"},
            "http://127.0.0.1:9000",
            "http://127.0.0.1:9000/auth/o2/token",
        ),
        (
            {"api_url": "http://127.0.0.1:9000", "lwa_url": "http://127.0.0.1:9001"},
            "http://127.0.0.1:9000",
            "http://127.0.0.1:9001/auth/o2/token",
        ),
    ],
)
def test_the_secret_names_the_hosts(
    fields: dict[str, str], api_url: str, token_url: str | None
) -> None:
    partner = SellingPartner.from_secret({**SECRET, **fields})

    assert partner.api_url == api_url
    assert partner.token_url == (token_url or "https://api.amazon.com/auth/o2/token")


@pytest.mark.parametrize(
    "fields",
    [{"region": "us"}, {"environment": "test"}, {"refresh_token": ""}, {"lwa_client_id": " "}],
)
def test_a_secret_amazon_could_not_serve_is_not_configured(fields: dict[str, str]) -> None:
    with pytest.raises(AmazonNotConfigured):
        SellingPartner.from_secret({**SECRET, **fields})


def test_sp_api_calls_carry_the_token_in_x_amz_access_token_and_no_signature() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"payload": {}})

    call(
        client(handle), "GET", "https://sellingpartnerapi-eu.amazon.com/x", token="Atza|t", what="x"
    )

    [request] = seen
    assert request.headers["x-amz-access-token"] == "Atza|t"
    assert "authorization" not in request.headers  # no SigV4 since October 2023
    assert request.headers["user-agent"].startswith("orderhub/")


@pytest.mark.parametrize(
    ("headers", "what", "wait"),
    [
        ({"x-amzn-RateLimit-Limit": "0.5"}, "anything", 2.0),
        ({"Retry-After": "7"}, "getOrder", 7.0),
        ({}, "getOrder", 2.0),  # getOrder's documented 0.5 requests per second
        ({}, "confirmShipment", 0.5),
        ({}, "unknown", None),
    ],
)
def test_a_rate_limit_says_how_long_to_wait(
    headers: dict[str, str], what: str, wait: float | None
) -> None:
    def handle(_: httpx.Request) -> httpx.Response:
        body = {"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota"}]}
        return httpx.Response(429, json=body, headers=headers)

    with pytest.raises(SpApiUnavailable) as raised:
        call(client(handle), "GET", "https://x.example/y", token="t", what=what)

    assert raised.value.retry_after == wait
    assert "QuotaExceeded" in str(raised.value)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, SpApiUnavailable),
        (503, SpApiUnavailable),
        (400, SpApiRejected),
        (403, SpApiRejected),
        (404, SpApiRejected),
    ],
)
def test_other_failures_are_final_or_retryable(status: int, error: type[SpApiError]) -> None:
    def handle(_: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"errors": [{"code": "C", "message": "m"}]})

    with pytest.raises(error) as raised:
        call(client(handle), "GET", "https://x.example/y", token="t", what="getOrder")

    assert raised.value.status == status
