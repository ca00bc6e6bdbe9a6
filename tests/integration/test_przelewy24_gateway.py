"""The Przelewy24 gateway against the simulator over real HTTP on 127.0.0.1: the documented
request shapes, the payment's life (registered, paid, notified, verified, refunded), repeated
calls, and the notifications reaching our webhook signed as P24 signs them."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from shared.inbox.contract import Headers, WebhookRequest
from shared.inbox.events import PaymentReported, RefundReported
from shared.kernel.money import Money
from shared.payments.domain import PaymentEvent, PaymentStatus, RefundEvent, RefundStatus
from shared.payments.gateway import (
    CreatedSession,
    GatewayRejected,
    RefundLookup,
    RefundRequest,
    SessionLookup,
    SessionRequest,
)
from shared.providers.payments.przelewy24.client import Przelewy24Gateway
from shared.providers.payments.przelewy24.simulator import Przelewy24Simulator
from shared.providers.payments.przelewy24.webhook import Przelewy24Webhooks

SECRET = {
    "merchant_id": "312345",
    "pos_id": "312346",
    "crc": "9f8e7d6c5b4a3921",
    "api_key": "b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6",
}
AUTHORIZATION = "Basic " + base64.b64encode(b"312346:b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6").decode()
ADAPTER = Przelewy24Webhooks()
TOTAL = Money(amount=40994, currency="PLN")
REFUND_ID = "rf_0123456789abcdef01234567"


@dataclass
class Receiver:
    """Our webhook route, as far as P24 can tell: it records what is POSTed and answers 200."""

    url: str
    received: list[tuple[str, bytes]] = field(default_factory=list)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[tuple[str, bytes]]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"only {len(self.received)} deliveries"
            time.sleep(0.01)
        return self.received


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    received: list[tuple[str, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            received.append((self.path, self.rfile.read(length)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=lambda: server.serve_forever(poll_interval=0.05), daemon=True).start()
    try:
        yield Receiver(f"http://127.0.0.1:{server.server_address[1]}", received)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def p24() -> Iterator[Przelewy24Simulator]:
    simulator = Przelewy24Simulator.from_secret(SECRET)
    simulator.start()
    try:
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


@pytest.fixture
def gateway(p24: Przelewy24Simulator, http: httpx.Client) -> Przelewy24Gateway:
    return Przelewy24Gateway.from_secret({**SECRET, "api_url": p24.start()}, http)


def session_request(receiver: Receiver, **changes: Any) -> SessionRequest:
    values: dict[str, Any] = {
        "order_id": "ord_01HZX",
        "attempt": 1,
        "amount": TOTAL,
        "return_url": "https://shop.test/orders/ord_01HZX",
        "notify_url": f"{receiver.url}/webhooks/payments/przelewy24",
        "description": "Order 1047",
        "buyer_email": "anna@example.pl",
        "buyer_name": "Anna Nowak",
        "buyer_phone": "+48 600 100 200",
    }
    return SessionRequest(**{**values, **changes})


def lookup(created: CreatedSession) -> SessionLookup:
    return SessionLookup(
        order_id="ord_01HZX",
        attempt=1,
        session_id=created.session_id,
        reference=created.reference,
        amount=TOTAL,
        provider_data=created.provider_data,
    )


def delivered(body: bytes) -> Any:
    """What our webhook makes of a delivery: verified with the secret, then parsed."""
    request = WebhookRequest(Headers({}), raw_body=body, received_at=datetime.now(UTC))
    ADAPTER.verify(request, SECRET)
    return ADAPTER.parse(request)


def delivered_payment(body: bytes) -> PaymentEvent:
    event = delivered(body).event
    assert isinstance(event, PaymentReported)
    return event.payment


def delivered_refund(body: bytes) -> RefundEvent:
    event = delivered(body).event
    assert isinstance(event, RefundReported)
    return event.refund


def served(p24: Przelewy24Simulator, method: str, path_prefix: str) -> list[Any]:
    return [r for r in p24.requests if r.method == method and r.path.startswith(path_prefix)]


def paid_and_verified(
    gateway: Przelewy24Gateway, p24: Przelewy24Simulator, receiver: Receiver
) -> PaymentEvent:
    created = gateway.create_session(session_request(receiver))
    p24.pay(created.session_id, method="blik")
    verified = gateway.capture(delivered_payment(receiver.wait_for(1)[0][1]))
    assert verified is not None
    return verified


def refund_request(payment: PaymentEvent, receiver: Receiver, amount: int = 5000) -> RefundRequest:
    return RefundRequest(
        refund_id=REFUND_ID,
        order_id="ord_01HZX",
        payment_id=payment.payment_id,
        amount=Money(amount=amount, currency="PLN"),
        reason="returned: mug",
        notify_url=f"{receiver.url}/webhooks/payments/przelewy24",
        provider_data=payment.provider_data,
    )


def refund_lookup(payment: PaymentEvent) -> RefundLookup:
    return RefundLookup(
        refund_id=REFUND_ID,
        order_id="ord_01HZX",
        payment_id=payment.payment_id,
        amount=Money(amount=5000, currency="PLN"),
        provider_refund_id=REFUND_ID,
        provider_data=payment.provider_data,
    )


# -- sessions -------------------------------------------------------------------------------------


def test_a_session_is_registered_as_documented(
    gateway: Przelewy24Gateway, p24: Przelewy24Simulator, receiver: Receiver, http: httpx.Client
) -> None:
    # When a session is opened
    created = gateway.create_session(session_request(receiver))
    # Then one POST /api/v1/transaction/register with basic auth posId:apiKey
    (register,) = served(p24, "POST", "/api/v1/transaction/register")
    assert register.headers["Authorization"] == AUTHORIZATION
    assert register.headers["Content-Type"] == "application/json"
    assert register.body == {
        "merchantId": 312345,
        "posId": 312346,
        "sessionId": "ord_01HZX/1",
        "amount": 40994,
        "currency": "PLN",
        "description": "Order 1047",
        "email": "anna@example.pl",
        "client": "Anna Nowak",
        "phone": "48600100200",
        "country": "PL",
        "language": "pl",
        "urlReturn": "https://shop.test/orders/ord_01HZX",
        "urlStatus": f"{receiver.url}/webhooks/payments/przelewy24",
        "sign": hashlib.sha384(
            b'{"sessionId":"ord_01HZX/1","merchantId":312345,"amount":40994,'
            b'"currency":"PLN","crc":"9f8e7d6c5b4a3921"}'
        ).hexdigest(),
    }
    # And the buyer is sent to {host}/trnRequest/{token}
    token = p24.transaction("ord_01HZX/1").token
    assert created.session_id == token
    assert created.redirect_url == f"{p24.start()}/trnRequest/{token}"
    assert http.get(created.redirect_url).status_code == 200
    assert created.reference == "ord_01HZX/1"
    assert created.provider_data == {"session_id": "ord_01HZX/1", "token": token}


@pytest.mark.parametrize(
    ("method", "extra"),
    [("blik", {"method": 154}), ("card", {"channel": 4096}), ("bank_link", {"channel": 64})],
)
def test_a_method_asked_for_narrows_p24s_choice(
    gateway: Przelewy24Gateway,
    p24: Przelewy24Simulator,
    receiver: Receiver,
    method: str,
    extra: dict[str, int],
) -> None:
    gateway.create_session(session_request(receiver, method=method))
    (register,) = served(p24, "POST", "/api/v1/transaction/register")
    assert {k: register.body[k] for k in ("method", "channel") if k in register.body} == extra


def test_a_repeated_unpaid_session_is_refused_for_a_new_attempt(
    gateway: Przelewy24Gateway, p24: Przelewy24Simulator, receiver: Receiver
) -> None:
    # Given an attempt registered (its answer lost, say)
    gateway.create_session(session_request(receiver))
    # When the same attempt is opened again, Then P24 refuses the sessionId and no token exists
    with pytest.raises(GatewayRejected, match="new attempt") as raised:
        gateway.create_session(session_request(receiver))
    assert raised.value.code == "session_exists"
    # And a new attempt opens
    assert gateway.create_session(session_request(receiver, attempt=2)).reference == "ord_01HZX/2"


def test_a_repeated_paid_session_sends_the_buyer_back_to_the_shop(
    gateway: Przelewy24Gateway, p24: Przelewy24Simulator, receiver: Receiver
) -> None:
    created = gateway.create_session(session_request(receiver))
    p24.pay(created.session_id)
    again = gateway.create_session(session_request(receiver))
    order_id = p24.transaction(created.session_id).order_id
    assert again.redirect_url == "https://shop.test/orders/ord_01HZX"
    assert again.payment_id == str(order_id)
    assert again.provider_data == {"p24_order_id": str(order_id), "session_id": "ord_01HZX/1"}


def test_nothing_paid_is_nothing_to_report(
    gateway: Przelewy24Gateway, p24: Przelewy24Simulator, receiver: Receiver
) -> None:
    created = gateway.create_session(session_request(receiver))
    assert gateway.session_status(lookup(created)) is None
    (found,) = served(p24, "GET", "/api/v1/transaction/by/sessionId/")
    assert found.path == "/api/v1/transaction/by/sessionId/ord_01HZX%2F1"
    assert found.headers["Authorization"] == AUTHORIZATION


def test_a_failed_payment_sends_nothing_and_the_buyer_may_pay_again(
    gateway: Przelewy24Gateway, p24: Przelewy24Simulator, receiver: Receiver
) -> None:
    created = gateway.create_session(session_request(receiver))
    p24.fail(created.session_id)
    assert receiver.received == []
    assert gateway.session_status(lookup(created)) is None
    p24.pay(created.session_id)
    assert len(receiver.wait_for(1)) == 1


# -- notified, then verified ----------------------------------------------------------------------


def test_a_payment_is_notified_then_verified(
    gateway: Przelewy24Gateway, p24: Przelewy24Simulator, receiver: Receiver
) -> None:
    created = gateway.create_session(session_request(receiver))
    # When the buyer pays with BLIK
    p24.pay(created.session_id, method="blik")
    # Then P24 posts the notification to urlStatus, signed with the CRC key
    ((path, body),) = receiver.wait_for(1)
    assert path == "/webhooks/payments/przelewy24"
    notified = delivered_payment(body)
    order_id = p24.transaction(created.session_id).order_id
    assert notified.status is PaymentStatus.AUTHORIZED
    assert notified.needs_capture
    assert notified.method == "blik"
    assert notified.provider_event_id == f"{order_id}:notified"
    # And a lookup now says the same, under the same key
    looked_up = gateway.session_status(lookup(created))
    assert looked_up is not None
    assert looked_up.provider_event_id == notified.provider_event_id
    assert (looked_up.status, looked_up.needs_capture) == (PaymentStatus.AUTHORIZED, True)
    assert looked_up.amount == notified.amount == TOTAL
    assert looked_up.provider_data == notified.provider_data
    assert (looked_up.order_id, looked_up.attempt, looked_up.method) == ("ord_01HZX", 1, "blik")

    # When the payment is captured (transaction/verify)
    paid = gateway.capture(notified)
    # Then PUT /api/v1/transaction/verify as documented, and the payment is paid
    (verify,) = served(p24, "PUT", "/api/v1/transaction/verify")
    assert verify.headers["Authorization"] == AUTHORIZATION
    assert verify.body == {
        "merchantId": 312345,
        "posId": 312346,
        "sessionId": "ord_01HZX/1",
        "amount": 40994,
        "currency": "PLN",
        "orderId": order_id,
        "sign": hashlib.sha384(
            f'{{"sessionId":"ord_01HZX/1","orderId":{order_id},"amount":40994,'
            f'"currency":"PLN","crc":"9f8e7d6c5b4a3921"}}'.encode()
        ).hexdigest(),
    }
    assert paid is not None
    assert (paid.status, paid.needs_capture) == (PaymentStatus.SUCCEEDED, False)
    assert paid.provider_event_id == f"{order_id}:verified"
    assert (paid.order_id, paid.attempt, paid.method) == ("ord_01HZX", 1, "blik")
    # And the lookup agrees, under the same key
    now = gateway.session_status(lookup(created))
    assert now is not None
    assert (now.status, now.provider_event_id) == (PaymentStatus.SUCCEEDED, paid.provider_event_id)


def test_a_repeated_capture_is_paid_again(
    gateway: Przelewy24Gateway, p24: Przelewy24Simulator, receiver: Receiver
) -> None:
    paid = paid_and_verified(gateway, p24, receiver)
    notified = delivered_payment(receiver.received[0][1])
    again = gateway.capture(notified)
    assert again is not None
    assert (again.status, again.provider_event_id) == (
        PaymentStatus.SUCCEEDED,
        paid.provider_event_id,
    )


def test_a_capture_for_another_amount_is_refused(
    gateway: Przelewy24Gateway, p24: Przelewy24Simulator, receiver: Receiver
) -> None:
    created = gateway.create_session(session_request(receiver))
    p24.pay(created.session_id)
    notified = delivered_payment(receiver.wait_for(1)[0][1])
    short = notified.model_copy(update={"amount": Money(amount=40000, currency="PLN")})
    with pytest.raises(GatewayRejected, match="Invalid input data"):
        gateway.capture(short)
    assert p24.transaction(created.session_id).status == 1  # still unverified


def test_an_unverified_payment_is_notified_again_with_the_same_key(
    gateway: Przelewy24Gateway, p24: Przelewy24Simulator, receiver: Receiver
) -> None:
    created = gateway.create_session(session_request(receiver))
    p24.pay(created.session_id)
    p24.resend(created.session_id)
    first, second = receiver.wait_for(2)
    assert first == second
    assert delivered(first[1]).event_id == delivered(second[1]).event_id


def test_notifications_without_an_address_go_to_the_panels_default(
    p24: Przelewy24Simulator, receiver: Receiver, http: httpx.Client
) -> None:
    # Given a registration that names no urlStatus (raw call, as P24 allows it)
    p24.deliver_to(receiver.url)
    body = {
        "merchantId": 312345,
        "posId": 312346,
        "sessionId": "ord_2/1",
        "amount": 100,
        "currency": "PLN",
        "description": "x",
        "email": "a@example.pl",
        "country": "PL",
        "language": "pl",
        "urlReturn": "https://shop.test/",
        "sign": hashlib.sha384(
            b'{"sessionId":"ord_2/1","merchantId":312345,"amount":100,"currency":"PLN",'
            b'"crc":"9f8e7d6c5b4a3921"}'
        ).hexdigest(),
    }
    url = f"{p24.start()}/api/v1/transaction/register"
    token = http.post(url, json=body, headers={"Authorization": AUTHORIZATION}).json()["data"]
    p24.pay(token["token"])
    ((path, _),) = receiver.wait_for(1)
    assert path == "/webhooks/payments/przelewy24"


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"amount": True}, 400),
        ({"amount": 100.0}, 400),
        ({"sign": "0" * 96}, 400),
        ({"merchantId": 1}, 400),
        ({"email": "x" * 51}, 400),
        ({"description": ...}, 400),
    ],
)
def test_the_simulator_refuses_what_p24_refuses(
    p24: Przelewy24Simulator, http: httpx.Client, changes: dict[str, Any], status: int
) -> None:
    body: dict[str, Any] = {
        "merchantId": 312345,
        "posId": 312346,
        "sessionId": "ord_3/1",
        "amount": 100,
        "currency": "PLN",
        "description": "x",
        "email": "a@example.pl",
        "country": "PL",
        "language": "pl",
        "urlReturn": "https://shop.test/",
        "sign": hashlib.sha384(
            b'{"sessionId":"ord_3/1","merchantId":312345,"amount":100,"currency":"PLN",'
            b'"crc":"9f8e7d6c5b4a3921"}'
        ).hexdigest(),
    }
    for name, value in changes.items():
        if value is ...:
            del body[name]
        else:
            body[name] = value
    url = f"{p24.start()}/api/v1/transaction/register"
    answer = http.post(url, json=body, headers={"Authorization": AUTHORIZATION})
    assert (answer.status_code, answer.json()) == (
        status,
        {"error": "Invalid input data", "code": 400},
    )


def test_wrong_credentials_are_refused_for_good(
    p24: Przelewy24Simulator, receiver: Receiver, http: httpx.Client
) -> None:
    gateway = Przelewy24Gateway.from_secret(
        {**SECRET, "api_key": "wrong", "api_url": p24.start()}, http
    )
    with pytest.raises(GatewayRejected, match="Incorrect authentication") as raised:
        gateway.create_session(session_request(receiver))
    assert raised.value.code == "401"


# -- refunds --------------------------------------------------------------------------------------


def test_a_refund_is_requested_as_documented_and_completed_by_its_notification(
    gateway: Przelewy24Gateway, p24: Przelewy24Simulator, receiver: Receiver
) -> None:
    paid = paid_and_verified(gateway, p24, receiver)
    # When a refund is asked for
    accepted = gateway.refund(refund_request(paid, receiver))
    # Then POST /api/v1/transaction/refund as documented, and it is pending
    (sent,) = served(p24, "POST", "/api/v1/transaction/refund")
    assert sent.headers["Authorization"] == AUTHORIZATION
    assert sent.body == {
        "requestId": REFUND_ID,
        "refunds": [
            {
                "orderId": int(paid.payment_id),
                "sessionId": "ord_01HZX/1",
                "amount": 5000,
                "description": "returned: mug",
            }
        ],
        "refundsUuid": REFUND_ID,
        "urlStatus": f"{receiver.url}/webhooks/payments/przelewy24",
    }
    assert (accepted.status, accepted.provider_refund_id) == (RefundStatus.PENDING, REFUND_ID)
    # And P24's refund notification follows, to the refund's urlStatus
    refunded = delivered_refund(receiver.wait_for(2)[1][1])
    assert refunded.status is RefundStatus.COMPLETED
    assert (refunded.refund_id, refunded.provider_refund_id) == (REFUND_ID, REFUND_ID)
    assert (refunded.payment_id, refunded.order_id) == (paid.payment_id, "ord_01HZX")
    assert refunded.amount == Money(amount=5000, currency="PLN")
    # And the lookup says the same, under the same key
    listed = gateway.refund_status(refund_lookup(paid))
    assert listed is not None
    assert (listed.status, listed.provider_event_id) == (
        RefundStatus.COMPLETED,
        refunded.provider_event_id,
    )
    assert served(p24, "GET", f"/api/v1/refund/by/orderId/{paid.payment_id}")


def test_a_repeated_refund_request_is_answered_with_the_first(
    gateway: Przelewy24Gateway, p24: Przelewy24Simulator, receiver: Receiver
) -> None:
    paid = paid_and_verified(gateway, p24, receiver)
    p24.hold_refunds = True
    first = gateway.refund(refund_request(paid, receiver))
    again = gateway.refund(refund_request(paid, receiver))
    assert first == again
    assert again.status is RefundStatus.PENDING
    p24.complete_refund(REFUND_ID)
    assert gateway.refund(refund_request(paid, receiver)).status is RefundStatus.COMPLETED
    assert p24.transaction("ord_01HZX/1").refunded == 5000  # asked three times, refunded once


def test_a_held_refund_is_pending_until_p24_rejects_it(
    gateway: Przelewy24Gateway, p24: Przelewy24Simulator, receiver: Receiver
) -> None:
    paid = paid_and_verified(gateway, p24, receiver)
    p24.hold_refunds = True
    gateway.refund(refund_request(paid, receiver))
    pending = gateway.refund_status(refund_lookup(paid))
    assert pending is not None
    assert pending.status is RefundStatus.PENDING
    assert len(receiver.received) == 1  # only the payment's notification
    # When P24 rejects it
    p24.complete_refund(REFUND_ID, rejected=True)
    rejected = delivered_refund(receiver.wait_for(2)[1][1])
    assert rejected.status is RefundStatus.FAILED
    listed = gateway.refund_status(refund_lookup(paid))
    assert listed is not None
    assert (listed.status, listed.provider_event_id) == (
        RefundStatus.FAILED,
        rejected.provider_event_id,
    )


def test_refunding_more_than_was_paid_is_refused(
    gateway: Przelewy24Gateway, p24: Przelewy24Simulator, receiver: Receiver
) -> None:
    paid = paid_and_verified(gateway, p24, receiver)
    with pytest.raises(GatewayRejected, match="exceeds available amount") as raised:
        gateway.refund(refund_request(paid, receiver, amount=40995))
    assert raised.value.code == "409"


def test_an_unverified_payment_cannot_be_refunded(
    gateway: Przelewy24Gateway, p24: Przelewy24Simulator, receiver: Receiver
) -> None:
    created = gateway.create_session(session_request(receiver))
    p24.pay(created.session_id)
    notified = delivered_payment(receiver.wait_for(1)[0][1])
    with pytest.raises(GatewayRejected, match="wrong status"):
        gateway.refund(refund_request(notified, receiver))


def test_an_unknown_refund_is_none(
    gateway: Przelewy24Gateway, p24: Przelewy24Simulator, receiver: Receiver
) -> None:
    paid = paid_and_verified(gateway, p24, receiver)
    assert gateway.refund_status(refund_lookup(paid)) is None


def test_the_refund_notification_carries_the_documented_fields(
    gateway: Przelewy24Gateway, p24: Przelewy24Simulator, receiver: Receiver
) -> None:
    paid = paid_and_verified(gateway, p24, receiver)
    gateway.refund(refund_request(paid, receiver))
    body = json.loads(receiver.wait_for(2)[1][1])
    assert set(body) == {
        "orderId",
        "sessionId",
        "merchantId",
        "requestId",
        "refundsUuid",
        "amount",
        "currency",
        "timestamp",
        "status",
        "sign",
    }
    assert (body["status"], body["refundsUuid"], body["merchantId"]) == (0, REFUND_ID, 312345)
