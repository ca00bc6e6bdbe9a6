"""Payment sessions for the own store: open a payment at a provider and send the buyer there.

ORDER#<id> / SESSION#<attempt>   one per attempt (numbered across providers, from 1)

An attempt is claimed in the table before the provider is called, and the provider is called
with that attempt's idempotency key (Stripe Idempotency-Key, PayPal-Request-Id; PayU and
Przelewy24 refuse a merchant reference twice, and their gateways then look the first one up),
so a repeated or concurrent request gets the same session, and a crash between the claim and
the answer is completed by the next request. An open session's item is on the reconciliation
watch list (GSI1PK = PAYWATCH#session) until its payment settles or fails.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from shared.kernel.errors import DomainError, OrderNotFound
from shared.kernel.money import Money
from shared.kernel.time import utc_iso
from shared.orders.domain import OrderStatus
from shared.orders.ports import OrderStore
from shared.orders.store import OrderState, order_pk
from shared.payments.domain import PaymentEvent
from shared.payments.gateway import (
    CreatedSession,
    GatewayRejected,
    SessionLine,
    SessionLookup,
    SessionRequest,
    UnsupportedMethod,
)
from shared.payments.gateways import GatewayLookup
from shared.payments.ports import PaymentRecordStore
from shared.payments.store import PaymentRecord, left_to_pay
from shared.payments.watch import watched_items
from shared.platform.clock import Clock, utc_now
from shared.platform.schema import STATUS_INDEX
from shared.platform.table import ConditionFailed, Item, Table

SESSION_WATCH = "PAYWATCH#session"
# A provider's refusal code for a reference it already holds and will not reopen.
SESSION_EXISTS = "session_exists"
MAX_ATTEMPTS = 20
_PAYABLE = frozenset(
    {
        OrderStatus.RECEIVED,
        OrderStatus.AWAITING_PAYMENT,
        OrderStatus.AWAITING_TRANSFER,
        OrderStatus.BACKORDERED,
    }
)
_ENDED = frozenset({"failed", "cancelled", "abandoned"})


class NotPayable(DomainError):
    """The order cannot take a payment (paid already, cancelled, cash on delivery)."""

    code = "not_payable"


class SessionEnded(DomainError):
    """The attempt was ended by a concurrent request while this one created it."""

    code = "session_ended"


class TooManyAttempts(DomainError):
    code = "too_many_payment_attempts"


def session_sk(attempt: int) -> str:
    return f"SESSION#{attempt:04d}"


@dataclass(frozen=True)
class SessionRecord:
    order_id: str
    attempt: int
    provider: str
    method: str | None
    return_url: str
    amount: Money
    state: str  # creating | open | paid | failed
    created_at: str
    session_id: str | None = None
    redirect_url: str | None = None
    reference: str | None = None
    payment_id: str | None = None
    provider_data: dict[str, str] | None = None

    @classmethod
    def from_item(cls, item: Item) -> SessionRecord:
        return cls(
            order_id=item["order_id"],
            attempt=int(item["attempt"]),
            provider=item["provider"],
            method=item.get("method"),
            return_url=item["return_url"],
            amount=Money(amount=item["amount"], currency=item["currency"]),
            state=item["state"],
            created_at=item["created_at"],
            session_id=item.get("session_id"),
            redirect_url=item.get("redirect_url"),
            reference=item.get("reference"),
            payment_id=item.get("payment_id"),
            provider_data=item.get("provider_data"),
        )

    def lookup(self) -> SessionLookup:
        assert self.session_id is not None
        assert self.reference is not None
        return SessionLookup(
            order_id=self.order_id,
            attempt=self.attempt,
            session_id=self.session_id,
            reference=self.reference,
            amount=self.amount,
            payment_id=self.payment_id,
            provider_data=self.provider_data or {},
        )

    def is_for(self, payment: PaymentRecord | PaymentEvent) -> bool:
        """The payment (a record, or a report of it) is this session's: by attempt where the
        provider carries it back, else by the provider's payment or session id."""
        if payment.provider != self.provider:
            return False
        if payment.attempt is not None:
            return payment.attempt == self.attempt
        return payment.payment_id in {self.payment_id, self.session_id}


