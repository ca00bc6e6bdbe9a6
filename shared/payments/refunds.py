"""Refunds: asked through the API, sent through the provider that took the money, completed by
the provider's notification.

ORDER#<id> / REFUND#<refund id>   one per request: amount, reason, status and its parts (one per
                                  payment it draws on), each with the provider's refund id
ORDER#<id> / PAYMENT#...          refund_committed: what refunds not failed have drawn on it

Never more than was paid, whatever the concurrency: a request commits its refund item and the
`refund_committed` of every payment it draws on in one transaction, each conditioned on the
value it read, so two requests racing for the last zloty cannot both win. The item's INSERT
reaches the stream router, which asks the provider (idempotently: the part id is the
provider's idempotency key and the reference it echoes), so a provider outage is retried and
then dead-lettered, never lost. A part that fails gives its amount back.

Split payments are refunded newest first (the last money in goes back first: a gift card
used for the first part of a split tender is the last to be refunded), unless the request
names the payment.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from shared.kernel.errors import ConcurrentModification, DomainError, OrderNotFound
from shared.kernel.money import Money
from shared.kernel.time import utc_iso
from shared.orders.ports import OrderStore
from shared.orders.store import Change, order_pk
from shared.payments.domain import REFUND_RANK, RefundEvent, RefundStatus
from shared.payments.events import RefundCompleted, RefundFailed, RefundRequested
from shared.payments.gateway import GatewayRejected, RefundAccepted, RefundRequest
from shared.payments.gateways import GatewayLookup
from shared.payments.store import PaymentRecord, PaymentRecords, payment_sk
from shared.payments.watch import watched_items
from shared.platform.clock import Clock, utc_now
from shared.platform.observability import logger
from shared.platform.schema import STATUS_INDEX
from shared.platform.table import Item, Table, Transaction, TransactionConflict
from shared.registry import gateway_providers

REFUND_WATCH = "PAYWATCH#refund"
MAX_ATTEMPTS = 8
ACTOR = "refunds"


class RefundRefused(DomainError):
    """The request cannot be met (nothing left to refund, a payment not of this order)."""

    code = "refund_exceeds_paid"


class PaymentNotRecorded(DomainError):
    """A provider reports a refund of a payment orderhub has not recorded (yet)."""

    code = "payment_not_recorded"


class IdempotencyConflict(DomainError):
    """The same Idempotency-Key was used for a different request."""

    code = "idempotency_key_reused"


def refund_sk(refund_id: str) -> str:
    return f"REFUND#{refund_id}"


def part_id(refund_id: str, index: int) -> str:
    """The provider-facing id of a part: the refund id itself for the first (most refunds
    draw on one payment), `<refund id>-<n>` for the others."""
    return refund_id if index == 0 else f"{refund_id}-{index}"


def refund_id_of(part: str) -> str:
    head, dash, tail = part.rpartition("-")
    return head if dash and tail.isdigit() and head.startswith("rf_") else part


@dataclass(frozen=True)
class RefundPart:
    part_id: str
    provider: str
    payment_id: str
    amount: int
    status: RefundStatus
    provider_refund_id: str | None = None
    failure_reason: str | None = None

    def item(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "part_id": self.part_id,
            "provider": self.provider,
            "payment_id": self.payment_id,
            "amount": self.amount,
            "status": self.status.value,
        }
        if self.provider_refund_id:
            out["provider_refund_id"] = self.provider_refund_id
        if self.failure_reason:
            out["failure_reason"] = self.failure_reason
        return out

    @classmethod
    def of(cls, item: dict[str, Any]) -> RefundPart:
        return cls(
            part_id=item["part_id"],
            provider=item["provider"],
            payment_id=item["payment_id"],
            amount=int(item["amount"]),
            status=RefundStatus(item["status"]),
            provider_refund_id=item.get("provider_refund_id"),
            failure_reason=item.get("failure_reason"),
        )


@dataclass(frozen=True)
class Refund:
    refund_id: str
    order_id: str
    amount: Money
    reason: str
    status: RefundStatus
    parts: tuple[RefundPart, ...]
    created_at: str
    updated_at: str
    origin: str = "orderhub"  # or "provider": made in the provider's panel
    request_hash: str | None = None
    version: int = 1

    @classmethod
    def from_item(cls, item: Item) -> Refund:
        return cls(
            refund_id=item["refund_id"],
            order_id=item["order_id"],
            amount=Money(amount=item["amount"], currency=item["currency"]),
            reason=item.get("reason", ""),
            status=RefundStatus(item["status"]),
            parts=tuple(RefundPart.of(p) for p in item.get("parts", [])),
            created_at=item["created_at"],
            updated_at=item["updated_at"],
            origin=item.get("origin", "orderhub"),
            request_hash=item.get("request_hash"),
            version=int(item.get("version", 1)),
        )

    def view(self) -> dict[str, Any]:
        return {
            "refund_id": self.refund_id,
            "status": self.status.value,
            "amount": self.amount.amount,
            "currency": self.amount.currency,
            "reason": self.reason,
            "origin": self.origin,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "parts": [
                {
                    "provider": p.provider,
                    "payment_id": p.payment_id,
                    "amount": p.amount,
                    "status": p.status.value,
                    **(
                        {"provider_refund_id": p.provider_refund_id} if p.provider_refund_id else {}
                    ),
                    **({"failure_reason": p.failure_reason} if p.failure_reason else {}),
                }
                for p in self.parts
            ],
        }


def overall(parts: tuple[RefundPart, ...]) -> RefundStatus:
    """A refund is completed when every part is, failed when every part that is final failed
    and none is still under way; otherwise it is on its way (pending, or requested)."""
    statuses = {p.status for p in parts}
    if statuses == {RefundStatus.COMPLETED}:
        return RefundStatus.COMPLETED
    if statuses <= {RefundStatus.FAILED}:
        return RefundStatus.FAILED
    if statuses <= {RefundStatus.COMPLETED, RefundStatus.FAILED}:
        return RefundStatus.COMPLETED  # partly: the failed part's amount was given back
    if statuses == {RefundStatus.REQUESTED}:
        return RefundStatus.REQUESTED
    return RefundStatus.PENDING


def refundable(payment: PaymentRecord, committed: int) -> int:
    """What a payment can still give back."""
    if not payment.status.paid or payment.amount.amount <= 0:
        return 0
    return max(0, payment.amount.amount - committed)


class RefundRecords:
    def __init__(self, table: Table) -> None:
        self._table = table

    def get(self, order_id: str, refund_id: str) -> Refund | None:
        item = self._table.get(order_pk(order_id), refund_sk(refund_id), consistent=True)
        return Refund.from_item(item) if item else None

    def of_order(self, order_id: str) -> list[Refund]:
        items = self._table.query_all(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
            ExpressionAttributeValues={
                ":pk": {"S": order_pk(order_id)},
                ":prefix": {"S": "REFUND#"},
            },
            ConsistentRead=True,
        )
        return [Refund.from_item(item) for item in items]

    def committed(self, order_id: str) -> dict[tuple[str, str], int]:
        """refund_committed per payment (provider, payment id), where no payment records are
        at hand (a panel refund, tests)."""
        items = self._table.query_all(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
            ExpressionAttributeValues={
                ":pk": {"S": order_pk(order_id)},
                ":prefix": {"S": "PAYMENT#"},
            },
            ConsistentRead=True,
        )
        return {
            (item["provider"], item["payment_id"]): int(item.get("refund_committed", 0))
            for item in items
        }

    def create(self, refund: Refund, draws: dict[tuple[str, str], tuple[int, int]]) -> None:
        """The refund and what it draws on each payment (old committed -> new), at once."""
        txn = self._table.transaction()
        self.stage_create(txn, refund, draws)
        txn.commit()

    def stage_create(
        self, txn: Transaction, refund: Refund, draws: dict[tuple[str, str], tuple[int, int]]
    ) -> None:
        txn.put(self._item(refund), condition="attribute_not_exists(PK)")
        for (provider, payment_id), (old, new) in draws.items():
            txn.update(
                order_pk(refund.order_id),
                payment_sk(provider, payment_id),
                "SET refund_committed = :new",
                condition="attribute_exists(PK) AND (refund_committed = :old OR "
                "(attribute_not_exists(refund_committed) AND :old = :zero))",
                values={":new": new, ":old": old, ":zero": 0},
            )

    def save(self, before: Refund, after: Refund, *, release: dict[tuple[str, str], int]) -> None:
        txn = self._table.transaction()
        self.stage_save(txn, before, after, release=release)
        txn.commit()

    def stage_save(
        self,
        txn: Transaction,
        before: Refund,
        after: Refund,
        *,
        release: dict[tuple[str, str], int],
    ) -> None:
        """A refund's new state (conditioned on the version read), giving back what failed
        parts had drawn."""
        txn.put(
            self._item(replace(after, version=before.version + 1)),
            condition="version = :v",
            values={":v": before.version},
        )
        for (provider, payment_id), amount in release.items():
            txn.update(
                order_pk(before.order_id),
                payment_sk(provider, payment_id),
                "ADD refund_committed :minus",
                condition="attribute_exists(PK)",
                values={":minus": -amount},
            )

    def _item(self, refund: Refund) -> dict[str, Any]:
        item: dict[str, Any] = {
            "PK": order_pk(refund.order_id),
            "SK": refund_sk(refund.refund_id),
            "type": "refund",
            "refund_id": refund.refund_id,
            "order_id": refund.order_id,
            "amount": refund.amount.amount,
            "currency": refund.amount.currency,
            "reason": refund.reason,
            "status": refund.status.value,
            "parts": [p.item() for p in refund.parts],
            "created_at": refund.created_at,
            "updated_at": refund.updated_at,
            "origin": refund.origin,
            "version": refund.version,
        }
        if refund.request_hash:
            item["request_hash"] = refund.request_hash
        if refund.status in (RefundStatus.REQUESTED, RefundStatus.PENDING):
            # On the reconciliation watch list until final.
            item[f"{STATUS_INDEX}PK"] = REFUND_WATCH
            item[f"{STATUS_INDEX}SK"] = f"{refund.created_at}#{refund.order_id}#{refund.refund_id}"
        return item

    def watched(self, *, older_than: str, limit: int = 1000) -> list[Refund]:
        """Unfinished refunds created before `older_than`, oldest first (up to `limit` a run)."""
        return [
            Refund.from_item(item)
            for item in watched_items(self._table, REFUND_WATCH, older_than=older_than, limit=limit)
        ]


def request_fingerprint(amount: int, reason: str, payment_id: str | None) -> str:
    return hashlib.sha256(f"{amount}|{reason}|{payment_id or ''}".encode()).hexdigest()[:32]


@dataclass
class RefundService:
    orders: OrderStore
    payments: PaymentRecords
    refunds: RefundRecords
    gateways: GatewayLookup
    notify_url: Callable[[str], str] = field(default=lambda provider: "")
    now: Clock = utc_now

    # -- asked through the API -----------------------------------------------------------------
    def request(
        self,
        order_id: str,
        *,
        amount: int,
        reason: str,
        payment_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[Refund, bool]:
        """Commit a refund; returns it and whether this call created it (False: the same
        Idempotency-Key asked for it before)."""
        state = self.orders.get(order_id)
        if state is None:
            raise OrderNotFound(order_id)
        fingerprint = request_fingerprint(amount, reason, payment_id)
        if idempotency_key:
            digest = hashlib.sha256(f"{order_id}|{idempotency_key}".encode()).hexdigest()[:24]
            refund_id = f"rf_{digest}"
        else:
            refund_id = f"rf_{secrets.token_hex(12)}"
        for _ in range(MAX_ATTEMPTS):
            existing = self.refunds.get(order_id, refund_id)
            if existing is not None:
                if existing.request_hash != fingerprint:
                    raise IdempotencyConflict(
                        "this Idempotency-Key was used for another refund request"
                    )
                return existing, False
            payments = self.payments.of_order(order_id)
            # The ledger is on the payment items just read (no second query of them).
            ledger = {(p.provider, p.payment_id): p.refund_committed for p in payments}
            # What refunds already draw on each payment: the ledger, or the refunds' own parts
            # where they say more (a refund made in the provider's panel before its payment
            # was recorded could not draw on it then).
            parts = _drawn_by_parts(self.refunds.of_order(order_id))
            committed = {
                key: max(ledger.get(key, 0), parts.get(key, 0)) for key in {*ledger, *parts}
            }
            draws = self._allocate(
                payments,
                committed,
                amount,
                payment_id,
                currency=state.total.currency,
                through=frozenset(p.name for p in gateway_providers()),
            )
            at = utc_iso(self.now())
            refund = Refund(
                refund_id=refund_id,
                order_id=order_id,
                amount=Money(amount=amount, currency=state.total.currency),
                reason=reason,
                status=RefundStatus.REQUESTED,
                parts=tuple(
                    RefundPart(
                        part_id=part_id(refund_id, index),
                        provider=provider,
                        payment_id=pid,
                        amount=drawn,
                        status=RefundStatus.REQUESTED,
                    )
                    for index, ((provider, pid), drawn) in enumerate(draws)
                ),
                created_at=at,
                updated_at=at,
                request_hash=fingerprint,
            )
            changes = {
                key: (ledger.get(key, 0), committed.get(key, 0) + drawn) for key, drawn in draws
            }
            requested = RefundRequested(
                refund_id=refund_id, amount=refund.amount, reason=reason or None
            )

            def stage(txn: Transaction, r: Refund = refund, c: Any = changes) -> None:
                self.refunds.stage_create(txn, r, c)

            try:
                self._with_event(order_id, requested, stage)
            except TransactionConflict:
                continue  # another refund drew on the same payment, or the same key raced
            return refund, True
        raise ConcurrentModification(f"order {order_id}'s payments kept changing")

    @staticmethod
    def _allocate(
        payments: list[PaymentRecord],
        committed: dict[tuple[str, str], int],
        amount: int,
        payment_id: str | None,
        *,
        currency: str | None = None,
        through: frozenset[str] | None = None,
    ) -> list[tuple[tuple[str, str], int]]:
        """Which payments a refund draws on: only money in the refund's `currency`, taken by
        a provider orderhub can refund `through` (a payment a channel collected, Shopify's,
        is refunded in the channel)."""
        if amount <= 0:
            raise RefundRefused("a refund returns a positive amount")
        candidates = [p for p in payments if payment_id is None or p.payment_id == payment_id]
        if payment_id is not None and not candidates:
            raise RefundRefused(f"payment {payment_id} is not a payment of this order")
        if currency is not None:
            candidates = [p for p in candidates if p.amount.currency == currency]
        if through is not None:
            candidates = [p for p in candidates if p.provider in through]
        # Newest first: the last money in goes back first.
        candidates.sort(key=lambda p: p.occurred_at or p.updated_at, reverse=True)
        left = amount
        draws: list[tuple[tuple[str, str], int]] = []
        for payment in candidates:
            key = (payment.provider, payment.payment_id)
            available = refundable(payment, committed.get(key, 0))
            if available <= 0 or left <= 0:
                continue
            drawn = min(available, left)
            draws.append((key, drawn))
            left -= drawn
        if left > 0:
            could = amount - left
            raise RefundRefused(
                f"refund of {amount} exceeds what is left to refund ({could})"
                + (f" on payment {payment_id}" if payment_id else "")
            )
        return draws

    # -- sent to the provider (the stream router, on the refund's INSERT) ---------------------
    def dispatch(self, order_id: str, refund_id: str) -> Refund | None:
        """Ask the provider for every part not asked yet; idempotent (the part id is the
        provider's idempotency key)."""
        for _ in range(MAX_ATTEMPTS):
            refund = self.refunds.get(order_id, refund_id)
            if refund is None or refund.origin != "orderhub":
                return refund
            waiting = [p for p in refund.parts if p.status is RefundStatus.REQUESTED]
            if not waiting:
                return refund
            payments = {(p.provider, p.payment_id): p for p in self.payments.of_order(order_id)}
            answers: dict[str, RefundAccepted] = {}
            for part in waiting:
                answers[part.part_id] = self._ask(refund, part, payments)
            parts = tuple(
                _answered(p, answers[p.part_id]) if p.part_id in answers else p
                for p in refund.parts
            )
            try:
                return self._save(refund, parts)
            except TransactionConflict:
                continue  # a notification beat our answer: read again (asking again is safe)
        raise ConcurrentModification(f"refund {refund_id} kept changing")

    def _ask(
        self, refund: Refund, part: RefundPart, payments: dict[tuple[str, str], PaymentRecord]
    ) -> RefundAccepted:
        payment = payments.get((part.provider, part.payment_id))
        request = RefundRequest(
            refund_id=part.part_id,
            order_id=refund.order_id,
            payment_id=part.payment_id,
            amount=Money(amount=part.amount, currency=refund.amount.currency),
            reason=refund.reason,
            notify_url=self.notify_url(part.provider),
            provider_data=(payment.provider_data or {}) if payment else {},
        )
        try:
            return self.gateways(part.provider).refund(request)
        except GatewayRejected as error:
            logger.warning(
                "provider refused a refund",
                extra={"refund_id": part.part_id, "provider": part.provider, "error": str(error)},
            )
            return RefundAccepted(status=RefundStatus.FAILED, failure_reason=str(error)[:300])

    # -- reported by the provider ----------------------------------------------------------------
    def report(self, event: RefundEvent, *, actor: str) -> str | None:
        """Apply a provider's refund notification; returns the order it concerned."""
        order_id = event.order_id
        if order_id is None and event.payment_id is not None:
            order_id = self.payments.order_of(event.provider, event.payment_id)
        if order_id is None:
            # Its payment is not recorded yet (the refund's notification overtook the
            # payment's): retried, then dead-lettered and listed, never dropped.
            raise PaymentNotRecorded(
                f"refund of {event.provider} payment {event.payment_id}: the payment is not "
                "recorded yet"
            )
        event = self._by_payment_record(order_id, event)
        for _ in range(MAX_ATTEMPTS):
            refund, part = self._find(order_id, event)
            try:
                if refund is None:
                    self._external(order_id, event)
                elif part is not None:
                    self._save(
                        refund, tuple(_reported(p, event) if p is part else p for p in refund.parts)
                    )
            except TransactionConflict:
                continue
            return order_id
        raise ConcurrentModification(f"refund of order {order_id} kept changing")

    def _by_payment_record(self, order_id: str, event: RefundEvent) -> RefundEvent:
        """The refund names its payment as the payment record does (a PayPal refund names the
        capture; the record is the PayPal order)."""
        if event.payment_id is None:
            return event
        for payment in self.payments.of_order(order_id):
            if payment.provider != event.provider:
                continue
            if payment.payment_id == event.payment_id:
                return event
            if event.payment_id in (payment.provider_data or {}).values():
                return event.model_copy(update={"payment_id": payment.payment_id})
        return event

    def _find(self, order_id: str, event: RefundEvent) -> tuple[Refund | None, RefundPart | None]:
        if event.refund_id is not None:
            refund = self.refunds.get(order_id, refund_id_of(event.refund_id))
            if refund is not None:
                # Only the provider the part was sent through speaks for it.
                part = next(
                    (
                        p
                        for p in refund.parts
                        if p.part_id == event.refund_id and p.provider == event.provider
                    ),
                    None,
                )
                return refund, part
        for refund in self.refunds.of_order(order_id):
            for part in refund.parts:
                if (
                    event.provider_refund_id
                    and part.provider == event.provider
                    and part.provider_refund_id == event.provider_refund_id
                ):
                    return refund, part
        if event.provider_refund_id:
            external = self.refunds.get(order_id, _external_id(event))
            if external is not None:
                return external, external.parts[0]
        return None, None

    def _external(self, order_id: str, event: RefundEvent) -> None:
        """A refund made in the provider's panel: money already went back; record it so the
        order shows it and nothing refunds it twice."""
        state = self.orders.get(order_id)
        if state is None or event.payment_id is None:
            return
        at = utc_iso(self.now())
        refund_id = _external_id(event)
        refund = Refund(
            refund_id=refund_id,
            order_id=order_id,
            amount=event.amount,
            reason="made at the provider",
            status=event.status
            if event.status is not RefundStatus.REQUESTED
            else RefundStatus.PENDING,
            parts=(
                RefundPart(
                    part_id=refund_id,
                    provider=event.provider,
                    payment_id=event.payment_id,
                    amount=event.amount.amount,
                    status=event.status,
                    provider_refund_id=event.provider_refund_id,
                ),
            ),
            created_at=at,
            updated_at=at,
            origin="provider",
        )
        committed = self.refunds.committed(order_id)
        key = (event.provider, event.payment_id)
        draw = (
            {}
            if event.status is RefundStatus.FAILED
            else {key: (committed.get(key, 0), committed.get(key, 0) + event.amount.amount)}
        )
        if key not in committed:
            draw = {}
        ending = self._ending(refund)
        if ending is None:
            self.refunds.create(refund, draw)
        else:
            self._with_event(
                order_id, ending, lambda txn: self.refunds.stage_create(txn, refund, draw)
            )

    def _save(self, refund: Refund, parts: tuple[RefundPart, ...]) -> Refund:
        """Write a refund's new state; when that ends it (completed, failed), its event goes
        on the order's timeline in the same transaction: a crash cannot keep one without the
        other, and a repeated notification finds nothing left to do."""
        status = overall(parts)
        after = replace(refund, parts=parts, status=status, updated_at=utc_iso(self.now()))
        if after == refund:
            return refund
        before_failed = {p.part_id for p in refund.parts if p.status is RefundStatus.FAILED}
        release: dict[tuple[str, str], int] = {}
        for p in parts:
            if p.status is RefundStatus.FAILED and p.part_id not in before_failed:
                key = (p.provider, p.payment_id)
                release[key] = release.get(key, 0) + p.amount
        event = self._ending(after) if refund.status != status else None
        if event is None:
            self.refunds.save(refund, after, release=release)
        else:
            self._with_event(
                refund.order_id,
                event,
                lambda txn: self.refunds.stage_save(txn, refund, after, release=release),
            )
        return after

    @staticmethod
    def _ending(refund: Refund) -> RefundCompleted | RefundFailed | None:
        if refund.status is RefundStatus.COMPLETED:
            done = sum(p.amount for p in refund.parts if p.status is RefundStatus.COMPLETED)
            return RefundCompleted(
                refund_id=refund.refund_id,
                amount=Money(amount=done, currency=refund.amount.currency),
                origin=refund.origin,
            )
        if refund.status is RefundStatus.FAILED:
            reasons = "; ".join(p.failure_reason for p in refund.parts if p.failure_reason)
            return RefundFailed(
                refund_id=refund.refund_id, amount=refund.amount, reason=reasons or None
            )
        return None

    def _with_event(self, order_id: str, event: Any, stage: Callable[[Transaction], None]) -> None:
        """Commit `stage` with `event` on the order's timeline (the order's version check
        retried on a concurrent change; a conflict on the refund's own items is the caller's
        to re-read)."""
        for _ in range(MAX_ATTEMPTS):
            state = self.orders.get(order_id)
            if state is None:
                raise OrderNotFound(order_id)
            try:
                self.orders.apply(
                    state, Change(event=event, actor=ACTOR, at=self.now()), joined=[stage]
                )
            except ConcurrentModification:
                continue
            return
        raise ConcurrentModification(f"order {order_id} kept changing")


def _drawn_by_parts(refunds: list[Refund]) -> dict[tuple[str, str], int]:
    drawn: dict[tuple[str, str], int] = {}
    for refund in refunds:
        for part in refund.parts:
            if part.status is not RefundStatus.FAILED:
                key = (part.provider, part.payment_id)
                drawn[key] = drawn.get(key, 0) + part.amount
    return drawn


def _external_id(event: RefundEvent) -> str:
    digest = hashlib.sha256(f"{event.provider}|{event.provider_refund_id}".encode()).hexdigest()
    return f"rx_{digest[:24]}"


def _answered(part: RefundPart, answer: RefundAccepted) -> RefundPart:
    if REFUND_RANK[answer.status] <= REFUND_RANK[part.status]:
        return part
    return replace(
        part,
        status=answer.status,
        provider_refund_id=answer.provider_refund_id or part.provider_refund_id,
        failure_reason=answer.failure_reason,
    )


def _reported(part: RefundPart, event: RefundEvent) -> RefundPart:
    provider_refund_id = part.provider_refund_id or event.provider_refund_id
    if REFUND_RANK[event.status] <= REFUND_RANK[part.status]:
        return replace(part, provider_refund_id=provider_refund_id)
    return replace(
        part,
        status=event.status,
        provider_refund_id=provider_refund_id,
        failure_reason=event.failure_reason,
    )


def sum_refunded(refunds: list[Refund]) -> int:
    return sum(p.amount for r in refunds for p in r.parts if p.status is RefundStatus.COMPLETED)
