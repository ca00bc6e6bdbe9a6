"""Unit tests are pure: no sockets (pytest-socket), no AWS; moto only in-process, for the tests
of the embedded stack's patches of moto. Plus the fixture loader."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_socket import disable_socket, enable_socket

FIXTURES = Path(__file__).parents[1] / "fixtures"


@pytest.fixture(autouse=True)
def _no_network() -> Iterator[None]:
    """Every unit test runs with socket creation blocked; a test that reaches out fails."""
    disable_socket(allow_unix_socket=False)
    try:
        yield
    finally:
        enable_socket()


@pytest.fixture
def moto_in_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto's in-process mocks (no socket) with an environment pointing nowhere else: for the
    tests of the embedded stack's patches of moto (tests/unit/test_local_*.py)."""
    from moto import mock_aws

    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    # botocore otherwise sends DynamoDB Streams calls to an account endpoint moto lacks.
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    with mock_aws():
        yield


def fixture_bytes(relative: str) -> bytes:
    """The exact bytes of a provider reference file (signatures are over exact bytes)."""
    return (FIXTURES / relative).read_bytes()


def fixture_json(relative: str) -> Any:
    return json.loads(fixture_bytes(relative))


@pytest.fixture
def shopify_vector() -> dict[str, Any]:
    """Shopify's official HMAC test vector (shopify-app-js) plus its exact body bytes."""
    vector: dict[str, Any] = fixture_json("shopify/hmac_test_vector_shopify_api_js.json")
    vector["body"] = fixture_bytes("shopify/hmac_test_vector_shopify_api_js.body.txt")
    return vector


@pytest.fixture
def shopify_order() -> dict[str, Any]:
    """The REST Order resource from Shopify's Python SDK fixture, unwrapped (a webhook body)."""
    order: dict[str, Any] = fixture_json("shopify/order_rest_resource_python_sdk_fixture.json")[
        "order"
    ]
    return order


@pytest.fixture
def stripe_vector() -> dict[str, Any]:
    """A Stripe-Signature header made by stripe==16.1.0 over python_sdk_test_payload.txt."""
    vector: dict[str, Any] = fixture_json("stripe/signature_vector_generated_with_stripe16.json")
    vector["payload"] = fixture_bytes(f"stripe/{vector['payload_file']}")
    return vector


@pytest.fixture
def payment_intent() -> dict[str, Any]:
    intent: dict[str, Any] = fixture_json("stripe/payment_intent_object_openapi_fixture.json")
    return intent


@pytest.fixture
def checkout_session() -> dict[str, Any]:
    session: dict[str, Any] = fixture_json("stripe/checkout_session_object_openapi_fixture.json")
    return session


@pytest.fixture
def stripe_event() -> dict[str, Any]:
    """Stripe's OpenAPI Event fixture (type plan.created)."""
    event: dict[str, Any] = fixture_json("stripe/event_object_openapi_fixture.json")
    return event