class SessionRecords:
    def __init__(self, table: Table) -> None:
        self._table = table

    def of_order(self, order_id: str) -> list[SessionRecord]:
        items = self._table.query_all(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
            ExpressionAttributeValues={
                ":pk": {"S": order_pk(order_id)},
                ":prefix": {"S": "SESSION#"},
            },
            ConsistentRead=True,
        )
        return [SessionRecord.from_item(item) for item in items]

    def claim(self, record: SessionRecord) -> bool:
        """Claim an attempt number; False when someone else holds it."""
        try:
            self._table.put(
                {
                    "PK": order_pk(record.order_id),
                    "SK": session_sk(record.attempt),
                    "type": "payment_session",
                    "order_id": record.order_id,
                    "attempt": record.attempt,
                    "provider": record.provider,
                    **({"method": record.method} if record.method else {}),
                    "return_url": record.return_url,
                    "amount": record.amount.amount,
                    "currency": record.amount.currency,
                    "state": "creating",
                    "created_at": record.created_at,
                },
                condition="attribute_not_exists(PK)",
            )
        except ConditionFailed:
            return False
        return True

    def opened(self, record: SessionRecord, created: CreatedSession) -> SessionRecord:
        fields: dict[str, Any] = {
            ":open": "open",
            ":sid": created.session_id,
            ":url": created.redirect_url,
            ":ref": created.reference,
            ":watch": SESSION_WATCH,
            ":watch_sk": f"{record.created_at}#{record.order_id}#{record.attempt:04d}",
        }
        expression = (
            "SET #state = :open, session_id = :sid, redirect_url = :url, #reference = :ref, "
            f"{STATUS_INDEX}PK = :watch, {STATUS_INDEX}SK = :watch_sk"
        )
        if created.payment_id:
            expression += ", payment_id = :pid"
            fields[":pid"] = created.payment_id
        if created.provider_data:
            expression += ", provider_data = :data"
            fields[":data"] = dict(created.provider_data)
        fields[":creating"] = "creating"
        try:
            self._table.update(
                order_pk(record.order_id),
                session_sk(record.attempt),
                expression,
                # Only a claim still being created opens: one a concurrent request ended
                # (failed, session_exists) stays ended.
                condition="#state = :creating",
                values=fields,
                names={"#state": "state", "#reference": "reference"},
            )
        except ConditionFailed:
            current = self._table.get(
                order_pk(record.order_id), session_sk(record.attempt), consistent=True
            )
            if current is not None and current.get("state") == "open":
                return SessionRecord.from_item(current)
            raise SessionEnded(f"attempt {record.attempt} of {record.order_id} ended") from None
        return SessionRecord(
            **{
                **record.__dict__,
                "state": "open",
                "session_id": created.session_id,
                "redirect_url": created.redirect_url,
                "reference": created.reference,
                "payment_id": created.payment_id,
                "provider_data": dict(created.provider_data) or None,
            }
        )

    def settle(self, order_id: str, attempt: int, state: str) -> None:
        """The session's payment settled (paid) or ended (failed): off the watch list."""
        with contextlib.suppress(ConditionFailed):  # already settled as paid: that stays
            self._table.update(
                order_pk(order_id),
                session_sk(attempt),
                f"SET #state = :state REMOVE {STATUS_INDEX}PK, {STATUS_INDEX}SK",
                condition="attribute_exists(PK) AND #state <> :paid",
                values={":state": state, ":paid": "paid"},
                names={"#state": "state"},
            )

    def watched(self, *, older_than: str, limit: int = 1000) -> list[SessionRecord]:
        """Open sessions created before `older_than`, oldest first (up to `limit` a run)."""
        return [
            SessionRecord.from_item(item)
            for item in watched_items(
                self._table, SESSION_WATCH, older_than=older_than, limit=limit
            )
            if item.get("state") == "open"
        ]


