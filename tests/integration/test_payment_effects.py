"""Every side effect at a payment provider gets a crash point: the provider did it, the process
dies before orderhub saved that it did, the work is retried (the stream redelivers the record,
or the next request comes), and the effect exists once.

The real repositories on moto (tests/integration/conftest.py) and the providers' real gateways
against their simulators over 127.0.0.1; a "crash" is an exception raised right after the
effect. Each retry builds a fresh `Gateways` (a new Lambda container: nothing remembered in
memory survives a crash).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from infra.local.stack import _serialise_dynamodb
from shared.inbox.contract import Headers, WebhookRequest
from shared.inbox.events import PaymentReported
from shared.kernel.events import EventType
from shared.orders.domain import OrderStatus
from shared.payments.domain import PaymentEvent, PaymentStatus, RefundStatus
from shared.payments.gateway import (
    CreatedSession,
    PaymentGateway,
    RefundAccepted,
    RefundLookup,
    RefundRequest,
    SessionLookup,
    SessionRequest,
)
from shared.payments.gateways import GatewayLookup, Gateways
from shared.payments.reconciliation import PaymentReconciler
from shared.payments.refunds import Refund, RefundRecords, RefundRefused, RefundService
from shared.payments.service import PaymentService
from shared.payments.sessions import SessionRecord, SessionRecords, SessionService
from shared.payments.wiring import payment_service, refund_service, session_service
from shared.platform.blobs import MemoryBlobs
from shared.platform.clock import utc_now
from shared.platform.wiring import Platform
from shared.providers.payments.przelewy24.webhook import Przelewy24Webhooks
from shared.registry import provider
from tests.builders import a_payment, an_order
from tests.integration.conftest import Services

MUG = "MUG-KRAKOW-350"
TOTAL = 4900
RETURN_URL = "https://shop.example/orders/thanks"
# Nothing listens there: the simulators' notifications to it fail fast and change nothing.
NOWHERE = "http://127.0.0.1:9"
SECRETS: dict[str, dict[str, str]] = {
    "stripe": {"webhook_secret": "whsec_effects", "api_key": "sk_test_effects"},
    "payu": {
        "pos_id": "300746",
        "second_key": "b6ca15b0d1020e8094d9b5f8d163db54",
        "client_id": "300746",
        "client_secret": "2ee86a66e5d97e3fadc400c9f19b065d",
    },
    "przelewy24": {
        "merchant_id": "312345",
        "pos_id": "312346",
        "crc": "9f8e7d6c5b4a3921",
        "api_key": "b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6",
    },
    "paypal": {
        "client_id": "AYSq3RDGsmBLJE",
        "client_secret": "EGnHDxD_qRPdaLdZz8iCr8N7_MzF",
        "webhook_id": "8PT597110X687430LKGECATA",
    },
}
METHOD = {"stripe": "card", "payu": "blik", "przelewy24": "blik", "paypal": None}


class Crash(Exception):
    """The process dies right after the effect."""


class CrashingGateway:
    """A provider's gateway whose `after` call does its work at the provider, then the process
    dies before the caller sees the answer."""

    def __init__(self, inner: PaymentGateway, after: str) -> None:
        self.inner = inner
        self.after = after
        self.provider = inner.provider
        self.methods = inner.methods

    def _done(self, call: str) -> None:
        if call == self.after:
            raise Crash(f"crashed right after {call}")

    def create_session(self, request: SessionRequest) -> CreatedSession:
        created = self.inner.create_session(request)
        self._done("create_session")
        return created

    def capture(self, payment: PaymentEvent) -> PaymentEvent | None:
        captured = self.inner.capture(payment)
        self._done("capture")
        return captured

    def refund(self, request: RefundRequest) -> RefundAccepted:
        accepted = self.inner.refund(request)
        self._done("refund")
        return accepted

    def session_status(self, session: SessionLookup) -> PaymentEvent | None:
        return self.inner.session_status(session)

    def refund_status(self, refund: RefundLookup) -> Any:
        return self.inner.refund_status(refund)


def crashing(gateways: GatewayLookup, name: str, after: str) -> GatewayLookup:
    def lookup(asked: str) -> PaymentGateway:
        found = gateways(asked)
        return CrashingGateway(found, after) if asked == name else found

    return lookup


class Providers:
    """The simulators, started when first needed, and the secrets pointing at them."""

    def __init__(self) -> None:
        self.http = httpx.Client(timeout=10.0, follow_redirects=False)
        self._simulators: dict[str, Any] = {}

    def simulator(self, name: str) -> Any:
        if name not in self._simulators:
            simulator = provider(name).simulator_class().from_secret(SECRETS[name])
            simulator.start()
            self._simulators[name] = simulator
        return self._simulators[name]

    def secret(self, name: str) -> dict[str, Any]:
        return {**SECRETS[name], "api_url": self.simulator(name).start()}

    def gateways(self) -> Gateways:
        """The gateways of a fresh container (built from the secrets, nothing remembered)."""
        return Gateways({name: name for name in SECRETS}, read_secret=self.secret, http=self.http)

    def refunds_held(self, name: str) -> int:
        """How many refunds the provider holds (each test pays one payment per provider)."""
        return len(self.simulator(name)._refunds)

    def sessions_held(self, name: str) -> list[str]:
        """The provider's ids of the payment sessions it holds."""
        simulator = self.simulator(name)
        held = simulator._transactions if name == "przelewy24" else None
        if held is None:
            held = simulator._sessions if name == "stripe" else simulator._orders
        return list(held)

    def stop(self) -> None:
        for simulator in self._simulators.values():
            simulator.stop()
        self.http.close()


