"""PayU's gateway without sockets: the simulator's API logic behind an httpx.MockTransport for
the documented request shapes, OAuth caching and idempotency; hand-written answers for the
error mapping (4xx -> GatewayRejected, 5xx, 408, 429 and transport errors -> retryable)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from shared.kernel.money import Money
from shared.payments.domain import PaymentEvent, PaymentStatus, RefundStatus
from shared.payments.gateway import (
    METHODS,
    GatewayRejected,
    GatewayUnavailable,
    PaymentGateway,
    RefundLookup,
    RefundRequest,
    SessionLine,
    SessionLookup,
    SessionRequest,
    UnsupportedMethod,
)
from shared.providers.payments.payu.amounts import (
    UnrepresentableAmount,
    from_payu_amount,
    to_payu_amount,
)
from shared.providers.payments.payu.client import PayUGateway
from shared.providers.payments.payu.simulator import PayUSimulator

POS = "300746"
SECRET = {
    "pos_id": POS,
    "second_key": "b6ca15b0d1020e8094d9b5f8d163db54",
    "client_id": POS,
    "client_secret": "2ee86a66e5d97e3fadc400c9f19b065d",
    "api_url": "http://payu.test",
}
NOW = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)
Override = Callable[[httpx.Request], httpx.Response | None]


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class PayU:
    """The simulator's API behind a MockTransport; `override` answers chosen calls itself."""

    simulator: PayUSimulator = field(
        default_factory=lambda: PayUSimulator(
            pos_id=POS,
            second_key=SECRET["second_key"],
            client_id=POS,
            client_secret=SECRET["client_secret"],
        )
    )
    override: Override | None = None
    seen: list[httpx.Request] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if self.override is not None:
            answer = self.override(request)
            if answer is not None:
                return answer
        served = self.simulator.answer(
            request.method, request.url.raw_path.decode(), dict(request.headers), request.content
        )
        # what PayU does after answering (notifications) needs sockets: integration tests
        if isinstance(served.body, str):
            return httpx.Response(served.status, text=served.body, headers=served.headers)
        return httpx.Response(served.status, json=served.body, headers=served.headers)

    def gateway(self, clock: Clock | None = None, **secret: str) -> PayUGateway:
        http = httpx.Client(transport=httpx.MockTransport(self.handle))
        gateway = PayUGateway.from_secret({**SECRET, **secret}, http)
        gateway._monotonic = clock or Clock()
        gateway._clock = lambda: NOW
        return gateway

    def calls(self, method: str, suffix: str) -> list[httpx.Request]:
        return [r for r in self.seen if r.method == method and r.url.path.endswith(suffix)]


def session_request(**changes: Any) -> SessionRequest:
    values: dict[str, Any] = {
        "order_id": "ord_1",
        "attempt": 2,
        "amount": Money(amount=12345, currency="PLN"),
        "return_url": "https://shop.example/return/ord_1",
        "notify_url": "https://hooks.example/webhooks/payments/payu",
        "description": "Order 1001",
        "method": "blik",
        "buyer_email": "jan@example.pl",
        "buyer_name": "Jan Maria Kowalski",
        "buyer_phone": "+48123123123",
        "customer_ip": "203.0.113.7",
        "lines": (
            SessionLine("Mug", 2, Money(amount=5000, currency="PLN")),
            SessionLine("Shipping", 1, Money(amount=2345, currency="PLN")),
        ),
    }
    values.update(changes)
    return SessionRequest(**values)


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content)


def payu_error(status: int, code: str, literal: str | None = None, **extra: Any) -> httpx.Response:
    section = {"statusCode": code, "statusDesc": "described"}
    if literal:
        section["codeLiteral"] = literal
    return httpx.Response(status, json={"status": section, **extra})


def paid_order(payu: PayU, gateway: PayUGateway) -> str:
    session = gateway.create_session(session_request())
    payu.simulator.pay(session.session_id, notify=False)
    return session.session_id


# -- sessions -------------------------------------------------------------------------------------


