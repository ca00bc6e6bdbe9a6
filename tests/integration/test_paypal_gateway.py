"""PayPalGateway against PayPalSimulator over real HTTP on 127.0.0.1, and the simulator's
webhooks delivered to a listener that verifies them the default way (PayPal's
verify-webhook-signature API, here the simulator's) before mapping them."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from shared.inbox.contract import Headers, ParsedWebhook, SignatureMismatch, WebhookRequest
from shared.kernel.money import Money
from shared.payments.domain import PaymentEvent, PaymentStatus, RefundStatus
from shared.payments.gateway import (
    GatewayRejected,
    RefundLookup,
    RefundRequest,
    SessionLookup,
    SessionRequest,
)
from shared.payments.inbound import PaymentReported, RefundReported
from shared.providers.payments.paypal.client import PayPalGateway
from shared.providers.payments.paypal.oauth import AccessTokens
from shared.providers.payments.paypal.simulator import PayPalSimulator, RecordedRequest
from shared.providers.payments.paypal.verification import VerificationUnavailable
from shared.providers.payments.paypal.webhook import PayPalWebhooks
from tests.conftest import eventually

CLIENT_ID, CLIENT_SECRET, WEBHOOK_ID = (
    "AYSq3RDGsmBLJE",
    "EGnHDxD_qRPdaLdZz8iCr8N7_MzF",
    "8PT597110X687430LKGECATA",
)


@dataclass
class Listener:
    """The merchant's webhook URL: verify (by PayPal's API), then parse; 401 or 500 otherwise."""

    secrets: dict[str, str]
    received: list[ParsedWebhook] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    def start(self) -> str:
        listener = self
        adapter = PayPalWebhooks(http=httpx.Client(timeout=5.0), tokens=AccessTokens())

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                request = WebhookRequest(
                    Headers(dict(self.headers.items())), raw, datetime.now(UTC)
                )
                try:
                    adapter.verify(request, listener.secrets)
                    listener.received.append(adapter.parse(request))
                    status = 200
                except SignatureMismatch as refused:
                    listener.refused.append((401, str(refused)))
                    status = 401
                except VerificationUnavailable as unavailable:
                    listener.refused.append((500, str(unavailable)))
                    status = 500
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def events(self, topic: str) -> list[Any]:
        return [p.event for p in list(self.received) if p.topic == topic]


@dataclass
class World:
    simulator: PayPalSimulator
    listener: Listener
    gateway: PayPalGateway
    base_url: str
    listener_url: str

    def requests(self, method: str, path_start: str) -> list[RecordedRequest]:
        return [
            r
            for r in self.simulator.requests
            if r.method == method and r.path.startswith(path_start)
        ]

    def wait(self, topic: str, count: int = 1) -> list[Any]:
        return eventually(
            lambda: self.listener.events(topic), lambda found: len(found) >= count, timeout=10
        )


@pytest.fixture
def world() -> Iterator[World]:
    simulator = PayPalSimulator.from_secret(
        {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "webhook_id": WEBHOOK_ID}
    )
    base_url = simulator.start()
    secret = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "webhook_id": WEBHOOK_ID,
        "api_url": base_url,
    }
    listener = Listener(secret)
    listener_url = listener.start()
    simulator.deliver_to(listener_url)
    http = httpx.Client(timeout=5.0)
    try:
        yield World(
            simulator, listener, PayPalGateway.from_secret(secret, http), base_url, listener_url
        )
    finally:
        http.close()
        listener.stop()
        simulator.stop()


def session(
    order_id: str = "ord_01JDXQ", attempt: int = 1, amount: Money | None = None, **changes: Any
) -> SessionRequest:
    return SessionRequest(
        order_id=order_id,
        attempt=attempt,
        amount=amount or Money(amount=40994, currency="PLN"),
        return_url="https://shop.example/orders/ord_01JDXQ/paid",
        notify_url="https://hub.example/webhooks/payments/paypal",
        description="Zamówienie ord_01JDXQ",
        buyer_email="jan@example.com",
        **changes,
    )


def lookup(order_id: str, session_id: str) -> SessionLookup:
    return SessionLookup(
        order_id=order_id,
        attempt=1,
        session_id=session_id,
        reference=order_id,
        amount=Money(amount=40994, currency="PLN"),
    )


def approved(world: World, order_id: str = "ord_01JDXQ") -> tuple[str, PaymentEvent]:
    """A session opened and approved by the buyer: (PayPal order id, the authorized payment)."""
    created = world.gateway.create_session(session(order_id))
    world.simulator.pay(created.session_id)
    (event,) = [
        e
        for e in world.wait("CHECKOUT.ORDER.APPROVED")
        if e.payment.payment_id == created.session_id
    ]
    assert isinstance(event, PaymentReported)
    return created.session_id, event.payment


# -- sessions ---------------------------------------------------------------------------------


def test_create_session_sends_the_documented_order(world: World) -> None:
    created = world.gateway.create_session(session(language="pl"))
    (call,) = world.requests("POST", "/v2/checkout/orders")
    assert call.path == "/v2/checkout/orders"
    assert (call.header("Authorization") or "").startswith("Bearer A21AA")
    assert call.header("PayPal-Request-Id") == "orderhub-session-ord_01JDXQ-1"
    assert call.header("Prefer") == "return=representation"
    assert call.header("Content-Type") == "application/json"
    assert call.body == {
        "intent": "CAPTURE",
        "purchase_units": [
            {
                "reference_id": "ord_01JDXQ/1",
                "custom_id": "ord_01JDXQ",
                "amount": {"currency_code": "PLN", "value": "409.94"},
                "description": "Zamówienie ord_01JDXQ",
            }
        ],
        "payment_source": {
            "paypal": {
                "email_address": "jan@example.com",
                "experience_context": {
                    "return_url": "https://shop.example/orders/ord_01JDXQ/paid",
                    "cancel_url": "https://shop.example/orders/ord_01JDXQ/paid",
                    "user_action": "PAY_NOW",
                    "shipping_preference": "NO_SHIPPING",
                    "landing_page": "NO_PREFERENCE",
                    "locale": "pl-PL",
                },
            }
        },
    }
    assert created.session_id == created.payment_id
    assert created.reference == "ord_01JDXQ"
    assert created.provider_data == {"paypal_order_id": created.session_id}
    assert created.redirect_url == f"{world.base_url}/checkoutnow?token={created.session_id}"


def test_a_repeated_session_request_is_the_same_order_and_one_token(world: World) -> None:
    first = world.gateway.create_session(session())
    again = world.gateway.create_session(session())
    other_attempt = world.gateway.create_session(session(attempt=2))
    assert first.session_id == again.session_id != other_attempt.session_id
    assert len(world.requests("POST", "/v1/oauth2/token")) == 1
    token_call = world.requests("POST", "/v1/oauth2/token")[0]
    assert token_call.body == {"grant_type": "client_credentials"}
    assert (token_call.header("Authorization") or "").startswith("Basic ")


def test_pay_later_is_the_same_paypal_order(world: World) -> None:
    created = world.gateway.create_session(session(method="pay_later"))
    body = world.requests("POST", "/v2/checkout/orders")[0].body
    assert list(body["payment_source"]) == ["paypal"]
    assert created.redirect_url.endswith(created.session_id)


def test_forint_goes_as_whole_units_and_the_simulator_refuses_decimals(world: World) -> None:
    world.gateway.create_session(session(amount=Money(amount=100000, currency="HUF")))
    body = world.requests("POST", "/v2/checkout/orders")[0].body
    assert body["purchase_units"][0]["amount"] == {"currency_code": "HUF", "value": "1000"}
    # What PayPal answers to forint with decimals.
    token = world.requests("POST", "/v2/checkout/orders")[0].header("Authorization")
    assert token is not None
    refused = httpx.post(
        f"{world.base_url}/v2/checkout/orders",
        headers={"Authorization": token},
        json={
            **body,
            "purchase_units": [
                {
                    **body["purchase_units"][0],
                    "amount": {"currency_code": "HUF", "value": "1000.50"},
                }
            ],
        },
    )
    assert refused.status_code == 422
    assert refused.json()["details"][0]["issue"] == "DECIMALS_NOT_SUPPORTED"


def test_the_status_before_and_after_the_buyer_approves(world: World) -> None:
    created = world.gateway.create_session(session())
    assert world.gateway.session_status(lookup("ord_01JDXQ", created.session_id)) is None
    world.simulator.pay(created.session_id, notify=False)
    found = world.gateway.session_status(lookup("ord_01JDXQ", created.session_id))
    assert found is not None
    assert found.status is PaymentStatus.AUTHORIZED
    assert found.needs_capture is True
    assert found.provider_event_id == f"{created.session_id}:order:APPROVED"
    assert found.payment_id == created.session_id
    assert found.method == "paypal"
    assert found.test is True
    assert world.listener.received == []  # notify=False: reconciliation found it


def test_an_unknown_order_has_no_status(world: World) -> None:
    assert world.gateway.session_status(lookup("ord_x", "NOSUCHORDER00000")) is None


def test_the_approval_page_sends_the_buyer_back_with_the_token(world: World) -> None:
    created = world.gateway.create_session(session())
    page = httpx.get(created.redirect_url, follow_redirects=False)
    assert page.status_code == 302
    assert page.headers["Location"].startswith(
        f"https://shop.example/orders/ord_01JDXQ/paid?token={created.session_id}&PayerID="
    )
    (event,) = world.wait("CHECKOUT.ORDER.APPROVED")
    assert event.payment.status is PaymentStatus.AUTHORIZED


# -- approval, capture ------------------------------------------------------------------------


def test_the_approval_notification_verifies_and_is_authorized(world: World) -> None:
    paypal_order, payment = approved(world)
    assert payment.status is PaymentStatus.AUTHORIZED
    assert (payment.order_id, payment.attempt) == ("ord_01JDXQ", 1)
    assert payment.amount == Money(amount=40994, currency="PLN")
    assert payment.provider_data == {"paypal_order_id": paypal_order}
    verify = world.requests("POST", "/v1/notifications/verify-webhook-signature")
    assert len(verify) == 1
    assert verify[0].body["webhook_id"] == WEBHOOK_ID
    assert verify[0].body["auth_algo"] == "SHA256withRSA"
    assert world.listener.refused == []


def test_capture_pays_and_the_notification_names_the_same_payment(world: World) -> None:
    paypal_order, payment = approved(world)
    captured = world.gateway.capture(payment)
    assert captured is not None
    assert captured.status is PaymentStatus.SUCCEEDED
    assert captured.payment_id == paypal_order
    capture_id = captured.provider_data["capture_id"]
    assert captured.provider_data == {"capture_id": capture_id, "paypal_order_id": paypal_order}
    assert captured.provider_event_id == f"{paypal_order}:capture:{capture_id}:COMPLETED"
    assert (captured.order_id, captured.attempt) == ("ord_01JDXQ", 1)
    (call,) = world.requests("POST", f"/v2/checkout/orders/{paypal_order}/capture")
    assert call.header("PayPal-Request-Id") == f"capture-{paypal_order}"
    (notified,) = world.wait("PAYMENT.CAPTURE.COMPLETED")
    assert notified.payment.payment_id == paypal_order
    assert notified.payment.provider_data == captured.provider_data
    assert notified.payment.status is PaymentStatus.SUCCEEDED
    # A lookup reports the same outcome under the same id (it dedupes with the capture's).
    looked_up = world.gateway.session_status(lookup("ord_01JDXQ", paypal_order))
    assert looked_up is not None
    assert looked_up.provider_event_id == captured.provider_event_id


def test_capturing_again_is_safe(world: World) -> None:
    _, payment = approved(world)
    first = world.gateway.capture(payment)
    again = world.gateway.capture(payment)
    assert first is not None and again is not None
    assert again.provider_data == first.provider_data
    assert again.status is PaymentStatus.SUCCEEDED


def test_an_order_captured_elsewhere_is_looked_up(world: World) -> None:
    paypal_order, payment = approved(world)
    token = world.requests("POST", "/v2/checkout/orders")[0].header("Authorization")
    assert token is not None
    elsewhere = httpx.post(
        f"{world.base_url}/v2/checkout/orders/{paypal_order}/capture",
        headers={
            "Authorization": token,
            "PayPal-Request-Id": "someone-else",
            "Content-Type": "application/json",
        },
        content=b"{}",
    )
    assert elsewhere.status_code == 201
    captured = world.gateway.capture(payment)
    assert captured is not None
    assert captured.status is PaymentStatus.SUCCEEDED
    assert (
        captured.provider_data["capture_id"]
        == elsewhere.json()["purchase_units"][0]["payments"]["captures"][0]["id"]
    )


def test_capture_before_approval_is_refused(world: World) -> None:
    created = world.gateway.create_session(session())
    payment = PaymentEvent(
        provider="paypal",
        provider_event_id="x",
        payment_id=created.session_id,
        order_id="ord_01JDXQ",
        status=PaymentStatus.AUTHORIZED,
        amount=Money(amount=40994, currency="PLN"),
        occurred_at=datetime.now(UTC),
        needs_capture=True,
    )
    with pytest.raises(GatewayRejected) as refused:
        world.gateway.capture(payment)
    assert refused.value.code == "ORDER_NOT_APPROVED"


def test_a_declined_funding_source_fails_the_capture(world: World) -> None:
    created = world.gateway.create_session(session())
    world.simulator.fail(created.session_id)
    (approval,) = world.wait("CHECKOUT.ORDER.APPROVED")
    captured = world.gateway.capture(approval.payment)
    assert captured is not None
    assert captured.status is PaymentStatus.FAILED
    assert captured.failure_reason == "capture declined"
    (notified,) = world.wait("PAYMENT.CAPTURE.DECLINED")
    assert notified.payment.status is PaymentStatus.FAILED
    assert notified.payment.payment_id == created.session_id


def test_an_expired_token_is_renewed(world: World) -> None:
    world.gateway.create_session(session())
    world.simulator.expire_tokens()
    world.gateway.create_session(session(attempt=2))
    assert len(world.requests("POST", "/v1/oauth2/token")) == 2


# -- refunds ----------------------------------------------------------------------------------


def refund_request(
    payment: PaymentEvent, refund_id: str, minor: int, **changes: Any
) -> RefundRequest:
    fields: dict[str, Any] = {
        "refund_id": refund_id,
        "order_id": "ord_01JDXQ",
        "payment_id": payment.payment_id,
        "amount": Money(amount=minor, currency="PLN"),
        "reason": "Zwrot: uszkodzony kubek",
        "notify_url": "https://hub.example/webhooks/payments/paypal",
        "provider_data": payment.provider_data,
    }
    return RefundRequest(**{**fields, **changes})


def paid(world: World) -> PaymentEvent:
    _, payment = approved(world)
    captured = world.gateway.capture(payment)
    assert captured is not None
    return captured


def test_partial_refunds_complete_and_their_notifications_name_order_and_refund(
    world: World,
) -> None:
    payment = paid(world)
    capture_id = payment.provider_data["capture_id"]
    first = world.gateway.refund(refund_request(payment, "ref_01A", 10000))
    second = world.gateway.refund(refund_request(payment, "ref_01B", 5000))
    assert first.status is second.status is RefundStatus.COMPLETED
    assert first.provider_refund_id != second.provider_refund_id
    calls = world.requests("POST", f"/v2/payments/captures/{capture_id}/refund")
    assert [c.header("PayPal-Request-Id") for c in calls] == ["ref_01A", "ref_01B"]
    assert calls[0].body == {
        "amount": {"value": "100.00", "currency_code": "PLN"},
        "custom_id": "ref_01A",
        "invoice_id": "ord_01JDXQ/ref_01A",
        "note_to_payer": "Zwrot: uszkodzony kubek",
    }
    notified = world.wait("PAYMENT.CAPTURE.REFUNDED", 2)
    assert all(isinstance(e, RefundReported) for e in notified)
    by_id = {e.refund.refund_id: e.refund for e in notified}
    assert by_id["ref_01A"].order_id == by_id["ref_01B"].order_id == "ord_01JDXQ"
    assert by_id["ref_01A"].amount == Money(amount=10000, currency="PLN")
    assert by_id["ref_01A"].provider_refund_id == first.provider_refund_id
    assert by_id["ref_01A"].payment_id == capture_id
    assert by_id["ref_01A"].status is RefundStatus.COMPLETED


def test_a_repeated_refund_request_is_the_same_refund(world: World) -> None:
    payment = paid(world)
    first = world.gateway.refund(refund_request(payment, "ref_01A", 10000))
    again = world.gateway.refund(refund_request(payment, "ref_01A", 10000))
    assert again.provider_refund_id == first.provider_refund_id
    assert (
        world.simulator.order(payment.payment_id)["purchase_units"][0]["payments"]["captures"][0][
            "status"
        ]
        == "PARTIALLY_REFUNDED"
    )


def test_refunding_more_than_is_left_is_refused(world: World) -> None:
    payment = paid(world)
    world.gateway.refund(refund_request(payment, "ref_01A", 40000))
    with pytest.raises(GatewayRejected) as refused:
        world.gateway.refund(refund_request(payment, "ref_01B", 1000))
    assert refused.value.code == "REFUND_AMOUNT_EXCEEDED"


def test_a_refund_without_the_capture_id_finds_it_from_the_order(world: World) -> None:
    payment = paid(world)
    accepted = world.gateway.refund(refund_request(payment, "ref_01A", 100, provider_data={}))
    assert accepted.status is RefundStatus.COMPLETED
    assert world.requests(
        "POST", f"/v2/payments/captures/{payment.provider_data['capture_id']}/refund"
    )


def test_a_held_refund_stays_pending_until_paypal_completes_it(world: World) -> None:
    payment = paid(world)
    world.simulator.hold_refunds = True
    accepted = world.gateway.refund(refund_request(payment, "ref_01A", 10000))
    assert accepted.status is RefundStatus.PENDING
    assert accepted.provider_refund_id is not None
    looked = RefundLookup(
        refund_id="ref_01A",
        order_id="ord_01JDXQ",
        payment_id=payment.payment_id,
        amount=Money(amount=10000, currency="PLN"),
        provider_refund_id=accepted.provider_refund_id,
    )
    pending = world.gateway.refund_status(looked)
    assert pending is not None and pending.status is RefundStatus.PENDING
    assert world.listener.events("PAYMENT.CAPTURE.REFUNDED") == []
    world.simulator.complete_refund(accepted.provider_refund_id)
    (notified,) = world.wait("PAYMENT.CAPTURE.REFUNDED")
    assert notified.refund.status is RefundStatus.COMPLETED
    done = world.gateway.refund_status(looked)
    assert done is not None
    assert done.status is RefundStatus.COMPLETED
    assert (done.order_id, done.refund_id, done.payment_id) == (
        "ord_01JDXQ",
        "ref_01A",
        payment.payment_id,
    )
    assert done.provider_event_id == f"{accepted.provider_refund_id}:refund:COMPLETED"
    (call,) = world.requests("GET", "/v2/payments/refunds/")[-1:]
    assert call.path == f"/v2/payments/refunds/{accepted.provider_refund_id}"


def test_a_refund_paypal_does_not_know_has_no_status(world: World) -> None:
    looked = RefundLookup(
        refund_id="ref_x",
        order_id="ord_x",
        payment_id="P",
        amount=Money(amount=1, currency="PLN"),
        provider_refund_id="NOSUCHREFUND0000",
    )
    assert world.gateway.refund_status(looked) is None
    assert (
        world.gateway.refund_status(
            RefundLookup(
                refund_id="r", order_id="o", payment_id="p", amount=Money(amount=1, currency="PLN")
            )
        )
        is None
    )


# -- the simulator's verify API ----------------------------------------------------------------


def test_a_tampered_delivery_is_refused_by_the_verify_api(world: World) -> None:
    resource = PayPalSimulator.capture_resource("ord_1", "10.00", paypal_order_id="ABC")
    signed = world.simulator.event("PAYMENT.CAPTURE.COMPLETED", resource)
    with httpx.Client(base_url=world.listener_url) as client:
        assert signed.tampered().send(client).status_code == 401
        assert signed.send(client).status_code == 200
        assert (
            signed.send(client).status_code == 200
        )  # PayPal may deliver again: dedupe is the inbox's
    (code, reason) = world.listener.refused[0]
    assert (code, "FAILURE" in reason) == (401, True)


def test_a_transmission_the_simulator_did_not_send_is_refused(world: World) -> None:
    resource = PayPalSimulator.capture_resource("ord_1", "10.00")
    signed = world.simulator.event("PAYMENT.CAPTURE.COMPLETED", resource)
    forged = type(signed)(
        signed.path,
        signed.body,
        {**signed.headers, "PAYPAL-TRANSMISSION-ID": "5f1e4a70-0000-11ef-0000-000000000000"},
    )
    with httpx.Client(base_url=world.listener_url) as client:
        assert forged.send(client).status_code == 401


def test_another_webhook_id_is_refused(world: World) -> None:
    world.listener.secrets = {**world.listener.secrets, "webhook_id": "ANOTHERWEBHOOK1"}
    signed = world.simulator.event(
        "PAYMENT.CAPTURE.COMPLETED", PayPalSimulator.capture_resource("ord_1", "1.00")
    )
    with httpx.Client(base_url=world.listener_url) as client:
        assert signed.send(client).status_code == 401


def test_the_verify_api_requires_every_field_and_a_token(world: World) -> None:
    url = f"{world.base_url}/v1/notifications/verify-webhook-signature"
    assert httpx.post(url, json={}).status_code == 401
    world.gateway.create_session(session())  # gets a token
    token = world.requests("POST", "/v2/checkout/orders")[0].header("Authorization")
    assert token is not None
    missing = httpx.post(url, headers={"Authorization": token}, json={"auth_algo": "SHA256withRSA"})
    assert missing.status_code == 400
    assert missing.json()["details"][0]["issue"] == "MISSING_REQUIRED_PARAMETER"
    signed = world.simulator.event(
        "CHECKOUT.ORDER.APPROVED", PayPalSimulator.order_resource("ord_1", "1.00")
    )
    fields = {
        "auth_algo": "SHA256withRSA",
        "cert_url": signed.headers["PAYPAL-CERT-URL"],
        "transmission_id": signed.headers["PAYPAL-TRANSMISSION-ID"],
        "transmission_sig": signed.headers["PAYPAL-TRANSMISSION-SIG"],
        "transmission_time": signed.headers["PAYPAL-TRANSMISSION-TIME"],
        "webhook_id": WEBHOOK_ID,
    }

    client = httpx.Client(timeout=5.0)

    def verdict(event: bytes = signed.body, **changes: str) -> str:
        head = json.dumps({**fields, **changes}, separators=(",", ":"))[:-1].encode()
        answer = client.post(
            url,
            headers={"Authorization": token, "Content-Type": "application/json"},
            content=head + b',"webhook_event":' + event + b"}",
        )
        assert answer.status_code == 200
        return str(answer.json()["verification_status"])

    assert verdict() == "SUCCESS"
    assert verdict(auth_algo="SHA1withRSA") == "FAILURE"
    assert verdict(cert_url="https://evil.example/cert") == "FAILURE"
    assert verdict(transmission_time="yesterday") == "FAILURE"
    assert verdict(transmission_sig="AAAA") == "FAILURE"
    assert verdict(webhook_id="ANOTHERWEBHOOK1") == "FAILURE"
    assert verdict(signed.body.replace(b'"id":"WH-', b'"id":"WH-X')) == "FAILURE"
    # The same event re-encoded is not what PayPal signed (its CRC32 covers the bytes).
    assert verdict(json.dumps(json.loads(signed.body), indent=2).encode()) == "FAILURE"
    client.close()
