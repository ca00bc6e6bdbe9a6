"""What every provider simulator builds: signed requests exactly as the provider sends them.

Simulators live beside each provider's webhook code (shared/providers/<kind>/<name>/simulator.py)
and are used by the embedded stack's demo, the tests and the bench; no Lambda package imports
them (they need httpx to send).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import httpx


@dataclass(frozen=True)
class SignedRequest:
    path: str
    body: bytes
    headers: dict[str, str]

    def tampered(self) -> SignedRequest:
        """The same signature over a body someone changed in transit."""
        return SignedRequest(self.path, self.body.replace(b'"', b' "', 1), self.headers)

    def send(self, client: httpx.Client) -> httpx.Response:
        return client.post(self.path, content=self.body, headers=self.headers)


@dataclass(frozen=True)
class Line:
    sku: str
    name: str
    quantity: int
    unit_price: str  # gross, as the shop sells it
    vat_rate: str = "0.23"


def money_text(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"