@dataclass
class World:
    services: Services
    providers: Providers

    @property
    def platform(self) -> Platform:
        return Platform(
            table=self.services.table, blobs=MemoryBlobs(), workflows=self.services.workflow
        )

    def payments(self, gateways: GatewayLookup | None = None) -> PaymentService:
        # The simulators' money is test money (Stripe sk_test_, the sandboxes): a sandbox.
        return payment_service(
            self.platform,
            accept_test_payments=True,
            gateways=gateways or self.providers.gateways(),
        )

    def sessions(self, gateways: GatewayLookup | None = None) -> SessionService:
        return session_service(self.platform, gateways or self.providers.gateways(), NOWHERE)

    def refunds(self, gateways: GatewayLookup | None = None) -> RefundService:
        return refund_service(self.platform, gateways or self.providers.gateways(), NOWHERE)

    # -- given ----------------------------------------------------------------------------------
    def awaiting_payment(self, total: int = TOTAL) -> str:
        """An order reserved and waiting for payment, its workflow parked on `token-1`."""
        self.services.stock.set_on_hand(MUG, "WAW-1", 100, at=utc_now())
        order_id = self.services.intake.receive(
            an_order((MUG, 1, total)), actor="test", event_id="wh-1"
        )
        assert self.services.fulfilment.reserve_stock(order_id) == "awaiting_payment"
        self.services.fulfilment.await_payment(order_id, "token-1", 3600)
        return order_id

    def open_session(self, order_id: str, name: str) -> SessionRecord:
        return self.sessions().open(
            order_id, provider=name, method=METHOD[name], return_url=RETURN_URL
        )

    def paid_through(self, order_id: str, name: str) -> PaymentEvent:
        """The buyer pays at the provider; what the provider says of it is reported (and
        captured where the provider wants that)."""
        session = self.open_session(order_id, name)
        self.providers.simulator(name).pay(session.session_id, notify=False)
        gateways = self.providers.gateways()
        found = gateways(name).session_status(session.lookup())
        assert found is not None
        self.payments(gateways).report(found, actor=f"{name} webhook")
        assert self.status(order_id) is OrderStatus.PAID
        return found

    # -- then -----------------------------------------------------------------------------------
    def status(self, order_id: str) -> OrderStatus:
        state = self.services.orders.get(order_id)
        assert state is not None
        return state.status

    def events(self, order_id: str) -> list[EventType]:
        items = self.services.orders.partition(order_id)
        entries = sorted((i for i in items if i["SK"].startswith("EVENT#")), key=lambda i: i["SK"])
        return [EventType(i["event_type"]) for i in entries]

    def refunds_of(self, order_id: str) -> list[Refund]:
        return self.refunds().refunds.of_order(order_id)

    def committed(self, order_id: str) -> dict[tuple[str, str], int]:
        return self.refunds().refunds.committed(order_id)