def test_a_session_is_an_order_of_the_documented_shape() -> None:
    payu = PayU()
    created = payu.gateway().create_session(session_request())

    (token_request,) = payu.calls("POST", "/pl/standard/user/oauth/authorize")
    assert token_request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert dict(httpx.QueryParams(token_request.content.decode())) == {
        "grant_type": "client_credentials",
        "client_id": POS,
        "client_secret": SECRET["client_secret"],
    }
    (order_request,) = payu.calls("POST", "/api/v2_1/orders")
    assert order_request.url == "http://payu.test/api/v2_1/orders"
    assert order_request.headers["authorization"].startswith("Bearer ")
    assert order_request.headers["content-type"] == "application/json"
    assert body_of(order_request) == {
        "notifyUrl": "https://hooks.example/webhooks/payments/payu",
        "continueUrl": "https://shop.example/return/ord_1",
        "customerIp": "203.0.113.7",
        "merchantPosId": POS,
        "description": "Order 1001",
        "currencyCode": "PLN",
        "totalAmount": "12345",
        "extOrderId": "ord_1/2",
        "buyer": {
            "email": "jan@example.pl",
            "phone": "+48123123123",
            "firstName": "Jan",
            "lastName": "Maria Kowalski",
            "language": "pl",
        },
        "products": [
            {"name": "Mug", "unitPrice": "5000", "quantity": "2"},
            {"name": "Shipping", "unitPrice": "2345", "quantity": "1"},
        ],
        "payMethods": {"payMethod": {"type": "PBL", "value": "blik"}},
    }
    # PayU answered 302 (not followed): the order is the session, and its notifications' id
    assert created.reference == "ord_1/2"
    assert created.session_id == created.payment_id
    assert created.redirect_url.startswith("http://payu-simulator.invalid/pay/?orderId=")
    assert created.provider_data == {"payu_order_id": created.session_id, "ext_order_id": "ord_1/2"}


@pytest.mark.parametrize(
    "lines",
    [
        (),
        (SessionLine("Mug", 1, Money(amount=5000, currency="PLN")),),  # a partial payment
        (SessionLine("Mug", 1, Money(amount=12345, currency="EUR")),),
    ],
)
def test_one_product_line_carries_the_amount_when_the_lines_do_not(
    lines: tuple[SessionLine, ...],
) -> None:
    payu = PayU()
    payu.gateway().create_session(session_request(lines=lines))
    (order_request,) = payu.calls("POST", "/api/v2_1/orders")
    assert body_of(order_request)["products"] == [
        {"name": "Order 1001", "unitPrice": "12345", "quantity": "1"}
    ]


def test_no_buyer_section_without_an_email() -> None:
    payu = PayU()
    payu.gateway().create_session(session_request(buyer_email=None))
    assert "buyer" not in body_of(payu.calls("POST", "/api/v2_1/orders")[0])


@pytest.mark.parametrize(
    ("method", "currency", "pay_method"),
    [
        ("card", "PLN", {"type": "PBL", "value": "c"}),
        ("installments", "PLN", {"type": "PBL", "value": "ai"}),
        ("pay_later", "PLN", {"type": "PBL", "value": "dpkl"}),
        ("pay_later", "CZK", {"type": "PBL", "value": "dpcz"}),
        ("apple_pay", "EUR", {"type": "PBL", "value": "jp"}),
        ("google_pay", "EUR", {"type": "PBL", "value": "ap"}),
        ("bank_link", "PLN", None),
        (None, "PLN", None),
    ],
)
def test_each_method_is_asked_for_as_payu_documents_it(
    method: str | None, currency: str, pay_method: dict[str, str] | None
) -> None:
    payu = PayU()
    amount = Money(amount=12345, currency=currency)
    payu.gateway().create_session(session_request(method=method, amount=amount, lines=()))
    body = body_of(payu.calls("POST", "/api/v2_1/orders")[0])
    assert body.get("payMethods") == ({"payMethod": pay_method} if pay_method else None)


@pytest.mark.parametrize(
    ("method", "currency"),
    [("paypal", "PLN"), ("blik", "EUR"), ("installments", "CZK"), ("pay_later", "USD")],
)
def test_a_method_payu_does_not_offer_is_refused_before_any_call(
    method: str, currency: str
) -> None:
    payu = PayU()
    with pytest.raises(UnsupportedMethod):
        payu.gateway().create_session(
            session_request(method=method, amount=Money(amount=100, currency=currency), lines=())
        )
    assert payu.seen == []


