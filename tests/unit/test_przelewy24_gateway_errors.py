"""The Przelewy24 gateway's error mapping and what it refuses before calling, against an
httpx.MockTransport (P24's documented error bodies; no sockets)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from shared.kernel.money import Money
from shared.payments.domain import PaymentEvent, PaymentStatus, RefundStatus
from shared.payments.gateway import (
    GatewayRejected,
    GatewayUnavailable,
    RefundLookup,
    RefundRequest,
    SessionLookup,
    SessionRequest,
    UnsupportedMethod,
)
from shared.providers.payments.przelewy24.client import PRODUCTION, SANDBOX, Przelewy24Gateway

SECRET = {"merchant_id": "123456", "pos_id": "123457", "crc": "crc-key", "api_key": "key"}
PLN = "PLN"
Handler = Callable[[httpx.Request], httpx.Response]


def gateway(handler: Handler, **document: str) -> Przelewy24Gateway:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return Przelewy24Gateway.from_secret(
        {**SECRET, "api_url": "https://p24.test", **document}, http
    )


def answer(status: int, body: object) -> Handler:
    return lambda request: httpx.Response(status, json=body)


def session_request(**changes: object) -> SessionRequest:
    values: dict[str, object] = {
        "order_id": "ord_1",
        "attempt": 1,
        "amount": Money(amount=1234, currency=PLN),
        "return_url": "https://shop.test/return",
        "notify_url": "https://hub.test/webhooks/payments/przelewy24",
        "description": "Order 1",
        "buyer_email": "buyer@example.pl",
    }
    return SessionRequest(**{**values, **changes})  # type: ignore[arg-type]


def authorized_payment() -> PaymentEvent:
    return PaymentEvent(
        provider="przelewy24",
        provider_event_id="316000001:notified",
        payment_id="316000001",
        order_id="ord_1",
        attempt=1,
        status=PaymentStatus.AUTHORIZED,
        amount=Money(amount=1234, currency=PLN),
        occurred_at=datetime.now(UTC),
        needs_capture=True,
        provider_data={"p24_order_id": "316000001", "session_id": "ord_1/1"},
    )


def refund_request(refund_id: str = "rf_0123456789abcdef01234567") -> RefundRequest:
    return RefundRequest(
        refund_id=refund_id,
        order_id="ord_1",
        payment_id="316000001",
        amount=Money(amount=500, currency=PLN),
        reason="returned goods",
        notify_url="https://hub.test/webhooks/payments/przelewy24",
        provider_data={"p24_order_id": "316000001", "session_id": "ord_1/1"},
    )


# -- hosts ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "host"),
    [
        ({}, SANDBOX),
        ({"environment": "production"}, PRODUCTION),
        ({"environment": "sandbox"}, SANDBOX),
        ({"api_url": "http://127.0.0.1:9999/"}, "http://127.0.0.1:9999"),
    ],
)
def test_the_host_follows_the_secret(document: dict[str, str], host: str) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={"data": {"token": "T0K3N"}, "responseCode": 0})

    http = httpx.Client(transport=httpx.MockTransport(handler))
    created = Przelewy24Gateway.from_secret({**SECRET, **document}, http).create_session(
        session_request()
    )
    assert seen == [f"{host}/api/v1/transaction/register"]
    assert created.redirect_url == f"{host}/trnRequest/T0K3N"


def test_a_secret_without_numeric_ids_is_refused() -> None:
    with pytest.raises(ValueError, match="merchant_id"):
        Przelewy24Gateway.from_secret({**SECRET, "merchant_id": "abc"}, httpx.Client())


# -- refused before any call ---------------------------------------------------------------------


def no_call(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"unexpected call {request.method} {request.url}")


def test_a_method_p24_does_not_offer_is_refused_before_calling() -> None:
    with pytest.raises(UnsupportedMethod):
        gateway(no_call).create_session(session_request(method="paypal"))


def test_a_session_without_the_buyers_email_is_refused_before_calling() -> None:
    with pytest.raises(GatewayRejected, match="e-mail"):
        gateway(no_call).create_session(session_request(buyer_email=None))


def test_a_refund_id_longer_than_refunds_uuid_allows_is_refused_before_calling() -> None:
    with pytest.raises(GatewayRejected, match="35"):
        gateway(no_call).refund(refund_request("rf_" + "0" * 40))


def test_a_payment_without_a_p24_order_id_cannot_be_verified() -> None:
    payment = authorized_payment().model_copy(update={"provider_data": {}, "payment_id": "pi_x"})
    with pytest.raises(GatewayRejected, match="orderId"):
        gateway(no_call).capture(payment)


# -- the shared policy: 4xx final, 5xx and transport errors retryable ----------------------------


CALLS: dict[str, Callable[[Przelewy24Gateway], object]] = {
    "register": lambda g: g.create_session(session_request()),
    "verify": lambda g: g.capture(authorized_payment()),
    "refund": lambda g: g.refund(refund_request()),
    "session_status": lambda g: g.session_status(
        SessionLookup(
            order_id="ord_1",
            attempt=1,
            session_id="T0K3N",
            reference="ord_1/1",
            amount=Money(amount=1234, currency=PLN),
        )
    ),
    "refund_status": lambda g: g.refund_status(
        RefundLookup(
            refund_id="rf_1",
            order_id="ord_1",
            payment_id="316000001",
            amount=Money(amount=500, currency=PLN),
        )
    ),
}


@pytest.fixture(params=CALLS.keys())
def call(request: pytest.FixtureRequest) -> Callable[[Przelewy24Gateway], object]:
    return CALLS[request.param]


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_server_errors_and_rate_limits_are_retryable(
    call: Callable[[Przelewy24Gateway], object], status: int
) -> None:
    with pytest.raises(GatewayUnavailable):
        call(gateway(answer(status, {"error": "Undefined error", "code": status})))


def test_a_timeout_is_retryable(call: Callable[[Przelewy24Gateway], object]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(GatewayUnavailable, match="ReadTimeout"):
        call(gateway(handler))


def test_wrong_credentials_are_final(call: Callable[[Przelewy24Gateway], object]) -> None:
    refusal = {"error": "Incorrect authentication", "code": 401}
    with pytest.raises(GatewayRejected, match="Incorrect authentication") as raised:
        call(gateway(answer(401, refusal)))
    assert raised.value.code == "401"


def test_a_garbled_success_is_retryable(call: Callable[[Przelewy24Gateway], object]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200 if request.method != "POST" else 201, content=b"<html>")

    with pytest.raises(GatewayUnavailable, match="unexpected answer"):
        call(gateway(handler))


# -- P24's own refusals --------------------------------------------------------------------------


def routes(**answers: tuple[int, object]) -> Handler:
    """Answers by "METHOD path-prefix"; anything else is a test failure."""

    def handler(request: httpx.Request) -> httpx.Response:
        for key, (status, body) in answers.items():
            method, _, prefix = key.partition(" ")
            if request.method == method and request.url.path.startswith(prefix):
                return httpx.Response(status, json=body)
        raise AssertionError(f"unexpected call {request.method} {request.url}")

    return handler


INVALID = {"error": "Invalid input data", "code": 400}
NOT_FOUND = {"error": "Transaction not found", "responseCode": 0}


def test_a_refused_register_with_no_such_transaction_is_final() -> None:
    handler = routes(
        **{
            "POST /api/v1/transaction/register": (400, INVALID),
            "GET /api/v1/transaction/by/sessionId/": (404, NOT_FOUND),
        }
    )
    with pytest.raises(GatewayRejected, match="Invalid input data") as raised:
        gateway(handler).create_session(session_request())
    assert raised.value.code == "400"


def test_a_refused_verify_of_an_unverified_transaction_is_final() -> None:
    found = {"orderId": 316000001, "sessionId": "ord_1/1", "status": 1, "amount": 1234}
    handler = routes(
        **{
            "PUT /api/v1/transaction/verify": (400, INVALID),
            "GET /api/v1/transaction/by/sessionId/": (200, {"data": found, "responseCode": 0}),
        }
    )
    with pytest.raises(GatewayRejected, match="Invalid input data"):
        gateway(handler).capture(authorized_payment())


def test_a_verify_answered_without_success_is_retryable() -> None:
    handler = routes(
        **{"PUT /api/v1/transaction/verify": (200, {"data": {"status": "x"}, "responseCode": 0})}
    )
    with pytest.raises(GatewayUnavailable):
        gateway(handler).capture(authorized_payment())


@pytest.mark.parametrize(
    "message",
    [
        "Transaction not found",
        "Transaction in wrong status - cannot refund",
        "Insufficient funds available",
        "The amount of refund exceeds available amount for the transaction",
    ],
)
def test_a_refund_conflict_is_final_with_p24s_message(message: str) -> None:
    # The shared policy retries 409 (in flight); P24's refund 409 is a per-refund refusal.
    item = {"orderId": 316000001, "sessionId": "ord_1/1", "amount": 500, "status": False}
    body = {"error": [{**item, "message": message}], "code": 409}
    with pytest.raises(GatewayRejected, match=message) as raised:
        gateway(routes(**{"POST /api/v1/transaction/refund": (409, body)})).refund(refund_request())
    assert raised.value.code == "409"


def test_a_concurrent_refund_call_is_retryable() -> None:
    body = {"error": "Concurrent call", "code": 400}
    with pytest.raises(GatewayUnavailable, match="Concurrent call"):
        gateway(routes(**{"POST /api/v1/transaction/refund": (400, body)})).refund(refund_request())


def test_invalid_refund_parameters_are_final() -> None:
    body = {"error": "Invalid input parameters", "code": 400}
    with pytest.raises(GatewayRejected, match="Invalid input parameters"):
        gateway(routes(**{"POST /api/v1/transaction/refund": (400, body)})).refund(refund_request())


def test_a_repeated_refund_request_is_the_refund_p24_lists() -> None:
    listed = {
        "orderId": 316000001,
        "sessionId": "ord_1/1",
        "amount": 1234,
        "currency": PLN,
        "refunds": [{"requestId": "rf_0123456789abcdef01234567", "status": 1, "amount": 500}],
    }
    handler = routes(
        **{
            "POST /api/v1/transaction/refund": (
                400,
                {"error": "Request already exists", "code": 400},
            ),
            "GET /api/v1/refund/by/orderId/316000001": (200, {"data": listed, "responseCode": 0}),
        }
    )
    accepted = gateway(handler).refund(refund_request())
    assert accepted.status is RefundStatus.COMPLETED
    assert accepted.provider_refund_id == "rf_0123456789abcdef01234567"


def test_a_refund_p24_answers_with_a_failed_item_is_failed() -> None:
    item = {"orderId": 316000001, "sessionId": "ord_1/1", "amount": 500, "status": False}
    body = {"data": [{**item, "message": "Insufficient funds available"}], "responseCode": 0}
    accepted = gateway(routes(**{"POST /api/v1/transaction/refund": (201, body)})).refund(
        refund_request()
    )
    assert accepted.status is RefundStatus.FAILED
    assert accepted.failure_reason == "Insufficient funds available"


def test_lookups_of_unknown_things_are_none() -> None:
    handler = routes(
        **{
            "GET /api/v1/transaction/by/sessionId/": (404, NOT_FOUND),
            "GET /api/v1/refund/by/orderId/": (404, NOT_FOUND),
        }
    )
    assert CALLS["session_status"](gateway(handler)) is None
    assert CALLS["refund_status"](gateway(handler)) is None


def test_a_session_id_with_a_slash_is_one_path_segment() -> None:
    seen: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path)
        return httpx.Response(404, json=NOT_FOUND)

    CALLS["session_status"](gateway(handler))
    assert seen == [b"/api/v1/transaction/by/sessionId/ord_1%2F1"]


def test_register_sends_json_with_basic_auth() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"data": {"token": "T0K3N"}, "responseCode": 0})

    gateway(handler).create_session(session_request())
    (sent,) = seen
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["authorization"] == "Basic " + base64.b64encode(b"123457:key").decode()
    assert json.loads(sent.content)["sessionId"] == "ord_1/1"