@pytest.fixture
def providers() -> Iterator[Providers]:
    found = Providers()
    try:
        yield found
    finally:
        found.stop()


@pytest.fixture
def world(services: Services, providers: Providers) -> World:
    return World(services, providers)


def notified(body: bytes) -> PaymentEvent:
    """A Przelewy24 notification as our webhook maps it (signature checked)."""
    adapter = Przelewy24Webhooks()
    request = WebhookRequest(Headers({}), raw_body=body, received_at=datetime.now(UTC))
    adapter.verify(request, SECRETS["przelewy24"])
    event = adapter.parse(request).event
    assert isinstance(event, PaymentReported)
    return event.payment


# -- a. refund dispatch ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["stripe", "payu", "przelewy24", "paypal"])
def test_a_refund_the_provider_accepted_before_the_crash_is_made_once(
    world: World, name: str
) -> None:
    # Given a paid order and a refund committed for part of it
    order_id = world.awaiting_payment()
    world.paid_through(order_id, name)
    refund, created = world.refunds().request(
        order_id, amount=1000, reason="damaged on arrival", idempotency_key="return-1"
    )
    assert created
    ledger = world.committed(order_id)
    assert sum(ledger.values()) == 1000

    # When the provider accepts the refund and the process dies before the refund is saved
    dying = world.refunds(crashing(world.providers.gateways(), name, after="refund"))
    with pytest.raises(Crash):
        dying.dispatch(order_id, refund.refund_id)
    assert world.providers.refunds_held(name) == 1
    (stored,) = world.refunds_of(order_id)
    assert stored.status is RefundStatus.REQUESTED

    # And the stream delivers the refund's INSERT again (a new container)
    sent = world.refunds().dispatch(order_id, refund.refund_id)

    # Then the provider holds one refund: the part id was its idempotency key
    assert sent is not None
    assert sent.status in (RefundStatus.PENDING, RefundStatus.COMPLETED)
    assert world.providers.refunds_held(name) == 1
    (part,) = sent.parts
    assert part.part_id == refund.refund_id
    assert part.provider_refund_id
    # And the order has the one refund, drawn once
    (stored,) = world.refunds_of(order_id)
    assert stored.status is sent.status
    assert world.committed(order_id) == ledger
    events = world.events(order_id)
    assert events.count(EventType.REFUND_REQUESTED) == 1
    assert events.count(EventType.REFUND_COMPLETED) == (
        1 if sent.status is RefundStatus.COMPLETED else 0
    )
    # And a further redelivery changes nothing
    world.refunds().dispatch(order_id, refund.refund_id)
    assert world.providers.refunds_held(name) == 1
    assert world.events(order_id) == events


def test_a_refund_whose_stream_retries_ran_out_is_sent_once_by_the_reconciler(
    world: World,
) -> None:
    order_id = world.awaiting_payment()
    world.paid_through(order_id, "stripe")
    refunds = world.refunds()
    refund, _ = refunds.request(order_id, amount=700, reason="late delivery")
    dying = world.refunds(crashing(world.providers.gateways(), "stripe", after="refund"))
    for _ in range(3):  # every retry of the stream crashed the same way
        with pytest.raises(Crash):
            dying.dispatch(order_id, refund.refund_id)
    assert world.providers.refunds_held("stripe") == 1

    gateways = world.providers.gateways()
    reconciler = PaymentReconciler(
        payments=world.payments(gateways),
        refunds=world.refunds(gateways),
        sessions=SessionRecords(world.services.table),
        refund_records=RefundRecords(world.services.table),
        gateways=gateways,
    )
    reconciler.run(as_of=utc_now() + timedelta(minutes=20))

    (stored,) = world.refunds_of(order_id)
    assert stored.status in (RefundStatus.PENDING, RefundStatus.COMPLETED)
    assert world.providers.refunds_held("stripe") == 1
    assert sum(world.committed(order_id).values()) == 700


