"""DynamoDB capacity units from item sizes, as the DynamoDB developer guide defines them.

moto reports a constant ConsumedCapacity, so units are computed from the items themselves:
- item size: UTF-8 length of each attribute name plus its value (strings: UTF-8 bytes;
  numbers: 1 byte per 2 significant digits + 1; binary: raw bytes; booleans and nulls: 1;
  lists and maps: 3 bytes + 1 byte per element + the elements; sets: their elements);
- writes: 1 WRU per started KB of the larger of the item before and after the write (a
  delete: the deleted item), minimum 1; transactional writes cost 2x; a failed conditional
  write costs the existing item's size (minimum 1);
- reads: 1 RRU per started 4 KB (a query: of all returned items together), half when
  eventually consistent, 2x inside a transaction;
- a global secondary index costs one index write per started KB of the index entry (table
  keys + index keys + projected attributes) for each put into, delete from, or update of the
  index the table write causes (an index key change = delete + put).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

Item = Mapping[str, Any]  # DynamoDB JSON: {"name": {"S": "..."}, ...}
KB = 1024
READ_UNIT = 4 * KB


def _number_size(text: str) -> int:
    try:
        digits = Decimal(text).normalize().as_tuple().digits
    except InvalidOperation:
        digits = tuple(c for c in text if c.isdigit())  # type: ignore[misc]
    significant = max(1, len(digits))
    return math.ceil(significant / 2) + 1


def _binary_size(value: Any) -> int:
    if isinstance(value, bytes | bytearray | memoryview):
        return len(value)
    return len(base64.b64decode(value))


def value_size(value: Mapping[str, Any]) -> int:  # noqa: PLR0911 - one branch per type
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(str(inner).encode())
    if kind == "N":
        return _number_size(str(inner))
    if kind == "B":
        return _binary_size(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(v).encode()) for v in inner)
    if kind == "NS":
        return sum(_number_size(str(v)) for v in inner)
    if kind == "BS":
        return sum(_binary_size(v) for v in inner)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in inner.items())
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: Item | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / KB))


def read_units(size: int, *, consistent: bool) -> float:
    units = max(1, math.ceil(size / READ_UNIT))
    return float(units) if consistent else units / 2


@dataclass(frozen=True)
class Index:
    name: str
    keys: tuple[str, ...]
    projection: str  # ALL | KEYS_ONLY | INCLUDE
    non_key: tuple[str, ...] = ()

    def entry(self, item: Item | None, table_keys: tuple[str, ...]) -> dict[str, Any] | None:
        """The index entry the item has, or None when it lacks an index key (sparse)."""
        if not item or any(key not in item for key in self.keys):
            return None
        if self.projection == "ALL":
            return dict(item)
        wanted = set(table_keys) | set(self.keys)
        if self.projection == "INCLUDE":
            wanted |= set(self.non_key)
        return {name: value for name, value in item.items() if name in wanted}


@dataclass(frozen=True)
class TableShape:
    name: str
    keys: tuple[str, ...]
    indexes: tuple[Index, ...]

    def key_of(self, item: Item) -> dict[str, Any]:
        return {name: item[name] for name in self.keys}

    @classmethod
    def from_description(cls, description: Mapping[str, Any]) -> TableShape:
        indexes = []
        for index in description.get("GlobalSecondaryIndexes", []) or []:
            projection = index.get("Projection", {}) or {}
            indexes.append(
                Index(
                    name=index["IndexName"],
                    keys=tuple(k["AttributeName"] for k in index["KeySchema"]),
                    projection=projection.get("ProjectionType", "ALL"),
                    non_key=tuple(projection.get("NonKeyAttributes", []) or []),
                )
            )
        return cls(
            name=description["TableName"],
            keys=tuple(k["AttributeName"] for k in description["KeySchema"]),
            indexes=tuple(indexes),
        )


def index_write_units(shape: TableShape, before: Item | None, after: Item | None) -> int:
    """Index writes a successful table write causes, over every GSI of the table."""
    total = 0
    for index in shape.indexes:
        old = index.entry(before, shape.keys)
        new = index.entry(after, shape.keys)
        if old is None and new is None:
            continue
        if old is None and new is not None:
            total += write_units(item_size(new))
        elif new is None and old is not None:
            total += write_units(item_size(old))
        elif old is not None and new is not None:
            if any(old[key] != new[key] for key in index.keys):
                total += write_units(item_size(old)) + write_units(item_size(new))
            elif old != new:
                total += write_units(item_size(new))
    return total
