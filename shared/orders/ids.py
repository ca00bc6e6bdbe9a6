"""Identifiers: ULIDs for our own entities (sortable by creation time)."""

from __future__ import annotations

import os
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_ulid(now_ms: int | None = None, randomness: bytes | None = None) -> str:
    """A ULID: 48-bit millisecond timestamp + 80 random bits, Crockford base32 (26 chars)."""
    timestamp = int(time.time() * 1000) if now_ms is None else now_ms
    entropy = os.urandom(10) if randomness is None else randomness
    value = (timestamp << 80) | int.from_bytes(entropy, "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 0x1F])
        value >>= 5
    return "".join(reversed(chars))


def new_order_id() -> str:
    return f"ord_{new_ulid()}"