# -- b. capture -----------------------------------------------------------------------------------


def test_a_capture_verified_before_the_crash_pays_the_order_once(world: World) -> None:
    # Given an order waiting for payment, and the buyer paid with BLIK at Przelewy24
    order_id = world.awaiting_payment()
    session = world.open_session(order_id, "przelewy24")
    p24 = world.providers.simulator("przelewy24")
    payment = notified(p24.pay(session.session_id, method="blik", notify=False).body)
    assert (payment.status, payment.needs_capture) == (PaymentStatus.AUTHORIZED, True)

    # When the router verifies it at P24 and dies before recording the payment
    dying = world.payments(crashing(world.providers.gateways(), "przelewy24", after="capture"))
    with pytest.raises(Crash):
        dying.report(payment, actor="przelewy24 webhook")
    assert p24.transaction(session.session_id).status == 2  # verified at P24
    assert world.status(order_id) is OrderStatus.AWAITING_PAYMENT
    assert world.services.workflow.resumed == []

    # And the stream delivers the same notification again
    world.payments().report(payment, actor="przelewy24 webhook")

    # Then verify was asked again and answered as verified; the order is paid once
    verifies = [r for r in p24.requests if r.path == "/api/v1/transaction/verify"]
    assert len(verifies) == 2
    assert world.status(order_id) is OrderStatus.PAID
    assert world.events(order_id).count(EventType.ORDER_PAID) == 1
    assert world.services.workflow.resumed == [("token-1", {"order_id": order_id, "paid": True})]
    (record,) = world.services.records.of_order(order_id)
    assert (record.status, record.decision) == (PaymentStatus.SUCCEEDED, "pays_order")
    assert record.payment_id == str(p24.transaction(session.session_id).order_id)
    assert record.amount.amount == TOTAL


def test_a_notification_redelivered_after_its_capture_paid_the_order_flags_nothing(
    world: World,
) -> None:
    # Given the notification was captured and paid the order, and the process died after
    # resuming the workflow (the stream record is not acknowledged)
    order_id = world.awaiting_payment()
    session = world.open_session(order_id, "przelewy24")
    p24 = world.providers.simulator("przelewy24")
    payment = notified(p24.pay(session.session_id, method="blik", notify=False).body)
    world.payments().report(payment, actor="przelewy24 webhook")
    assert world.status(order_id) is OrderStatus.PAID
    before = world.events(order_id)

    # When the stream delivers the same notification again
    world.payments().report(payment, actor="przelewy24 webhook")

    # Then nothing happens: the money was captured, the order is paid
    state = world.services.orders.get(order_id)
    assert state is not None
    assert state.attention is None
    assert world.events(order_id) == before


