"""Conservative checks that a channel's order certainly maps to the canonical one.

The webhook answers a provider within a budget (DESIGN.md: warm compute within 1.2x of the
floor), and mapping a whole order to the canonical model before answering took a quarter of
the floor for Shopify (docs/performance.md, section 2). Yet nothing may be acknowledged that
cannot be processed. So an adapter's `screen` checks, on the provider's already validated
model, a domain that is a strict subset of what maps: plain decimal amounts, text without
control characters and within the canonical lengths, known code shapes, moments after 1970.
An order inside it is acknowledged unmapped and the stream router maps it from the same bytes;
anything outside it (an unusual currency, a long name, a negative price) is mapped in the
webhook as before, so it is still a 400 when it cannot map. Being too strict here costs time;
being too lax would acknowledge an order that never becomes one, so the property tests
(tests/unit/test_screening.py) generate orders and hold every screened one to a mapping that
succeeds. Decision 65.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

from shared.kernel.money import currency_exponent

# Up to 13 integer digits (Money allows 15) and at most two decimals, no sign, no exponent, no
# spaces: Decimal reads it exactly, it is never negative, and for a currency with two or more
# minor digits it never has sub-minor precision.
_PLAIN_AMOUNT = re.compile(r"\d{1,13}(?:\.\d{1,2})?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
EPOCH = datetime(1970, 1, 2).timestamp()  # a day of margin for any timezone's midnight


def plain_currency(code: str) -> bool:
    """An ISO-shaped code (three ASCII letters) whose minor unit has two or more digits."""
    upper = code.upper()
    return len(upper) == 3 and upper.isascii() and upper.isalpha() and currency_exponent(upper) >= 2


def plain_amount(text: str | None) -> bool:
    return text is not None and _PLAIN_AMOUNT.fullmatch(text) is not None


def plain_text(text: str | None, max_length: int = 255) -> bool:
    """None, or at most `max_length` characters with no control character."""
    return text is None or (len(text) <= max_length and _CONTROL.search(text) is None)


def plain_country(code: str | None) -> bool:
    if code is None:
        return True
    upper = code.upper()
    return len(upper) == 2 and upper.isascii() and upper.isalpha()


def plain_moment(moment: datetime | None) -> bool:
    return moment is None or moment.timestamp() >= EPOCH


def plain_rate_sum(rates: list[Decimal]) -> bool:
    """Tax rates as fractions whose sum is a percentage of at most 100."""
    return sum(rates, Decimal(0)) <= 1
