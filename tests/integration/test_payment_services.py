"""The payment services' rules on moto with a provider that is a fake gateway: payment sessions
reused or started anew, the reconciler repairing and abandoning sessions, disputes, and refunds
made in a provider's panel."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from shared.kernel.events import EventType
from shared.kernel.money import Money
from shared.orders.domain import OrderStatus, PaymentMethod
from shared.orders.wiring import order_store
from shared.payments.domain import (
    DisputeEvent,
    PaymentEvent,
    PaymentStatus,
    RefundEvent,
    RefundStatus,
)
from shared.payments.gateway import (
    CreatedSession,
    GatewayUnavailable,
    RefundAccepted,
    RefundLookup,
    RefundRequest,
    SessionLookup,
    SessionRequest,
    UnsupportedMethod,
)
from shared.payments.reconciliation import PaymentReconciler
from shared.payments.refunds import RefundRecords, RefundRefused, RefundService
from shared.payments.service import PaymentService
from shared.payments.sessions import NotPayable, SessionRecord, SessionRecords, SessionService
from shared.payments.store import PaymentRecords
from shared.payments.wiring import payment_service, refund_service
from shared.platform.blobs import MemoryBlobs
from shared.platform.clock import utc_now
from shared.platform.wiring import Platform
from tests.builders import a_payment, an_order
from tests.integration.conftest import Services

MUG = "MUG-KRAKOW-350"
TOTAL = 4900
RETURN_URL = "https://shop.example/orders/thanks"
START = datetime.now(UTC).replace(microsecond=0)


@dataclass
class FakeGateway:
    """A provider as the services see it: sessions it opened, payments a lookup finds."""

    provider: str
    methods: frozenset[str] = frozenset({"card", "blik"})
    created: list[SessionRequest] = field(default_factory=list)
    found: dict[str, PaymentEvent] = field(default_factory=dict)  # session id -> payment
    lookups: list[SessionLookup] = field(default_factory=list)
    unavailable: bool = False

    def create_session(self, request: SessionRequest) -> CreatedSession:
        self.created.append(request)
        session_id = f"{self.provider}-{request.order_id}-{request.attempt}"
        return CreatedSession(
            session_id=session_id,
            redirect_url=f"https://pay.example/{session_id}",
            reference=f"{request.order_id}/{request.attempt}",
        )

    def capture(self, payment: PaymentEvent) -> PaymentEvent | None:
        raise AssertionError("nothing here needs a capture")

    def refund(self, request: RefundRequest) -> RefundAccepted:
        return RefundAccepted(status=RefundStatus.PENDING, provider_refund_id=request.refund_id)

    def session_status(self, session: SessionLookup) -> PaymentEvent | None:
        self.lookups.append(session)
        if self.unavailable:
            raise GatewayUnavailable("HTTP 503")
        return self.found.get(session.session_id)

    def refund_status(self, refund: RefundLookup) -> RefundEvent | None:
        return None


@dataclass
class World:
    services: Services
    gateways: dict[str, FakeGateway]
    payments: PaymentService
    sessions: SessionService
    refunds: RefundService
    reconciler: PaymentReconciler

    def awaiting_payment(self, **order: object) -> str:
        self.services.stock.set_on_hand(MUG, "WAW-1", 100, at=utc_now())
        order_id = self.services.intake.receive(
            an_order((MUG, 1, TOTAL), **order),  # type: ignore[arg-type]
            actor="test",
            event_id="wh-1",
        )
        self.services.fulfilment.reserve_stock(order_id)
        if self.status(order_id) is OrderStatus.AWAITING_PAYMENT:
            self.services.fulfilment.await_payment(order_id, f"token-{order_id}", 3600)
        return order_id

    def paid(self, payment_id: str = "pi_paid", **data: str) -> str:
        order_id = self.awaiting_payment()
        payment = a_payment(order_id, TOTAL, payment_id=payment_id)
        if data:
            payment = payment.model_copy(update={"provider_data": data})
        self.payments.report(payment, actor="stripe webhook")
        assert self.status(order_id) is OrderStatus.PAID
        return order_id

    def open(
        self, order_id: str, provider: str = "stripe", method: str | None = "card"
    ) -> SessionRecord:
        return self.sessions.open(order_id, provider=provider, method=method, return_url=RETURN_URL)

    def status(self, order_id: str) -> OrderStatus:
        state = self.services.orders.get(order_id)
        assert state is not None
        return state.status

    def attention(self, order_id: str) -> str | None:
        state = self.services.orders.get(order_id)
        assert state is not None
        return state.attention

    def events(self, order_id: str) -> list[EventType]:
        items = self.services.orders.partition(order_id)
        entries = sorted((i for i in items if i["SK"].startswith("EVENT#")), key=lambda i: i["SK"])
        return [EventType(i["event_type"]) for i in entries]

    def session_states(self, order_id: str) -> dict[int, str]:
        return {s.attempt: s.state for s in self.sessions.sessions.of_order(order_id)}


@pytest.fixture
def world(services: Services) -> World:
    gateways = {name: FakeGateway(name) for name in ("stripe", "payu")}
    platform = Platform(table=services.table, blobs=MemoryBlobs(), workflows=services.workflow)
    payments = payment_service(platform, accept_test_payments=False, gateways=gateways.__getitem__)
    sessions = SessionService(
        orders=order_store(platform),
        records=PaymentRecords(services.table),
        sessions=SessionRecords(services.table),
        gateways=gateways.__getitem__,
        notify_url=lambda name: f"https://hub.example/webhooks/payments/{name}",
        now=lambda: START,
    )
    refunds = refund_service(platform, gateways.__getitem__, "https://hub.example")
    reconciler = PaymentReconciler(
        payments=payments,
        refunds=refunds,
        sessions=SessionRecords(services.table),
        refund_records=RefundRecords(services.table),
        gateways=gateways.__getitem__,
    )
    return World(services, gateways, payments, sessions, refunds, reconciler)


def payment_of(
    session: SessionRecord,
    status: PaymentStatus = PaymentStatus.SUCCEEDED,
    *,
    amount: int | None = None,
    event_id: str | None = None,
) -> PaymentEvent:
    """The payment of a session, as its provider reports it (by notification or lookup)."""
    return PaymentEvent(
        provider=session.provider,
        provider_event_id=event_id or f"evt-{session.session_id}-{status.value}",
        payment_id=f"pay-{session.session_id}",
        order_id=session.order_id,
        attempt=session.attempt,
        status=status,
        amount=Money(amount=session.amount.amount if amount is None else amount, currency="PLN"),
        method=session.method,
        occurred_at=START,
    )


# -- payment sessions -----------------------------------------------------------------------------


def test_the_same_provider_and_method_get_the_same_session(world: World) -> None:
    order_id = world.awaiting_payment()
    first = world.open(order_id)
    again = world.open(order_id)
    assert (again.attempt, again.session_id, again.state) == (1, first.session_id, "open")
    assert len(world.gateways["stripe"].created) == 1
    assert first.amount == Money(amount=TOTAL, currency="PLN")


def test_a_failed_payment_starts_attempt_two(world: World) -> None:
    order_id = world.awaiting_payment()
    first = world.open(order_id)
    world.payments.report(payment_of(first, PaymentStatus.FAILED), actor="stripe webhook")
    assert world.session_states(order_id) == {1: "failed"}

    second = world.open(order_id)

    assert (second.attempt, second.reference) == (2, f"{order_id}/2")
    assert second.session_id != first.session_id
    assert [r.attempt for r in world.gateways["stripe"].created] == [1, 2]
    assert world.open(order_id).session_id == second.session_id


def test_another_method_starts_a_new_attempt_and_the_first_stays_open(world: World) -> None:
    order_id = world.awaiting_payment()
    card = world.open(order_id, method="card")
    blik = world.open(order_id, method="blik")
    assert (card.attempt, blik.attempt) == (1, 2)
    # Back to the card: its attempt is still open for the same amount
    assert world.open(order_id, method="card").session_id == card.session_id
    assert world.open(order_id, method="blik").session_id == blik.session_id
    assert len(world.gateways["stripe"].created) == 2


def test_another_provider_starts_a_new_attempt(world: World) -> None:
    order_id = world.awaiting_payment()
    stripe = world.open(order_id, "stripe", "blik")
    payu = world.open(order_id, "payu", "blik")
    assert (stripe.attempt, payu.attempt) == (1, 2)
    assert (len(world.gateways["stripe"].created), len(world.gateways["payu"].created)) == (1, 1)


def test_a_part_paid_elsewhere_starts_a_new_attempt_for_what_is_left(world: World) -> None:
    order_id = world.awaiting_payment()
    first = world.open(order_id, "payu", "blik")
    # A gift card pays 3000 on Stripe
    world.payments.report(a_payment(order_id, 3000, payment_id="pi_gift"), actor="stripe")
    assert world.status(order_id) is OrderStatus.AWAITING_PAYMENT

    rest = world.open(order_id, "payu", "blik")

    assert rest.attempt == first.attempt + 1
    assert rest.amount == Money(amount=TOTAL - 3000, currency="PLN")
    assert world.gateways["payu"].created[-1].amount == rest.amount


def test_a_paid_order_or_cash_on_delivery_takes_no_session(world: World) -> None:
    paid = world.paid()
    with pytest.raises(NotPayable):
        world.open(paid)
    cod = world.awaiting_payment(payment_method=PaymentMethod.CASH_ON_DELIVERY)
    with pytest.raises(NotPayable):
        world.open(cod)
    assert world.gateways["stripe"].created == []


def test_a_method_the_provider_does_not_offer_is_refused_before_any_call(world: World) -> None:
    order_id = world.awaiting_payment()
    with pytest.raises(UnsupportedMethod):
        world.open(order_id, method="installments")
    assert world.gateways["stripe"].created == []
    assert world.session_states(order_id) == {}


# -- the reconciler -------------------------------------------------------------------------------


def test_the_reconciler_repairs_a_session_whose_payment_the_provider_has(world: World) -> None:
    # Given a session whose payment the provider took, and whose notification never came
    order_id = world.awaiting_payment()
    session = world.open(order_id)
    gateway = world.gateways["stripe"]
    gateway.found[str(session.session_id)] = payment_of(session)

    # When the reconciler runs before the session is 15 minutes old, nobody is asked
    early = world.reconciler.run(as_of=START + timedelta(minutes=5))
    assert (early.payments_repaired, gateway.lookups) == ([], [])

    # When it runs after
    drift = world.reconciler.run(as_of=START + timedelta(minutes=20))

    # Then the payment is reported through the reducer: the order is paid, once
    assert drift.payments_repaired == [order_id]
    assert world.status(order_id) is OrderStatus.PAID
    assert world.events(order_id).count(EventType.ORDER_PAID) == 1
    assert world.services.workflow.resumed_tokens() == [f"token-{order_id}"]
    # And the session left the watch list
    assert world.session_states(order_id) == {1: "paid"}
    assert world.sessions.sessions.watched(older_than="9999") == []
    # And neither another run nor the late notification changes anything
    again = world.reconciler.run(as_of=START + timedelta(minutes=40))
    assert again.payments_repaired == []
    assert len(gateway.lookups) == 1
    world.payments.report(payment_of(session), actor="stripe webhook")
    assert world.events(order_id).count(EventType.ORDER_PAID) == 1


def test_the_reconciler_abandons_a_session_with_nothing_after_three_days(world: World) -> None:
    order_id = world.awaiting_payment()
    world.open(order_id)

    soon = world.reconciler.run(as_of=START + timedelta(hours=1))
    assert soon.sessions_abandoned == 0
    assert world.session_states(order_id) == {1: "open"}

    later = world.reconciler.run(as_of=START + timedelta(days=3, minutes=1))

    assert later.sessions_abandoned == 1
    assert later.payments_repaired == []
    assert world.session_states(order_id) == {1: "abandoned"}
    assert world.sessions.sessions.watched(older_than="9999") == []
    assert world.status(order_id) is OrderStatus.AWAITING_PAYMENT
    assert world.reconciler.run(as_of=START + timedelta(days=4)).sessions_abandoned == 0


def test_a_provider_that_cannot_answer_leaves_the_session_watched(world: World) -> None:
    order_id = world.awaiting_payment()
    world.open(order_id)
    world.gateways["stripe"].unavailable = True

    drift = world.reconciler.run(as_of=START + timedelta(days=5))

    assert (drift.errors, drift.sessions_abandoned) == (1, 0)
    assert world.session_states(order_id) == {1: "open"}


def test_a_session_abandoned_by_the_reconciler_is_not_handed_out_again(world: World) -> None:
    order_id = world.awaiting_payment()
    first = world.open(order_id)
    world.reconciler.run(as_of=START + timedelta(days=3, minutes=1))
    assert world.session_states(order_id) == {1: "abandoned"}

    again = world.open(order_id)

    assert again.attempt == 2
    assert again.session_id != first.session_id
    assert again.state == "open"


# -- disputes -------------------------------------------------------------------------------------


def a_dispute(
    payment_id: str, *, dispute_id: str = "dp_1", status: str = "needs_response"
) -> DisputeEvent:
    return DisputeEvent(
        provider="stripe",
        provider_event_id=f"evt-{dispute_id}-{status}",
        dispute_id=dispute_id,
        payment_id=payment_id,
        amount=Money(amount=TOTAL, currency="PLN"),
        reason="fraudulent",
        status=status,
        occurred_at=START,
    )


def test_a_dispute_naming_only_its_payment_puts_the_order_on_the_attention_list_once(
    world: World,
) -> None:
    order_id = world.paid("pi_disputed")
    before = world.events(order_id)

    assert world.payments.dispute(a_dispute("pi_disputed"), actor="stripe webhook") == order_id
    # Redelivered, then updated and closed: the same dispute
    for status in ("needs_response", "under_review", "lost"):
        world.payments.dispute(a_dispute("pi_disputed", status=status), actor="stripe webhook")

    assert world.attention(order_id) == "dispute dp_1"
    added = world.events(order_id)[len(before) :]
    assert added == [EventType.PAYMENT_DISPUTED, EventType.ORDER_NEEDS_ATTENTION]


def test_a_dispute_naming_the_charge_finds_the_order_by_its_alias(world: World) -> None:
    order_id = world.paid("pi_charged", charge_id="ch_charged")
    assert world.payments.dispute(a_dispute("ch_charged"), actor="stripe webhook") == order_id
    assert world.attention(order_id) == "dispute dp_1"


def test_a_dispute_of_an_unknown_payment_changes_nothing(world: World) -> None:
    order_id = world.paid("pi_known")
    before = world.events(order_id)
    assert world.payments.dispute(a_dispute("pi_nobody"), actor="stripe webhook") is None
    assert world.events(order_id) == before


def test_a_dispute_is_recorded_once_even_after_another_attention_flag(world: World) -> None:
    order_id = world.paid("pi_disputed")
    world.payments.dispute(a_dispute("pi_disputed"), actor="stripe webhook")
    # A second full payment arrives: money to give back, the order's attention changes
    world.payments.report(a_payment(order_id, TOTAL, payment_id="pi_second"), actor="stripe")
    assert world.attention(order_id) == "already_paid_refund_needed"

    world.payments.dispute(a_dispute("pi_disputed", status="lost"), actor="stripe webhook")

    assert world.events(order_id).count(EventType.PAYMENT_DISPUTED) == 1


# -- refunds made in the provider's panel ---------------------------------------------------------


def a_panel_refund(
    payment_id: str, status: RefundStatus = RefundStatus.COMPLETED, amount: int = 1000
) -> RefundEvent:
    return RefundEvent(
        provider="stripe",
        provider_event_id=f"evt-re_panel-{status.value}",
        payment_id=payment_id,
        provider_refund_id="re_panel",
        status=status,
        amount=Money(amount=amount, currency="PLN"),
        occurred_at=START,
    )


def test_a_refund_made_in_the_providers_panel_is_recorded_once_and_counted(world: World) -> None:
    order_id = world.paid("pi_panel")

    for _ in range(2):  # delivered, then delivered again
        assert world.refunds.report(a_panel_refund("pi_panel"), actor="stripe") == order_id

    (refund,) = world.refunds.refunds.of_order(order_id)
    assert (refund.origin, refund.status, refund.amount.amount) == (
        "provider",
        RefundStatus.COMPLETED,
        1000,
    )
    assert [p.provider_refund_id for p in refund.parts] == ["re_panel"]
    assert world.refunds.refunds.committed(order_id) == {("stripe", "pi_panel"): 1000}
    assert world.events(order_id).count(EventType.REFUND_COMPLETED) == 1
    # It counts: only the rest can still be refunded
    with pytest.raises(RefundRefused):
        world.refunds.request(order_id, amount=TOTAL - 999, reason="too much")
    rest, _ = world.refunds.request(order_id, amount=TOTAL - 1000, reason="the rest")
    assert rest.amount.amount == TOTAL - 1000


def test_a_panel_refund_reported_pending_then_completed_is_one_refund(world: World) -> None:
    order_id = world.paid("pi_panel")

    world.refunds.report(a_panel_refund("pi_panel", RefundStatus.PENDING), actor="stripe")
    world.refunds.report(a_panel_refund("pi_panel", RefundStatus.COMPLETED), actor="stripe")
    world.refunds.report(a_panel_refund("pi_panel", RefundStatus.PENDING), actor="stripe")

    (refund,) = world.refunds.refunds.of_order(order_id)
    assert (refund.origin, refund.status) == ("provider", RefundStatus.COMPLETED)
    assert world.refunds.refunds.committed(order_id) == {("stripe", "pi_panel"): 1000}
    assert world.events(order_id).count(EventType.REFUND_COMPLETED) == 1


def test_a_refund_in_the_orders_currency_never_draws_on_money_in_another(world: World) -> None:
    order_id = world.paid("pi_pln")
    # Later, money in another currency arrives: flagged, it counts for nothing
    euros = a_payment(order_id, TOTAL, payment_id="payu_eur", currency="EUR", provider="payu")
    world.payments.report(euros, actor="payu webhook")
    assert world.attention(order_id) == "currency_mismatch"

    refund, _ = world.refunds.request(order_id, amount=1000, reason="damaged")

    assert refund.amount == Money(amount=1000, currency="PLN")
    assert [(p.provider, p.payment_id) for p in refund.parts] == [("stripe", "pi_pln")]
    with pytest.raises(RefundRefused):
        world.refunds.request(order_id, amount=TOTAL, reason="more PLN than was paid in PLN")