def test_an_amount_payu_cannot_express_is_refused() -> None:
    payu = PayU()
    with pytest.raises(GatewayRejected) as refused:
        payu.gateway().create_session(
            session_request(method=None, amount=Money(amount=100, currency="JPY"), lines=())
        )
    assert refused.value.code == "unsupported_currency"


def test_a_repeated_attempt_is_the_same_session() -> None:
    # Given a session opened by one gateway
    payu = PayU()
    first = payu.gateway().create_session(session_request())
    # When the same gateway is asked again, Then PayU is not asked again
    gateway = payu.gateway()
    gateway.create_session(session_request())
    assert gateway.create_session(session_request()) == gateway.create_session(session_request())
    # When another gateway (another process) asks: PayU refuses the extOrderId, the gateway
    # retrieves the order it names and answers with the same order
    fresh = payu.gateway().create_session(session_request())
    assert (fresh.session_id, fresh.reference, fresh.provider_data) == (
        first.session_id,
        first.reference,
        first.provider_data,
    )
    # PayU does not give the payment page again: the buyer goes to the return page
    assert fresh.redirect_url == "https://shop.example/return/ord_1"
    assert len(payu.calls("GET", f"/api/v2_1/orders/{first.session_id}")) >= 1


def test_a_repeat_with_another_amount_is_refused() -> None:
    payu = PayU()
    gateway = payu.gateway()
    gateway.create_session(session_request())
    other = session_request(amount=Money(amount=999, currency="PLN"))
    with pytest.raises(GatewayRejected, match="already registered") as refused:
        payu.gateway().create_session(other)
    assert refused.value.code == "ERROR_ORDER_NOT_UNIQUE"
    with pytest.raises(GatewayRejected, match="was opened for") as remembered:
        gateway.create_session(other)
    assert remembered.value.code == "ERROR_ORDER_NOT_UNIQUE"


def test_not_unique_without_an_order_id_is_refused() -> None:
    payu = PayU(
        override=lambda r: (
            payu_error(400, "ERROR_ORDER_NOT_UNIQUE")
            if r.method == "POST" and r.url.path == "/api/v2_1/orders"
            else None
        )
    )
    with pytest.raises(GatewayRejected, match="documents no lookup") as refused:
        payu.gateway().create_session(session_request())
    assert refused.value.code == "ERROR_ORDER_NOT_UNIQUE"


def test_the_redirect_may_come_in_the_location_header_only() -> None:
    def created(request: httpx.Request) -> httpx.Response | None:
        if request.method == "POST" and request.url.path == "/api/v2_1/orders":
            return httpx.Response(
                302,
                json={"status": {"statusCode": "SUCCESS"}, "orderId": "ORD1"},
                headers={"Location": "https://secure.snd.payu.com/pay/?orderId=ORD1&token=t"},
            )
        return None

    session = PayU(override=created).gateway().create_session(session_request())
    assert (session.session_id, session.redirect_url) == (
        "ORD1",
        "https://secure.snd.payu.com/pay/?orderId=ORD1&token=t",
    )


def test_a_302_without_a_json_body_is_read_from_its_location() -> None:
    location = "https://secure.snd.payu.com/pay/?orderId=ORD2&token=t"

    def created(request: httpx.Request) -> httpx.Response | None:
        if request.method == "POST" and request.url.path == "/api/v2_1/orders":
            return httpx.Response(302, text="<html>Found</html>", headers={"Location": location})
        return None

    session = PayU(override=created).gateway().create_session(session_request())
    assert (session.session_id, session.redirect_url) == ("ORD2", location)


# -- OAuth ----------------------------------------------------------------------------------------


def test_the_token_is_cached_until_a_minute_before_it_expires() -> None:
    payu, clock = PayU(), Clock()
    gateway = payu.gateway(clock)
    gateway.create_session(session_request(attempt=1))
    clock.now += 43199 - 61
    gateway.create_session(session_request(attempt=2))
    assert len(payu.calls("POST", "/oauth/authorize")) == 1
    clock.now += 2
    gateway.create_session(session_request(attempt=3))
    assert len(payu.calls("POST", "/oauth/authorize")) == 2


