"""PayU end to end over real HTTP on 127.0.0.1: the gateway (built by the registry) against the
simulator's API, and the simulator's notifications POSTed to a webhook endpoint that verifies
and parses them with the registry's adapter, as the deployed webhook does."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from shared import registry
from shared.inbox.contract import Headers, ParsedWebhook, SignatureMismatch, WebhookRequest
from shared.kernel.money import Money
from shared.payments.domain import PaymentStatus, RefundStatus
from shared.payments.gateway import (
    CreatedSession,
    GatewayRejected,
    RefundLookup,
    RefundRequest,
    SessionLookup,
    SessionRequest,
)
from shared.payments.inbound import PaymentReported, RefundReported
from shared.providers.payments.payu.simulator import PayUSimulator
from tests.conftest import eventually

SECRET = {
    "pos_id": "300746",
    "second_key": "b6ca15b0d1020e8094d9b5f8d163db54",
    "client_id": "300746",
    "client_secret": "2ee86a66e5d97e3fadc400c9f19b065d",
}
PAYU = registry.provider("payu")


@dataclass
class Webhook:
    """Our endpoint: verify, then parse, as functions/webhooks does (401 when unsigned)."""

    secret: dict[str, str]
    received: list[ParsedWebhook] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def handle(self, headers: dict[str, str], raw: bytes) -> int:
        adapter = PAYU.load_adapter()
        request = WebhookRequest(Headers(headers), raw, received_at=datetime.now(UTC))
        try:
            adapter.verify(request, self.secret)
        except SignatureMismatch as error:
            with self.lock:
                self.refused.append(str(error))
            return 401
        parsed = adapter.parse(request)
        with self.lock:
            self.received.append(parsed)
        return 200

    def payments(self) -> list[tuple[str, PaymentStatus]]:
        with self.lock:
            return [
                (p.event_id, p.event.payment.status)
                for p in self.received
                if isinstance(p.event, PaymentReported)
            ]

    def refunds(self) -> list[RefundReported]:
        with self.lock:
            return [p.event for p in self.received if isinstance(p.event, RefundReported)]


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    endpoint = Webhook(dict(SECRET))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status = endpoint.handle(dict(self.headers.items()), raw)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    endpoint.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield endpoint
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def payu() -> Iterator[PayUSimulator]:
    simulator: PayUSimulator = PAYU.simulator_class().from_secret(SECRET)
    simulator.start()
    try:
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0, follow_redirects=False) as client:
        yield client


def gateway_for(payu: PayUSimulator, http: httpx.Client) -> Any:
    return PAYU.gateway_factory().from_secret({**SECRET, "api_url": payu.base_url}, http)


def session_request(webhook: Webhook, **changes: Any) -> SessionRequest:
    values: dict[str, Any] = {
        "order_id": "ord_42",
        "attempt": 1,
        "amount": Money(amount=15900, currency="PLN"),
        "return_url": "https://shop.example/orders/ord_42",
        "notify_url": f"{webhook.url}{PAYU.path}",
        "description": "Order 42",
        "method": "blik",
        "buyer_email": "ewa@example.pl",
    }
    values.update(changes)
    return SessionRequest(**values)


def lookup_of(session: CreatedSession, amount: int = 15900) -> SessionLookup:
    return SessionLookup(
        order_id="ord_42",
        attempt=1,
        session_id=session.session_id,
        reference=session.reference,
        amount=Money(amount=amount, currency="PLN"),
        payment_id=session.payment_id,
        provider_data=session.provider_data,
    )


def refund_of(session: CreatedSession, refund_id: str = "rf_1", amount: int = 900) -> RefundRequest:
    return RefundRequest(
        refund_id=refund_id,
        order_id="ord_42",
        payment_id=session.session_id,
        amount=Money(amount=amount, currency="PLN"),
        reason="Returned",
        notify_url="",
        provider_data=session.provider_data,
    )


def test_a_blik_payment_is_notified_pending_then_paid_and_reconciles_the_same(
    payu: PayUSimulator, webhook: Webhook, http: httpx.Client
) -> None:
    # Given a session opened at PayU
    gateway = gateway_for(payu, http)
    session = gateway.create_session(session_request(webhook))
    assert http.get(session.redirect_url).status_code == 200  # PayU's payment page
    # When the buyer pays by BLIK
    payu.pay(session.session_id)
    # Then PayU notified PENDING then COMPLETED, both signed and mapped
    assert webhook.payments() == [
        (f"{session.session_id}:PENDING", PaymentStatus.PENDING),
        (f"{session.session_id}:COMPLETED", PaymentStatus.SUCCEEDED),
    ]
    paid = webhook.received[-1].event
    assert isinstance(paid, PaymentReported)
    assert (paid.payment.order_id, paid.payment.attempt, paid.payment.method) == (
        "ord_42",
        1,
        "blik",
    )
    assert paid.payment.amount == Money(amount=15900, currency="PLN")
    # And asking PayU gives the same payment under the same dedupe key
    found = gateway.session_status(lookup_of(session))
    assert found is not None
    assert (found.status, found.provider_event_id) == (
        PaymentStatus.SUCCEEDED,
        paid.payment.provider_event_id,
    )
    assert found.provider_data == paid.payment.provider_data


def test_every_api_call_carries_the_bearer_token_of_one_oauth_call(
    payu: PayUSimulator, webhook: Webhook, http: httpx.Client
) -> None:
    gateway = gateway_for(payu, http)
    session = gateway.create_session(session_request(webhook))
    gateway.session_status(lookup_of(session))
    served = [(r.method, r.path) for r in payu.requests]
    assert served == [
        ("POST", "/pl/standard/user/oauth/authorize"),
        ("POST", "/api/v2_1/orders"),
        ("GET", f"/api/v2_1/orders/{session.session_id}"),
    ]
    oauth, *api = payu.requests
    assert oauth.body == {
        "grant_type": "client_credentials",
        "client_id": SECRET["client_id"],
        "client_secret": SECRET["client_secret"],
    }
    (token,) = {r.headers.get("Authorization") or "" for r in api}
    assert token.startswith("Bearer ")
    assert api[0].body["extOrderId"] == "ord_42/1"
    assert api[0].body["merchantPosId"] == SECRET["pos_id"]
    assert api[0].body["totalAmount"] == "15900"


def test_notifications_signed_with_sha256_verify_too(
    payu: PayUSimulator, webhook: Webhook, http: httpx.Client
) -> None:
    payu.algorithm = "SHA-256"
    session = gateway_for(payu, http).create_session(session_request(webhook))
    payu.pay(session.session_id)
    assert "algorithm=SHA-256" in payu.sent[-1].request.headers["OpenPayu-Signature"]
    assert [status for _, status in webhook.payments()] == [
        PaymentStatus.PENDING,
        PaymentStatus.SUCCEEDED,
    ]


def test_a_notification_signed_with_another_key_is_refused(
    payu: PayUSimulator, webhook: Webhook, http: httpx.Client
) -> None:
    webhook.secret["second_key"] = "rotated"
    session = gateway_for(payu, http).create_session(session_request(webhook))
    payu.pay(session.session_id)
    assert webhook.received == [] and len(webhook.refused) == 2
    assert {sent.status_code for sent in payu.sent} == {401}


def test_without_auto_receive_the_payment_waits_for_its_capture(
    payu: PayUSimulator, webhook: Webhook, http: httpx.Client
) -> None:
    # Given a POS with auto-receive off
    payu.auto_receive = False
    gateway = gateway_for(payu, http)
    session = gateway.create_session(session_request(webhook, method="card"))
    # When the buyer pays, Then the payment is authorized and needs capturing
    payu.pay(session.session_id)
    authorized = webhook.received[-1].event
    assert isinstance(authorized, PaymentReported)
    assert (authorized.payment.status, authorized.payment.needs_capture) == (
        PaymentStatus.AUTHORIZED,
        True,
    )
    # When orderhub captures it, Then PayU answers at once and notifies COMPLETED after
    assert gateway.capture(authorized.payment) is None
    assert payu.wait_for_follow_ups()
    assert webhook.payments()[-1] == (f"{session.session_id}:COMPLETED", PaymentStatus.SUCCEEDED)
    # And a repeated capture is harmless
    assert gateway.capture(authorized.payment) is None


def test_a_failed_payment_is_cancelled_and_reconciles_cancelled(
    payu: PayUSimulator, webhook: Webhook, http: httpx.Client
) -> None:
    gateway = gateway_for(payu, http)
    session = gateway.create_session(session_request(webhook))
    payu.fail(session.session_id)
    assert webhook.payments() == [(f"{session.session_id}:CANCELED", PaymentStatus.CANCELLED)]
    found = gateway.session_status(lookup_of(session))
    assert found is not None and found.status is PaymentStatus.CANCELLED


def test_a_payment_whose_notifications_were_lost_is_found_by_asking(
    payu: PayUSimulator, webhook: Webhook, http: httpx.Client
) -> None:
    gateway = gateway_for(payu, http)
    session = gateway.create_session(session_request(webhook))
    assert gateway.session_status(lookup_of(session)) is None  # nothing happened yet
    payu.pay(session.session_id, notify=False)
    assert webhook.received == []
    found = gateway.session_status(lookup_of(session))
    assert found is not None and found.status is PaymentStatus.SUCCEEDED


def test_a_session_asked_for_again_by_another_process_is_the_same_order(
    payu: PayUSimulator, webhook: Webhook, http: httpx.Client
) -> None:
    first = gateway_for(payu, http).create_session(session_request(webhook))
    again = gateway_for(payu, http).create_session(session_request(webhook))
    assert again.session_id == first.session_id
    assert [r.path for r in payu.requests].count("/api/v2_1/orders") == 2
    with pytest.raises(GatewayRejected):
        gateway_for(payu, http).create_session(
            session_request(webhook, amount=Money(amount=100, currency="PLN"))
        )


def test_a_refund_is_pending_then_finalized_by_its_notification(
    payu: PayUSimulator, webhook: Webhook, http: httpx.Client
) -> None:
    # Given a paid order
    gateway = gateway_for(payu, http)
    session = gateway.create_session(session_request(webhook))
    payu.pay(session.session_id)
    # When orderhub refunds part of it
    accepted = gateway.refund(refund_of(session))
    # Then PayU accepts it as pending, and its FINALIZED notification follows
    assert accepted.status is RefundStatus.PENDING
    refunds = eventually(webhook.refunds)
    refund = refunds[0].refund
    assert refund.status is RefundStatus.COMPLETED
    assert (refund.refund_id, refund.provider_refund_id) == ("rf_1", accepted.provider_refund_id)
    assert (refund.order_id, refund.payment_id) == ("ord_42", session.session_id)
    assert refund.amount == Money(amount=900, currency="PLN")
    assert webhook.received[-1].event_id == f"refund:{accepted.provider_refund_id}:FINALIZED"
    # And asking PayU about it says the same; a repeated request is the same refund
    looked_up = gateway.refund_status(
        RefundLookup(
            refund_id="rf_1",
            order_id="ord_42",
            payment_id=session.session_id,
            amount=Money(amount=900, currency="PLN"),
            provider_refund_id=accepted.provider_refund_id,
            provider_data=session.provider_data,
        )
    )
    assert looked_up == refund
    assert gateway.refund(refund_of(session)).provider_refund_id == accepted.provider_refund_id
    assert [r.path for r in payu.requests if r.method == "POST"].count(
        f"/api/v2_1/orders/{session.session_id}/refunds"
    ) == 2


def test_a_held_refund_completes_when_payu_says_so(
    payu: PayUSimulator, webhook: Webhook, http: httpx.Client
) -> None:
    payu.hold_refunds = True
    gateway = gateway_for(payu, http)
    session = gateway.create_session(session_request(webhook))
    payu.pay(session.session_id)
    accepted = gateway.refund(refund_of(session, amount=15900))
    assert payu.wait_for_follow_ups() and webhook.refunds() == []
    payu.complete_refund(str(accepted.provider_refund_id), status="CANCELED")
    (canceled,) = webhook.refunds()
    assert canceled.refund.status is RefundStatus.FAILED
    with pytest.raises(GatewayRejected) as refused:
        gateway.refund(refund_of(session, refund_id="rf_2", amount=16000))
    assert refused.value.code == "ERROR_VALUE_INVALID/AMOUNT_TO_BIG"


def test_builders_sign_what_tests_deliver_themselves(
    payu: PayUSimulator, webhook: Webhook, http: httpx.Client
) -> None:
    session = gateway_for(payu, http).create_session(session_request(webhook))
    payu.pay(session.session_id, notify=False)
    with httpx.Client(base_url=webhook.url) as client:
        # a duplicate and a reordered delivery, as PayU may send them
        assert payu.notification(session.session_id, "COMPLETED").send(client).status_code == 200
        assert payu.notification(session.session_id, "PENDING").send(client).status_code == 200
        sha512 = payu.refund_notification(session.session_id, amount=100, algorithm="SHA512")
        assert sha512.send(client).status_code == 200
        assert (
            payu.notification(session.session_id, "COMPLETED").tampered().send(client).status_code
            == 401
        )
    assert [status for _, status in webhook.payments()] == [
        PaymentStatus.SUCCEEDED,
        PaymentStatus.PENDING,
    ]
    assert webhook.refunds()[0].refund.amount == Money(amount=100, currency="PLN")
