"""Plain-text tables and the statistics the sections share."""

from __future__ import annotations

import math
from collections.abc import Sequence

from infra.paths import ROOT

__all__ = ["ROOT", "heading", "how", "note", "percentile", "table"]


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty sample."""
    if not values:
        raise ValueError("percentile of an empty sample")
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def heading(number: str, title: str) -> None:
    line = f"{number}. {title}"
    print(f"\n{line}\n{'=' * len(line)}", flush=True)


def how(text: str) -> None:
    print(f"how measured: {text}", flush=True)


def note(text: str) -> None:
    print(f"  note: {text}", flush=True)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], *, title: str = "") -> None:
    """Columns padded to their widest cell; numbers right-aligned, text left-aligned."""
    if title:
        print(f"\n{title}")
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for index, value in enumerate(row):
            widths[index] = max(widths[index], len(value))
    numeric = [
        all(_is_number(row[index]) for row in rows if index < len(row)) and bool(rows)
        for index in range(len(headers))
    ]

    def line(values: Sequence[str], align_numbers: bool) -> str:
        parts = []
        for index, value in enumerate(values):
            right = align_numbers and numeric[index]
            parts.append(value.rjust(widths[index]) if right else value.ljust(widths[index]))
        return "  " + "  ".join(parts).rstrip()

    print(line(headers, align_numbers=True))
    print("  " + "  ".join("-" * width for width in widths))
    for row in cells:
        print(line(row, align_numbers=True))
    print(flush=True)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _float(value: float) -> str:
    magnitude = abs(value)
    if magnitude == 0:
        return "0"
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 0.01:
        return f"{value:.2f}"
    return f"{value:.2g}"
