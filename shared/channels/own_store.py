"""The own store: orders the shop's own checkout sends through POST /api/v1/orders.

The body is the order as GET /api/v1/orders/{order_id} shows it, less what orderhub assigns
(ids, status, totals, payments, timeline). It maps to the canonical Order of channel `store`
and goes through the same intake as every other channel (stored once by the channel key
`CHANNEL#store#<external_id>`, then its workflow starts once).

IDEMPOTENCY#orders#<sha256 of the key> / IDEMPOTENCY   the Idempotency-Key's claim: the hash of
    the canonical body and the order id it was given (conditional put: one claim per key)

A retry with the same key and body finishes what the first attempt started (the claim fixes
the order id and the order time, so a crash between the claim and the order is repaired by
the retry) and answers the same order; another body under the key is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from shared.kernel.errors import ConcurrentModification, DomainError
from shared.kernel.money import CurrencyCode, Money
from shared.kernel.sku import Sku
from shared.kernel.time import UtcDatetime, utc_iso
from shared.orders.domain import (
    MAX_QUANTITY,
    Address,
    Buyer,
    CountryCode,
    Order,
    OrderLine,
    PaymentMethod,
    PickupPoint,
    Totals,
)
from shared.orders.ids import new_order_id
from shared.orders.intake import OrderIntake
from shared.platform.clock import Clock, utc_now
from shared.platform.schema import TTL_ATTRIBUTE
from shared.platform.table import ConditionFailed, Item, Table

CHANNEL = "store"
ACTOR = "api:store"
MAX_LINES = 500
MAX_UNIT_PRICE = 10**12  # minor units: far above any price, far inside DynamoDB's 38 digits
MAX_TOTAL = 10**15
KEY_RETENTION = timedelta(days=30)
# A concurrent request with the same key (or the same order from another channel writer)
# cancels our transaction without a failed condition: it is tried again, a few times.
MAX_ATTEMPTS = 3
IDEMPOTENCY_SK = "IDEMPOTENCY"

Text = Annotated[str, StringConstraints(min_length=1, max_length=500)]
# An id the shop's checkout assigns: printable ASCII without edge spaces (it becomes a key).
ExternalId = Annotated[
    str, StringConstraints(max_length=200, pattern=r"^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$")
]
Email = Annotated[str, StringConstraints(max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


def _two_places(rate: Decimal) -> Decimal:
    # One spelling per rate (23, 23.0 and 23.00 are one request for the idempotency hash).
    return rate.quantize(Decimal("0.01"))


VatRate = Annotated[
    Decimal,
    Field(ge=0, le=100, max_digits=5, decimal_places=2, description="VAT rate in percent."),
    AfterValidator(_two_places),
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreOrderLine(_Body):
    sku: Sku = Field(description="The shop's SKU (stock is reserved for it).")
    quantity: int = Field(ge=1, le=MAX_QUANTITY, strict=True)
    unit_price: int = Field(
        ge=0,
        le=MAX_UNIT_PRICE,
        strict=True,
        description="The gross price of one unit (VAT included), in minor units.",
    )
    vat_rate: VatRate
    name: Text | None = Field(default=None, description="Omitted: the SKU.")


class StoreBuyer(_Body):
    email: Email
    name: Text
    phone: Annotated[str, StringConstraints(min_length=3, max_length=32)]
    tax_id: Annotated[str, StringConstraints(min_length=2, max_length=32)] | None = Field(
        default=None, description="NIP or EU VAT number, for a B2B invoice."
    )
    company: Text | None = None


class StoreAddress(_Body):
    kind: Literal["address"]
    name: Text | None = None
    company: Text | None = None
    line1: Text
    line2: Text | None = None
    postal_code: Annotated[str, StringConstraints(min_length=1, max_length=16)]
    city: Text
    region: Text | None = None
    country_code: CountryCode
    phone: Annotated[str, StringConstraints(min_length=3, max_length=32)] | None = None


class StorePickupPoint(_Body):
    kind: Literal["pickup_point"]
    carrier: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,32}$")] = Field(
        description="e.g. `inpost`"
    )
    point_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="The carrier's id of the point, e.g. an InPost locker `KRA01M`."
    )
    name: Text | None = None


class StoreOrder(_Body):
    """An order the shop's own checkout took: what orderhub cannot know by itself."""

    external_id: ExternalId = Field(
        description="The checkout's order id: one order per id (another key with the same id "
        "is 409 `order_exists`)."
    )
    external_number: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = Field(
        default=None, description="The number the buyer sees, e.g. `S-1001`."
    )
    currency: CurrencyCode = Field(description="ISO 4217; every amount is in its minor units.")
    lines: list[StoreOrderLine] = Field(min_length=1, max_length=MAX_LINES)
    shipping: int = Field(
        default=0, ge=0, le=MAX_UNIT_PRICE, strict=True, description="Gross, minor units."
    )
    shipping_vat_rate: VatRate | None = Field(
        default=None,
        description="Omitted: the highest rate of the lines (delivery follows the goods).",
    )
    buyer: StoreBuyer
    delivery: StoreAddress | StorePickupPoint = Field(discriminator="kind")
    payment_method: PaymentMethod
    placed_at: UtcDatetime | None = Field(
        default=None,
        description="When the buyer ordered (with an offset), within the last year and at most "
        "a day ahead (clock skew); omitted: now.",
    )
    note: Annotated[str, StringConstraints(max_length=5000)] | None = None
    invoice_requested: bool = False

    def items_total(self) -> int:
        return sum(line.unit_price * line.quantity for line in self.lines)