def test_a_revoked_token_is_replaced_once() -> None:
    payu = PayU()
    gateway = payu.gateway()
    gateway.create_session(session_request(attempt=1))
    payu.simulator.revoke_tokens()
    gateway.create_session(session_request(attempt=2))
    assert len(payu.calls("POST", "/oauth/authorize")) == 2
    statuses = [r.url.path for r in payu.seen]
    assert statuses.count("/api/v2_1/orders") == 3  # the 401, then the retry


def test_a_401_with_a_new_token_too_is_refused() -> None:
    payu = PayU(
        override=lambda r: (
            payu_error(401, "UNAUTHORIZED") if r.url.path.startswith("/api") else None
        )
    )
    with pytest.raises(GatewayRejected) as refused:
        payu.gateway().create_session(session_request())
    assert refused.value.code == "UNAUTHORIZED"
    assert len(payu.calls("POST", "/oauth/authorize")) == 2


def test_wrong_client_credentials_are_refused() -> None:
    payu = PayU()
    with pytest.raises(GatewayRejected, match="PayU OAuth: HTTP 401"):
        payu.gateway(client_secret="wrong").create_session(session_request())


def test_a_pos_the_token_is_not_for_is_refused() -> None:
    payu = PayU()
    with pytest.raises(GatewayRejected) as refused:
        payu.gateway(pos_id="145227").create_session(session_request())
    assert refused.value.code == "ERROR_VALUE_INVALID/INVALID_AUTH_FOR_THIS_ORDER"


# -- error mapping --------------------------------------------------------------------------------


def answer_orders_with(response: Callable[[], httpx.Response]) -> PayU:
    def override(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.startswith("/api"):
            return response()
        return None

    return PayU(override=override)


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        (lambda: payu_error(400, "ERROR_VALUE_INVALID"), "ERROR_VALUE_INVALID"),
        (lambda: payu_error(400, "ERROR_VALUE_MISSING"), "ERROR_VALUE_MISSING"),
        (
            lambda: payu_error(400, "BUSINESS_ERROR", "ERROR_VALUE_INVALID"),
            "BUSINESS_ERROR/ERROR_VALUE_INVALID",  # "Order was rejected by antifraud system"
        ),
        (lambda: payu_error(403, "UNAUTHORIZED_REQUEST"), "UNAUTHORIZED_REQUEST"),
        (lambda: payu_error(404, "DATA_NOT_FOUND"), "DATA_NOT_FOUND"),
        (lambda: httpx.Response(400, text="<html>bad</html>"), "400"),
    ],
)
def test_a_final_refusal_is_gateway_rejected_with_payus_code(
    answer: Callable[[], httpx.Response], code: str
) -> None:
    with pytest.raises(GatewayRejected) as refused:
        answer_orders_with(answer).gateway().create_session(session_request())
    assert refused.value.code == code


@pytest.mark.parametrize(
    "answer",
    [
        lambda: payu_error(500, "ERROR_INTERNAL"),
        lambda: payu_error(500, "BUSINESS_ERROR"),
        lambda: payu_error(503, "SERVICE_NOT_AVAILABLE"),
        lambda: payu_error(408, "TIMEOUT"),
        lambda: httpx.Response(429),
        lambda: httpx.Response(200, text="not json"),
        lambda: httpx.Response(302, json={"status": {"statusCode": "SUCCESS"}}),
    ],
)
def test_a_temporary_failure_is_gateway_unavailable(answer: Callable[[], httpx.Response]) -> None:
    with pytest.raises(GatewayUnavailable):
        answer_orders_with(answer).gateway().create_session(session_request())


@pytest.mark.parametrize("error", [httpx.ReadTimeout("slow"), httpx.ConnectError("refused")])
def test_transport_errors_are_gateway_unavailable(error: httpx.HTTPError) -> None:
    def fail(_: httpx.Request) -> httpx.Response:
        raise error

    payu = PayU(override=fail)
    with pytest.raises(GatewayUnavailable):
        payu.gateway().create_session(session_request())


def test_an_oauth_outage_is_gateway_unavailable() -> None:
    payu = PayU(override=lambda r: httpx.Response(500) if "oauth" in r.url.path else None)
    with pytest.raises(GatewayUnavailable, match="PayU OAuth: HTTP 500"):
        payu.gateway().create_session(session_request())


