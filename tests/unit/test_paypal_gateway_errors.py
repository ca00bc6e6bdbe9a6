"""PayPalGateway's error policy over an httpx.MockTransport: PayPal's final refusals are
GatewayRejected (with PayPal's issue as the code), everything worth retrying is
GatewayUnavailable, and a declined capture ends the attempt as a failed payment."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from shared.kernel.money import Money
from shared.payments.domain import PaymentEvent, PaymentStatus
from shared.payments.gateway import (
    GatewayRejected,
    GatewayUnavailable,
    RefundRequest,
    SessionRequest,
    UnsupportedMethod,
)
from shared.providers.payments.paypal.client import PayPalGateway

Handler = Callable[[httpx.Request], httpx.Response]


def paypal_error(status: int, issue: str, name: str = "UNPROCESSABLE_ENTITY") -> httpx.Response:
    return httpx.Response(
        status,
        json={
            "name": name,
            "message": "The requested action could not be performed.",
            "debug_id": "f3e5a0c1b2d4e",
            "details": [{"issue": issue, "description": issue.lower().replace("_", " ")}],
        },
    )


def gateway(api: Handler) -> tuple[PayPalGateway, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/v1/oauth2/token":
            return httpx.Response(200, json={"access_token": "tok", "expires_in": 32400})
        return api(request)

    client = httpx.Client(transport=httpx.MockTransport(handle))
    document = {"client_id": "cid", "client_secret": "csecret", "webhook_id": "WH1"}
    return PayPalGateway.from_secret(document, client), seen


def session(**changes: Any) -> SessionRequest:
    fields: dict[str, Any] = {
        "order_id": "ord_1",
        "attempt": 1,
        "amount": Money(amount=40994, currency="PLN"),
        "return_url": "https://shop.example/return",
        "notify_url": "https://hub.example/webhooks/payments/paypal",
        "description": "Order ord_1",
    }
    return SessionRequest(**{**fields, **changes})


def authorized() -> PaymentEvent:
    return PaymentEvent(
        provider="paypal",
        provider_event_id="WH-1",
        payment_id="5O190127TN364715T",
        order_id="ord_1",
        status=PaymentStatus.AUTHORIZED,
        amount=Money(amount=40994, currency="PLN"),
        occurred_at=datetime(2026, 12, 1, tzinfo=UTC),
        needs_capture=True,
        provider_data={"paypal_order_id": "5O190127TN364715T"},
    )


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(500, json={"name": "INTERNAL_SERVER_ERROR"}),
        httpx.Response(503, text="Service Unavailable"),
        httpx.Response(429, json={"name": "RATE_LIMIT_REACHED"}),
        httpx.Response(409, json={"name": "RESOURCE_CONFLICT"}),
        paypal_error(422, "ORDER_COMPLETION_IN_PROGRESS"),
    ],
    ids=["500", "503", "429", "409", "completion-in-progress"],
)
def test_retryable_answers_are_unavailable(answer: httpx.Response) -> None:
    paypal, _ = gateway(lambda request: answer)
    with pytest.raises(GatewayUnavailable):
        paypal.capture(authorized())


@pytest.mark.parametrize(
    "error", [httpx.ConnectTimeout("slow"), httpx.ReadTimeout("slow"), httpx.ConnectError("down")]
)
def test_transport_errors_are_unavailable(error: Exception) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise error

    paypal, _ = gateway(fail)
    with pytest.raises(GatewayUnavailable):
        paypal.create_session(session())


def test_a_refusal_carries_paypals_issue() -> None:
    paypal, _ = gateway(lambda request: paypal_error(422, "ORDER_NOT_APPROVED"))
    with pytest.raises(GatewayRejected) as refused:
        paypal.capture(authorized())
    assert refused.value.code == "ORDER_NOT_APPROVED"
    assert not isinstance(refused.value, GatewayUnavailable)


def test_a_refusal_without_details_carries_the_status() -> None:
    paypal, _ = gateway(lambda request: httpx.Response(403, text="Forbidden"))
    with pytest.raises(GatewayRejected) as refused:
        paypal.create_session(session())
    assert refused.value.code == "403"


def test_refused_credentials_are_rejected() -> None:
    def deny(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": "invalid_client"})

    client = httpx.Client(transport=httpx.MockTransport(deny))
    paypal = PayPalGateway.from_secret({"client_id": "c", "client_secret": "wrong"}, client)
    with pytest.raises(GatewayRejected):
        paypal.create_session(session())


@pytest.mark.parametrize(
    "issue", ["INSTRUMENT_DECLINED", "PAYER_CANNOT_PAY", "TRANSACTION_REFUSED"]
)
def test_a_declined_capture_is_a_failed_payment(issue: str) -> None:
    paypal, _ = gateway(lambda request: paypal_error(422, issue))
    failed = paypal.capture(authorized())
    assert failed is not None
    assert failed.status is PaymentStatus.FAILED
    assert failed.needs_capture is False
    assert failed.failure_reason == f"capture refused: {issue}"
    assert failed.provider_event_id == f"5O190127TN364715T:capture:{issue}"
    assert (failed.order_id, failed.payment_id) == ("ord_1", "5O190127TN364715T")


def test_an_unsupported_method_is_refused_before_any_call() -> None:
    paypal, seen = gateway(lambda request: httpx.Response(500))
    with pytest.raises(UnsupportedMethod):
        paypal.create_session(session(method="blik"))
    assert seen == []


@pytest.mark.parametrize(
    "amount",
    [Money(amount=100050, currency="HUF"), Money(amount=1000, currency="KWD")],
    ids=["forint-with-filler", "dinar"],
)
def test_an_amount_paypal_cannot_take_is_refused_before_any_call(amount: Money) -> None:
    paypal, seen = gateway(lambda request: httpx.Response(500))
    with pytest.raises(GatewayRejected, match="PayPal"):
        paypal.create_session(session(amount=amount))
    assert seen == []


def test_an_order_without_an_approval_link_is_unavailable() -> None:
    paypal, _ = gateway(
        lambda request: httpx.Response(201, json={"id": "ABC", "status": "CREATED", "links": []})
    )
    with pytest.raises(GatewayUnavailable, match="payer-action"):
        paypal.create_session(session())


def test_the_legacy_approve_link_is_taken_when_there_is_no_payer_action() -> None:
    order = {
        "id": "ABC",
        "status": "CREATED",
        "links": [
            {"href": "https://www.sandbox.paypal.com/checkoutnow?token=ABC", "rel": "approve"}
        ],
    }
    paypal, _ = gateway(lambda request: httpx.Response(201, json=order))
    assert paypal.create_session(session()).redirect_url.endswith("token=ABC")


def test_a_refund_of_an_unknown_capture_is_rejected() -> None:
    paypal, _ = gateway(
        lambda request: paypal_error(404, "INVALID_RESOURCE_ID", "RESOURCE_NOT_FOUND")
    )
    request = RefundRequest(
        refund_id="ref_1",
        order_id="ord_1",
        payment_id="5O190127TN364715T",
        amount=Money(amount=100, currency="PLN"),
        reason="",
        notify_url="",
        provider_data={"capture_id": "NOPE"},
    )
    with pytest.raises(GatewayRejected) as refused:
        paypal.refund(request)
    assert refused.value.code == "INVALID_RESOURCE_ID"