def request_hash(body: StoreOrder) -> str:
    """The sha256 of the body's canonical JSON (sorted keys, defaults filled in)."""
    canonical = json.dumps(
        body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


PLACED_AT_PAST = timedelta(days=366)
PLACED_AT_AHEAD = timedelta(days=1)


class InvalidStoreOrder(ValueError):
    """A body that is well-formed field by field but not as a whole (400 naming `field`)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(problem)
        self.field = field


class IdempotencyKeyReused(DomainError):
    """The Idempotency-Key was used before for another body."""

    code = "idempotency_key_reused"


class OrderExists(DomainError):
    """The own store sent this external id before, under another Idempotency-Key."""

    code = "order_exists"

    def __init__(self, external_id: str, order_id: str) -> None:
        super().__init__(f"order {external_id} of the store exists as {order_id}")
        self.external_id = external_id
        self.order_id = order_id


def vat_from_gross(gross: int, rate: Decimal) -> int:
    """The VAT a gross amount holds: gross * rate / (100 + rate), half up to the minor unit."""
    if rate == 0 or gross == 0:
        return 0
    tax = Decimal(gross) * rate / (Decimal(100) + rate)
    return int(tax.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def tax_of(body: StoreOrder) -> int:
    """VAT per rate on the gross sums of that rate (how a gross-price invoice computes it),
    shipping at its own rate or the highest of the lines."""
    by_rate: dict[Decimal, int] = {}
    for line in body.lines:
        by_rate[line.vat_rate] = by_rate.get(line.vat_rate, 0) + line.unit_price * line.quantity
    shipping_rate = body.shipping_vat_rate
    if shipping_rate is None:
        shipping_rate = max(line.vat_rate for line in body.lines)
    by_rate[shipping_rate] = by_rate.get(shipping_rate, 0) + body.shipping
    return sum(vat_from_gross(gross, rate) for rate, gross in by_rate.items())


def to_order(body: StoreOrder, *, placed_at: datetime) -> Order:
    """The canonical order of a store body; InvalidStoreOrder where it cannot be one."""
    currency = body.currency
    items = body.items_total()
    total = items + body.shipping
    if total > MAX_TOTAL:
        raise InvalidStoreOrder("lines", f"the order's total exceeds {MAX_TOTAL} minor units")

    def money(amount: int) -> Money:
        return Money(amount=amount, currency=currency)

    delivery: Address | PickupPoint
    if isinstance(body.delivery, StorePickupPoint):
        point = body.delivery
        delivery = PickupPoint(
            carrier=point.carrier,
            point_id=point.point_id,
            name=point.name,
            phone=body.buyer.phone,  # the carrier texts the pickup code to the buyer
        )
    else:
        delivery = Address.model_validate(body.delivery.model_dump())
    return Order(
        channel=CHANNEL,
        external_id=body.external_id,
        external_number=body.external_number,
        revision=0,  # the own store never revises an order: it is created once
        placed_at=placed_at,
        currency=currency,
        prices_include_vat=True,
        lines=[
            OrderLine(
                line_no=number,
                sku=line.sku,
                name=line.name or line.sku,
                quantity=line.quantity,
                unit_price=money(line.unit_price),
                vat_rate=line.vat_rate,
            )
            for number, line in enumerate(body.lines, start=1)
        ],
        buyer=Buyer(
            name=body.buyer.name,
            email=body.buyer.email,
            phone=body.buyer.phone,
            company=body.buyer.company,
            tax_id=body.buyer.tax_id,
        ),
        delivery=delivery,
        payment_method=body.payment_method,
        totals=Totals(
            items=money(items),
            shipping=money(body.shipping),
            discount=money(0),
            tax=money(tax_of(body)),
            total=money(total),
        ),
        note=body.note,
        invoice_requested=body.invoice_requested,
    )


@dataclass(frozen=True)
class Claim:
    """What an Idempotency-Key stands for: one body, one order id, one order time."""

    request_hash: str
    order_id: str
    placed_at: str


def key_pk(idempotency_key: str) -> str:
    # Hashed: the key is the caller's text, and only its identity matters here.
    return f"IDEMPOTENCY#orders#{hashlib.sha256(idempotency_key.encode()).hexdigest()}"


class IdempotencyKeys:
    def __init__(self, table: Table) -> None:
        self._table = table

    def claim(
        self, idempotency_key: str, wanted: Claim, *, external_id: str, at: datetime
    ) -> Claim:
        """The key's claim: `wanted` if this call wrote it, else the one written before."""
        item = {
            "PK": key_pk(idempotency_key),
            "SK": IDEMPOTENCY_SK,
            "type": "idempotency_key",
            "scope": "orders",
            "request_hash": wanted.request_hash,
            "order_id": wanted.order_id,
            "placed_at": wanted.placed_at,
            "external_id": external_id,
            "created_at": utc_iso(at),
            TTL_ATTRIBUTE: int((at + KEY_RETENTION).timestamp()),
        }
        try:
            self._table.put(item, condition="attribute_not_exists(PK)")
        except ConditionFailed as failed:
            current = failed.current or self._table.get(
                key_pk(idempotency_key), IDEMPOTENCY_SK, consistent=True
            )
            if current is None:  # expired between the put and the read: claim it again
                raise ConcurrentModification("the idempotency key changed meanwhile") from failed
            return _claim_of(current)
        return wanted


def _always(order_id: str) -> Callable[[], str]:
    return lambda: order_id


def _claim_of(item: Item) -> Claim:
    return Claim(
        request_hash=item["request_hash"], order_id=item["order_id"], placed_at=item["placed_at"]
    )


@dataclass
class OwnStore:
    """Places the own store's orders: one order per Idempotency-Key and per external id."""

    intake: OrderIntake
    keys: IdempotencyKeys
    now: Clock = utc_now
    new_id: Callable[[], str] = new_order_id

    def place(self, body: StoreOrder, *, idempotency_key: str) -> str:
        """The order id the key stands for; IdempotencyKeyReused or OrderExists if it cannot
        be this body's order."""
        fingerprint = request_hash(body)
        now = self.now()
        placed_at = body.placed_at or now
        if not now - PLACED_AT_PAST <= placed_at <= now + PLACED_AT_AHEAD:
            # A checkout's own clock, not history: an import of old orders is not a checkout
            # (and a date far off would misplace the order in every date-ranged listing).
            raise InvalidStoreOrder(
                "placed_at", "must be within the last year and at most a day ahead of now"
            )
        to_order(body, placed_at=placed_at)  # refused before the key is spent on it
        for attempt in range(MAX_ATTEMPTS):
            claim = self.keys.claim(
                idempotency_key,
                Claim(fingerprint, self.new_id(), utc_iso(placed_at)),
                external_id=body.external_id,
                at=now,
            )
            if claim.request_hash != fingerprint:
                raise IdempotencyKeyReused("this Idempotency-Key was used for another order")
            order = to_order(body, placed_at=datetime.fromisoformat(claim.placed_at))
            existing = self.intake.orders.find_by_channel(CHANNEL, body.external_id)
            if existing is not None and existing != claim.order_id:
                raise OrderExists(body.external_id, existing)
            # The claim fixes the id: a retry, or a concurrent request with this key, stores
            # (or finds) this very order and starts its workflow once (named after the id).
            intake = replace(self.intake, new_id=_always(claim.order_id))
            try:
                stored = intake.receive(order, actor=ACTOR, event_id=f"store:{body.external_id}")
            except ConcurrentModification:
                if attempt == MAX_ATTEMPTS - 1:
                    raise
                continue
            if stored != claim.order_id:  # another key created it in between
                raise OrderExists(body.external_id, stored)
            return stored
        raise ConcurrentModification("the order kept changing while it was placed")