# -- capture --------------------------------------------------------------------------------------


def authorized_payment(order_id: str) -> PaymentEvent:
    return PaymentEvent(
        provider="payu",
        provider_event_id=f"{order_id}:WAITING_FOR_CONFIRMATION",
        payment_id=order_id,
        order_id="ord_1",
        attempt=2,
        status=PaymentStatus.AUTHORIZED,
        amount=Money(amount=12345, currency="PLN"),
        occurred_at=NOW,
        needs_capture=True,
        provider_data={"payu_order_id": order_id, "ext_order_id": "ord_1/2"},
    )


def test_capture_confirms_the_order_and_the_notification_will_say_paid() -> None:
    payu = PayU()
    payu.simulator.auto_receive = False
    gateway = payu.gateway()
    session = gateway.create_session(session_request())
    payu.simulator.pay(session.session_id, notify=False)

    assert gateway.capture(authorized_payment(session.session_id)) is None

    (put,) = payu.calls("PUT", "/status")
    assert put.url.path == f"/api/v2_1/orders/{session.session_id}/status"
    assert body_of(put) == {"orderId": session.session_id, "orderStatus": "COMPLETED"}
    assert payu.simulator.order(session.session_id)["status"] == "COMPLETED"
    # repeating it is safe: PayU refuses, the order is COMPLETED already
    assert gateway.capture(authorized_payment(session.session_id)) is None


def test_capturing_a_cancelled_order_reports_it_cancelled() -> None:
    payu = PayU()
    gateway = payu.gateway()
    session = gateway.create_session(session_request())
    payu.simulator.fail(session.session_id, notify=False)
    captured = gateway.capture(authorized_payment(session.session_id))
    assert captured is not None
    assert (captured.status, captured.provider_event_id) == (
        PaymentStatus.CANCELLED,
        f"{session.session_id}:CANCELED",
    )


# -- refunds --------------------------------------------------------------------------------------


def refund_request(order_id: str, amount: int = 2000, refund_id: str = "rf_1") -> RefundRequest:
    return RefundRequest(
        refund_id=refund_id,
        order_id="ord_1",
        payment_id=order_id,
        amount=Money(amount=amount, currency="PLN"),
        reason="Returned mug",
        notify_url="https://hooks.example/webhooks/payments/payu",
        provider_data={"payu_order_id": order_id, "ext_order_id": "ord_1/2"},
    )


def test_a_refund_is_asked_for_as_documented_and_repeats_are_the_same_refund() -> None:
    payu = PayU()
    payu.simulator.hold_refunds = True
    gateway = payu.gateway()
    order_id = paid_order(payu, gateway)

    accepted = gateway.refund(refund_request(order_id))
    again = gateway.refund(refund_request(order_id))

    assert accepted.status is RefundStatus.PENDING and accepted.provider_refund_id
    assert again == accepted
    first = payu.calls("POST", "/refunds")[0]
    assert first.url.path == f"/api/v2_1/orders/{order_id}/refunds"
    assert body_of(first) == {
        "refund": {
            "description": "Returned mug",
            "amount": "2000",
            "extRefundId": "rf_1",
            "currencyCode": "PLN",
        }
    }


def test_refund_limits_are_payus_final_word() -> None:
    payu = PayU()
    payu.simulator.hold_refunds = True
    gateway = payu.gateway()
    order_id = paid_order(payu, gateway)
    with pytest.raises(GatewayRejected) as refused:
        gateway.refund(refund_request(order_id, amount=99_999))
    assert refused.value.code == "ERROR_VALUE_INVALID/AMOUNT_TO_BIG"
    gateway.refund(refund_request(order_id))
    with pytest.raises(GatewayRejected) as mismatch:
        gateway.refund(refund_request(order_id, amount=1000))
    assert mismatch.value.code == "ERROR_VALUE_INVALID/REFUND_IDEMPOTENCY_MISMATCH"


