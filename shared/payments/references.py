"""Merchant references: what a provider carries back in its notifications. Kept apart from
gateway.py (the API clients' contract) so a payment provider's webhook can parse a reference
without shipping the clients' HTTP machinery."""

from __future__ import annotations


def merchant_reference(order_id: str, attempt: int, *, per_attempt: bool) -> str:
    """The order id, or `<order id>/<attempt>` where the provider refuses a value it has seen
    before (PayU extOrderId, Przelewy24 sessionId)."""
    return f"{order_id}/{attempt}" if per_attempt else order_id


def parse_merchant_reference(reference: str) -> tuple[str, int | None]:
    """`<order id>/<attempt>` -> (order id, attempt); a bare order id -> (order id, None)."""
    order_id, slash, attempt = reference.rpartition("/")
    # Only what merchant_reference writes: ASCII digits, no leading zero, a few of them.
    canonical = attempt.isascii() and attempt.isdigit() and not attempt.startswith("0")
    if slash and order_id and canonical and len(attempt) <= 6:
        return order_id, int(attempt)
    return reference, None