@dataclass
class SessionService:
    orders: OrderStore
    records: PaymentRecordStore
    sessions: SessionRecords
    gateways: GatewayLookup
    notify_url: Any  # Callable[[str], str]: provider -> our webhook URL for it
    now: Clock = utc_now

    def open(
        self,
        order_id: str,
        *,
        provider: str,
        method: str | None,
        return_url: str,
        amount: int | None = None,
    ) -> SessionRecord:
        """A session for `amount` (minor units; a part of a split tender) or, by default, for
        all that is left to pay."""
        state = self._payable(order_id)
        gateway = self.gateways(provider)
        if method is not None and method not in gateway.methods:
            offered = ", ".join(sorted(gateway.methods))
            raise UnsupportedMethod(f"{provider} does not offer {method!r} (it offers {offered})")
        payments = self.records.of_order(order_id)
        outstanding = left_to_pay(state.total.amount, payments)
        if outstanding <= 0:
            raise NotPayable(f"order {order_id} is paid")
        if amount is not None:
            if amount > outstanding:
                raise NotPayable(f"{amount} is more than the {outstanding} left to pay")
            outstanding = amount
        return self._open(state, payments, provider, method, return_url, outstanding)

    def _open(  # noqa: PLR0917 - the checked request, passed on from open
        self,
        state: OrderState,
        payments: list[PaymentRecord],
        provider: str,
        method: str | None,
        return_url: str,
        outstanding: int,
    ) -> SessionRecord:
        order_id = state.order_id
        for _ in range(MAX_ATTEMPTS):
            sessions = self.sessions.of_order(order_id)
            reusable = self._reusable(sessions, payments, provider, method, outstanding)
            if reusable is not None:
                if reusable.state != "creating":
                    return reusable
                try:
                    return self._create(reusable, state.order_id)
                except SessionEnded:
                    continue
                except GatewayRejected as error:
                    self.sessions.settle(order_id, reusable.attempt, "failed")
                    if error.code != SESSION_EXISTS:
                        raise
                    continue
            attempt = max((s.attempt for s in sessions), default=0) + 1
            record = SessionRecord(
                order_id=order_id,
                attempt=attempt,
                provider=provider,
                method=method,
                return_url=return_url,
                amount=Money(amount=outstanding, currency=state.total.currency),
                state="creating",
                created_at=utc_iso(self.now()),
            )
            if self.sessions.claim(record):
                try:
                    return self._create(record, state.order_id)
                except SessionEnded:
                    continue
                except GatewayRejected as error:
                    # Refused for good: this attempt ends, so the next request starts afresh
                    # rather than reusing a claim the provider will refuse again.
                    self.sessions.settle(order_id, record.attempt, "failed")
                    if error.code != SESSION_EXISTS:
                        raise
                    # The provider holds this attempt's reference from an answer we lost and
                    # will not hand its page out again (Przelewy24): the attempt has ended
                    # (above), and the next one gets a new reference.
        raise TooManyAttempts(f"order {order_id} has too many payment attempts")

    def _payable(self, order_id: str) -> OrderState:
        state = self.orders.get(order_id)
        if state is None:
            raise OrderNotFound(order_id)
        if not state.payment_required:
            raise NotPayable(f"order {order_id} is not prepaid: nothing to pay online")
        if state.status not in _PAYABLE:
            raise NotPayable(f"order {order_id} is {state.status.value}: it takes no payment")
        return state

    @staticmethod
    def _reusable(
        sessions: list[SessionRecord],
        payments: list[PaymentRecord],
        provider: str,
        method: str | None,
        outstanding: int,
    ) -> SessionRecord | None:
        """The latest session for the same provider and method, still open for the same
        amount and not ended by a failed or cancelled payment."""
        for session in sorted(sessions, key=lambda s: s.attempt, reverse=True):
            if session.provider != provider or session.method != method:
                continue
            if session.state in _ENDED or session.amount.amount != outstanding:
                return None
            ended = any(session.is_for(p) and p.status.value in _ENDED for p in payments)
            return None if ended else session
        return None

    def _create(self, record: SessionRecord, order_id: str) -> SessionRecord:
        details = self.orders.details(order_id)
        buyer = details.buyer if details is not None else None
        lines = (
            tuple(
                SessionLine(name=line.name, quantity=line.quantity, unit_price=line.unit_price)
                for line in details.lines
            )
            if details is not None
            else ()
        )
        label = details.external_number if details and details.external_number else order_id
        created = self.gateways(record.provider).create_session(
            SessionRequest(
                order_id=order_id,
                attempt=record.attempt,
                amount=record.amount,
                return_url=record.return_url,
                notify_url=self.notify_url(record.provider),
                description=f"Order {label}",
                method=record.method,
                buyer_email=buyer.email if buyer else None,
                buyer_name=buyer.name if buyer else None,
                buyer_phone=buyer.phone if buyer else None,
                lines=lines,
            )
        )
        return self.sessions.opened(record, created)