def test_a_duplicate_ext_refund_id_refusal_is_resolved_from_the_refund_list() -> None:
    # Given PayU answers a repeated extRefundId with REFUND_OUTER_ID_NOT_UNIQUE
    payu = PayU()
    payu.simulator.hold_refunds = True
    gateway = payu.gateway()
    order_id = paid_order(payu, gateway)
    first = gateway.refund(refund_request(order_id))
    payu.override = lambda r: (
        payu_error(400, "ERROR_VALUE_INVALID", "REFUND_OUTER_ID_NOT_UNIQUE")
        if r.method == "POST" and r.url.path.endswith("/refunds")
        else None
    )
    # Then the refund is the one PayU lists under that extRefundId
    assert gateway.refund(refund_request(order_id)) == first
    assert payu.calls("GET", f"/api/v2_1/orders/{order_id}/refunds")
    with pytest.raises(GatewayRejected):
        gateway.refund(refund_request(order_id, refund_id="rf_unknown"))


def test_refund_status_by_payus_id_or_by_orderhubs() -> None:
    payu = PayU()
    payu.simulator.hold_refunds = True
    gateway = payu.gateway()
    order_id = paid_order(payu, gateway)
    accepted = gateway.refund(refund_request(order_id))
    lookup = RefundLookup(
        refund_id="rf_1",
        order_id="ord_1",
        payment_id=order_id,
        amount=Money(amount=2000, currency="PLN"),
        provider_refund_id=accepted.provider_refund_id,
    )
    pending = gateway.refund_status(lookup)
    assert pending is not None and pending.status is RefundStatus.PENDING
    payu.simulator.complete_refund(str(accepted.provider_refund_id), notify=False)
    done = gateway.refund_status(lookup)
    assert done is not None
    assert (done.status, done.refund_id, done.order_id, done.payment_id) == (
        RefundStatus.COMPLETED,
        "rf_1",
        "ord_1",
        order_id,
    )
    assert done.provider_event_id == f"refund:{accepted.provider_refund_id}:FINALIZED"
    by_ours = gateway.refund_status(
        RefundLookup(
            refund_id="rf_1",
            order_id="ord_1",
            payment_id=order_id,
            amount=Money(amount=2000, currency="PLN"),
        )
    )
    assert by_ours == done
    unknown = RefundLookup(
        refund_id="rf_2",
        order_id="ord_1",
        payment_id=order_id,
        amount=Money(amount=1, currency="PLN"),
    )
    assert gateway.refund_status(unknown) is None
    assert (
        gateway.refund_status(
            RefundLookup(
                refund_id="rf_2",
                order_id="ord_1",
                payment_id=order_id,
                amount=Money(amount=1, currency="PLN"),
                provider_refund_id="1",
            )
        )
        is None
    )


def test_a_retrieved_refund_may_come_wrapped() -> None:
    refund = {
        "refundId": "5",
        "extRefundId": "rf_5",
        "amount": "700",
        "currencyCode": "PLN",
        "status": "CANCELED",
        "statusDateTime": "2026-05-06T09:00:00.000+02:00",
        "statusError": {"code": "BANK_DECLINED", "description": "The bank declined"},
    }
    payu = PayU(
        override=lambda r: (
            httpx.Response(200, json={"refund": refund}) if "/refunds/" in r.url.path else None
        )
    )
    found = payu.gateway().refund_status(
        RefundLookup(
            refund_id="rf_5",
            order_id="ord_1",
            payment_id="ORD9",
            amount=Money(amount=700, currency="PLN"),
            provider_refund_id="5",
        )
    )
    assert found is not None
    assert (found.status, found.failure_reason) == (RefundStatus.FAILED, "The bank declined")
    assert found.occurred_at == datetime(2026, 5, 6, 7, 0, tzinfo=UTC)


# -- session status -------------------------------------------------------------------------------


def lookup_of(order_id: str) -> SessionLookup:
    return SessionLookup(
        order_id="ord_1",
        attempt=2,
        session_id=order_id,
        reference="ord_1/2",
        amount=Money(amount=12345, currency="PLN"),
        payment_id=order_id,
        provider_data={"payu_order_id": order_id, "ext_order_id": "ord_1/2"},
    )


