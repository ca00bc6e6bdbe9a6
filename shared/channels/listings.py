"""The shop's listing mapping: which internal SKU a channel's listing (an Allegro offer, a
Shopify variant, an Amazon ASIN, a WooCommerce product) sells.

LISTING#<channel>#<listing> / LISTING   {sku}: set through PUT /api/v1/listings/{channel}/{ref}

A line is matched by its listing first, then by the seller SKU the channel names for it when
the shop keeps stock under that SKU (most shops type the same SKU everywhere). A line neither
finds is unknown: its order is held, visibly, until the shop maps the listing and releases it;
it is never dropped and never reserves a guess.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from shared.kernel.time import utc_iso
from shared.orders.domain import Order, OrderLine
from shared.platform.table import Table

LISTING_SK = "LISTING"
UNKNOWN_SKU = "unknown_sku"


def listing_pk(channel: str, listing: str) -> str:
    return f"LISTING#{channel}#{listing}"


def listing_ref(line: OrderLine) -> str | None:
    """What the mapping is keyed by for a line: its listing, else the channel's SKU for it."""
    return line.listing_id or line.sku


class StockCatalogue(Protocol):
    """Whether the shop keeps stock under a SKU (the stock context's store answers)."""

    def levels(self, sku: str) -> Sequence[object]: ...


class ListingRepository:
    def __init__(self, table: Table) -> None:
        self._table = table

    def sku_for(self, channel: str, listing: str) -> str | None:
        item = self._table.get(listing_pk(channel, listing), LISTING_SK)
        return None if item is None else str(item["sku"])

    def map(self, channel: str, listing: str, sku: str, *, at: datetime) -> None:
        self._table.put(
            {
                "PK": listing_pk(channel, listing),
                "SK": LISTING_SK,
                "type": "listing",
                "channel": channel,
                "listing": listing,
                "sku": sku,
                "updated_at": utc_iso(at),
            }
        )

    def unmap(self, channel: str, listing: str) -> None:
        self._table.delete(listing_pk(channel, listing), LISTING_SK)


@dataclass(frozen=True)
class Resolution:
    order: Order  # lines naming internal SKUs where they were found
    unknown: tuple[OrderLine, ...]  # lines no listing or stock SKU matches

    @property
    def hold_reason(self) -> str | None:
        if not self.unknown:
            return None
        refs = ", ".join(f"line {line.line_no} ({listing_ref(line)})" for line in self.unknown)
        return f"{UNKNOWN_SKU}: {refs}"


@dataclass
class SkuResolver:
    listings: ListingRepository
    stock: StockCatalogue

    def resolve(self, order: Order) -> Resolution:
        lines: list[OrderLine] = []
        unknown: list[OrderLine] = []
        for line in order.lines:
            ref = listing_ref(line)
            if ref is None:
                lines.append(line)  # holds no stock (a tip, a gift card)
                continue
            sku = self.listings.sku_for(order.channel, ref)
            if sku is None and line.sku is not None and self.stock.levels(line.sku):
                sku = line.sku
            if sku is None:
                unknown.append(line)
                lines.append(line)
            else:
                lines.append(line.model_copy(update={"sku": sku}))
        return Resolution(order.model_copy(update={"lines": lines}), tuple(unknown))
