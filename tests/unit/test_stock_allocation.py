"""Allocation: each SKU from one warehouse, the one with the most available units."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.stock.domain import Allocation, Shortage, StockLevel, allocate


def level(sku: str, warehouse: str, on_hand: int, reserved: int = 0) -> StockLevel:
    return StockLevel(sku=sku, warehouse=warehouse, on_hand=on_hand, reserved=reserved)


def test_available_is_on_hand_minus_reserved() -> None:
    assert level("A", "WAW", 10, 4).available == 6


def test_a_sku_is_served_by_the_warehouse_with_the_most_available() -> None:
    # Given two warehouses that could both serve 2 units
    levels = {"A": [level("A", "WAW", 5), level("A", "KRK", 9, reserved=1)]}
    # When allocating, Then the one with more available (KRK: 8) serves the SKU whole
    allocations, shortages = allocate({"A": 2}, levels)
    assert allocations == [Allocation(sku="A", warehouse="KRK", quantity=2)]
    assert shortages == []


def test_ties_go_to_the_alphabetically_first_warehouse() -> None:
    levels = {"A": [level("A", "WRO", 5), level("A", "GDA", 5)]}
    assert allocate({"A": 1}, levels)[0] == [Allocation(sku="A", warehouse="GDA", quantity=1)]


def test_a_sku_is_never_split_across_warehouses() -> None:
    # Given 8 wanted and 5 + 5 available in two warehouses
    levels = {"A": [level("A", "WAW", 5), level("A", "KRK", 5)]}
    # When allocating, Then no single warehouse covers it: a shortage reporting the total
    allocations, shortages = allocate({"A": 8}, levels)
    assert allocations == []
    assert shortages == [Shortage(sku="A", requested=8, available=10)]


def test_unknown_sku_is_a_shortage_with_none_available() -> None:
    allocations, shortages = allocate({"GHOST": 1}, {})
    assert allocations == []
    assert shortages == [Shortage(sku="GHOST", requested=1, available=0)]
    assert shortages[0].describe() == "GHOST: 1 requested, none available"


def test_oversold_stock_counts_as_zero_in_a_shortage() -> None:
    # Given one warehouse oversold (-2 available) and one with 1
    levels = {"A": [level("A", "WAW", 3, reserved=5), level("A", "KRK", 1)]}
    _, shortages = allocate({"A": 4}, levels)
    assert shortages == [Shortage(sku="A", requested=4, available=1)]
    assert shortages[0].describe() == "A: 4 requested, 1 available"


def test_allocations_and_shortages_come_out_in_sku_order() -> None:
    levels = {"B": [level("B", "WAW", 9)], "A": [level("A", "WAW", 9)]}
    allocations, _ = allocate({"B": 1, "C": 1, "A": 1}, levels)
    assert [a.sku for a in allocations] == ["A", "B"]


SKUS = st.sampled_from(["A", "B", "C"])
WAREHOUSES = st.sampled_from(["WAW", "KRK", "GDA"])


@st.composite
def stock(draw: st.DrawFn) -> dict[str, list[StockLevel]]:
    levels: dict[str, list[StockLevel]] = {}
    for sku in draw(st.sets(SKUS)):
        warehouses = draw(st.sets(WAREHOUSES, min_size=1))
        levels[sku] = [
            level(sku, w, draw(st.integers(-5, 20)), draw(st.integers(0, 10))) for w in warehouses
        ]
    return levels


@settings(deadline=None, max_examples=200)
@given(
    demand=st.dictionaries(SKUS, st.integers(min_value=1, max_value=25), min_size=1),
    levels=stock(),
)
def test_allocation_never_exceeds_what_a_warehouse_has_available(
    demand: dict[str, int], levels: dict[str, list[StockLevel]]
) -> None:
    allocations, shortages = allocate(demand, levels)
    available = {
        (lvl.sku, lvl.warehouse): lvl.available for lvls in levels.values() for lvl in lvls
    }
    # Then every allocation fits its warehouse and serves exactly the demanded units
    for allocation in allocations:
        assert allocation.quantity <= available[(allocation.sku, allocation.warehouse)]
        assert allocation.quantity == demand[allocation.sku]
    # And every SKU is either allocated once or short, never both, never neither
    allocated = [a.sku for a in allocations]
    short = [s.sku for s in shortages]
    assert sorted(allocated + short) == sorted(demand)
    assert len(set(allocated)) == len(allocated)
    # And a shortage is real: no single warehouse could have served it
    for shortage in shortages:
        best = max((lvl.available for lvl in levels.get(shortage.sku, [])), default=0)
        assert best < shortage.requested