def test_session_status_maps_the_order_as_its_notification_would() -> None:
    payu = PayU()
    payu.simulator.auto_receive = False
    gateway = payu.gateway()
    session = gateway.create_session(session_request())
    assert gateway.session_status(lookup_of(session.session_id)) is None  # NEW
    payu.simulator.pay(session.session_id, method="card", notify=False)
    found = gateway.session_status(lookup_of(session.session_id))
    assert found is not None
    assert (found.status, found.needs_capture, found.method) == (
        PaymentStatus.AUTHORIZED,
        True,
        "card",
    )
    assert found.provider_event_id == f"{session.session_id}:WAITING_FOR_CONFIRMATION"
    assert (found.order_id, found.attempt, found.occurred_at) == ("ord_1", 2, NOW)
    assert (
        payu.calls("GET", f"/api/v2_1/orders/{session.session_id}")[0].url.path
        == f"/api/v2_1/orders/{session.session_id}"
    )


def test_session_status_of_an_order_payu_does_not_know_is_none() -> None:
    assert PayU().gateway().session_status(lookup_of("NOPE")) is None


def test_an_unknown_order_status_is_not_taken_for_nothing() -> None:
    answer = {
        "orders": [
            {
                "orderId": "O",
                "extOrderId": "ord_1/2",
                "currencyCode": "PLN",
                "totalAmount": "1",
                "status": "SOMETHING",
            }
        ]
    }
    payu = PayU(override=lambda r: httpx.Response(200, json=answer) if r.method == "GET" else None)
    with pytest.raises(GatewayRejected) as refused:
        payu.gateway().session_status(lookup_of("O"))
    assert refused.value.code == "unknown_status"


# -- configuration and amounts --------------------------------------------------------------------


def test_the_secret_names_the_host() -> None:
    http = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(500)))
    base = {k: v for k, v in SECRET.items() if k != "api_url"}
    assert PayUGateway.from_secret(base, http)._base == "https://secure.snd.payu.com"
    production = {**base, "environment": "production"}
    assert PayUGateway.from_secret(production, http)._base == "https://secure.payu.com"
    as_contract: PaymentGateway = PayUGateway.from_secret(SECRET, http)  # mypy checks it
    assert as_contract.provider == "payu" and as_contract.methods <= METHODS
    assert PayUGateway.from_secret(SECRET, http)._base == "http://payu.test"
    with pytest.raises(GatewayRejected, match="client_secret") as refused:
        PayUGateway.from_secret({**SECRET, "client_secret": ""}, http)
    assert refused.value.code == "not_configured"


def test_payu_amounts_are_strings_of_hundredths() -> None:
    assert to_payu_amount(Money(amount=15516, currency="PLN")) == "15516"
    assert to_payu_amount(Money(amount=100, currency="HUF")) == "100"
    assert from_payu_amount("200", "pln") == Money(amount=200, currency="PLN")
    assert from_payu_amount(200, "EUR") == Money(amount=200, currency="EUR")
    for value, currency in [
        ("2.00", "PLN"),
        ("-1", "PLN"),
        (True, "PLN"),
        ("1", "JPY"),
        ("1", "KWD"),
        ("1", "P1"),
    ]:
        with pytest.raises(UnrepresentableAmount):
            from_payu_amount(value, currency)
    with pytest.raises(UnrepresentableAmount):
        to_payu_amount(Money(amount=1, currency="JPY"))


def test_the_simulator_cancels_an_unpaid_order_and_guards_its_payment_page() -> None:
    payu = PayU()
    gateway = payu.gateway()
    session = gateway.create_session(session_request())
    token = gateway._access_token()
    page = session.redirect_url.removeprefix("http://payu-simulator.invalid")
    assert payu.simulator.answer("GET", page, {}, b"").status == 200
    forged = page.rsplit("token=", 1)[0] + "token=forged"
    assert payu.simulator.answer("GET", forged, {}, b"").status == 404
    path = f"/api/v2_1/orders/{session.session_id}"
    cancelled = payu.simulator.answer("DELETE", path, {"Authorization": f"Bearer {token}"}, b"")
    assert cancelled.status == 200 and cancelled.then is not None  # its notification follows
    assert payu.simulator.order(session.session_id)["status"] == "CANCELED"
    again = payu.simulator.answer("DELETE", path, {"Authorization": f"Bearer {token}"}, b"")
    assert again.status == 400
    assert payu.simulator.answer("DELETE", path, {}, b"").status == 401
