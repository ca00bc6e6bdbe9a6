"""The stock-keeping unit: one shop-wide product identity every context shares."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

# Shops write SKUs freely ("MUG 350 ML", "A/B#2"): keys only prefix them, nothing parses them.
Sku = Annotated[
    str, StringConstraints(min_length=1, max_length=255, pattern=r"^\S(?:[^\x00-\x1f]*\S)?$")
]
