"""ULIDs: 26 Crockford base32 characters, lexicographically sortable by creation time."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.orders.ids import new_order_id, new_ulid

CROCKFORD_ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
MAX_MS = 2**48 - 1


def test_matches_the_ulid_spec_timestamp_encoding() -> None:
    # The ULID spec's example: time 1469918176385 encodes as 01ARYZ6S41.
    assert new_ulid(1469918176385, bytes(10)) == "01ARYZ6S41" + "0" * 16


def test_randomness_fills_the_last_sixteen_characters() -> None:
    assert new_ulid(0, b"\xff" * 10) == "0" * 10 + "Z" * 16


def test_a_fresh_ulid_and_order_id_are_well_formed_and_unique() -> None:
    ids = {new_ulid() for _ in range(100)}
    assert len(ids) == 100
    assert all(CROCKFORD_ULID.match(i) for i in ids)
    order_id = new_order_id()
    assert order_id.startswith("ord_")
    assert CROCKFORD_ULID.match(order_id.removeprefix("ord_"))


@settings(deadline=None)
@given(
    earlier=st.integers(0, MAX_MS - 1),
    gap=st.integers(1, 10**9),
    first=st.binary(min_size=10, max_size=10),
    second=st.binary(min_size=10, max_size=10),
)
def test_a_later_millisecond_always_sorts_after(
    earlier: int, gap: int, first: bytes, second: bytes
) -> None:
    later = min(earlier + gap, MAX_MS)
    a, b = new_ulid(earlier, first), new_ulid(later, second)
    assert CROCKFORD_ULID.match(a)
    assert CROCKFORD_ULID.match(b)
    assert a < b