# -- c. sessions ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["stripe", "payu", "paypal"])
def test_a_session_the_provider_opened_before_the_crash_is_the_one_handed_out(
    world: World, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an order waiting for payment
    order_id = world.awaiting_payment()
    # When the provider opens the session and the process dies before it is recorded
    dying = world.sessions()

    def die(*_: object) -> SessionRecord:
        raise Crash("crashed before SessionRecords.opened")

    monkeypatch.setattr(dying.sessions, "opened", die)
    with pytest.raises(Crash):
        dying.open(order_id, provider=name, method=METHOD[name], return_url=RETURN_URL)
    (held,) = world.providers.sessions_held(name)

    # And the shop asks again (a new container)
    again = world.open_session(order_id, name)

    # Then it gets the session the provider opened first (Stripe and PayPal by their
    # idempotency keys, PayU by the extOrderId it refuses twice), and the provider holds one
    assert (again.attempt, again.state, again.session_id) == (1, "open", held)
    assert world.providers.sessions_held(name) == [held]
    # And asking once more is the same again
    assert world.open_session(order_id, name).session_id == held
    assert world.providers.sessions_held(name) == [held]


def test_a_przelewy24_session_lost_in_a_crash_ends_its_attempt_and_opens_the_next(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    order_id = world.awaiting_payment()
    dying = world.sessions()

    def die(*_: object) -> SessionRecord:
        raise Crash("crashed before SessionRecords.opened")

    monkeypatch.setattr(dying.sessions, "opened", die)
    with pytest.raises(Crash):
        dying.open(order_id, provider="przelewy24", method="blik", return_url=RETURN_URL)
    (lost,) = world.providers.sessions_held("przelewy24")

    # P24 never hands a token out twice: the attempt ends, the next one is opened once
    again = world.open_session(order_id, "przelewy24")
    assert (again.attempt, again.state, again.reference) == (2, "open", f"{order_id}/2")
    assert world.open_session(order_id, "przelewy24").session_id == again.session_id
    assert world.providers.sessions_held("przelewy24") == [lost, again.session_id]
    states = {s.attempt: s.state for s in world.sessions().sessions.of_order(order_id)}
    assert states == {1: "failed", 2: "open"}


# -- d. refunds never exceed what was paid, however many race --------------------------------------


def no_gateways(name: str) -> PaymentGateway:
    raise AssertionError(f"a refund request must not call {name}")


def race_refunds(world: World, order_id: str, amount: int, *, threads: int = 8) -> list[Any]:
    refunds = world.refunds(no_gateways)
    patches: list[Any] = []
    _serialise_dynamodb(patches)  # DynamoDB's conditional writes are atomic; moto's need this

    def ask(index: int) -> Refund | RefundRefused:
        try:
            refund, created = refunds.request(order_id, amount=amount, reason=f"race {index}")
        except RefundRefused as refused:
            return refused
        assert created
        return refund

    try:
        with ThreadPoolExecutor(threads) as pool:
            return list(pool.map(ask, range(threads)))
    finally:
        for patch in patches:
            patch.stop()


def test_concurrent_refunds_of_one_payment_never_exceed_it(world: World) -> None:
    order_id = world.awaiting_payment()
    world.services.payments.report(a_payment(order_id, TOTAL, payment_id="pi_one"), actor="t")

    outcomes = race_refunds(world, order_id, 1700)

    accepted = [o for o in outcomes if isinstance(o, Refund)]
    refused = [o for o in outcomes if isinstance(o, RefundRefused)]
    assert len(accepted) == 2  # a third 1700 would pass 4900
    assert len(accepted) + len(refused) == 8
    assert world.committed(order_id) == {("stripe", "pi_one"): 3400}
    assert sorted(r.refund_id for r in world.refunds_of(order_id)) == sorted(
        r.refund_id for r in accepted
    )
    assert world.events(order_id).count(EventType.REFUND_REQUESTED) == 2


def test_concurrent_refunds_of_a_split_tender_order_never_exceed_either_payment(
    world: World,
) -> None:
    order_id = world.awaiting_payment()
    payments = world.services.payments
    payments.report(a_payment(order_id, 3000, payment_id="pi_gift"), actor="stripe webhook")
    payments.report(
        a_payment(order_id, 1900, payment_id="payu_blik", provider="payu"), actor="payu webhook"
    )
    assert world.status(order_id) is OrderStatus.PAID

    outcomes = race_refunds(world, order_id, 1300)

    accepted = [o for o in outcomes if isinstance(o, Refund)]
    refused = [o for o in outcomes if isinstance(o, RefundRefused)]
    assert len(accepted) == 3  # 3900 of 4900; a fourth would need 5200
    assert len(accepted) + len(refused) == 8
    committed = world.committed(order_id)
    assert committed[("stripe", "pi_gift")] <= 3000
    assert committed[("payu", "payu_blik")] <= 1900
    assert sum(committed.values()) == 3900 <= TOTAL
    # Each accepted refund's parts add up to it, and the ledger is exactly the parts
    drawn: dict[tuple[str, str], int] = {}
    for refund in world.refunds_of(order_id):
        assert sum(p.amount for p in refund.parts) == refund.amount.amount == 1300
        for part in refund.parts:
            key = (part.provider, part.payment_id)
            drawn[key] = drawn.get(key, 0) + part.amount
    assert drawn == committed
    # The newest money went back first: the BLIK payment is drawn on completely
    assert committed[("payu", "payu_blik")] == 1900
