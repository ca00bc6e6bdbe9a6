"""API keys, stored as SHA-256 hashes with scopes.

A key is 256 random bits, so a fast hash is enough: there is nothing to brute-force, and the
lookup by hash is a GetItem, not a compare over all keys.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from shared.kernel.time import utc_iso
from shared.platform.table import Table

KEY_PREFIX = "ohk_"
ALL_SCOPES = frozenset(
    {"orders:read", "orders:write", "payments:write", "stock:read", "stock:write"}
)


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class ApiKey:
    name: str
    scopes: frozenset[str]


class ApiKeyRepository:
    def __init__(self, table: Table) -> None:
        self._table = table

    def create(self, api_key: str, *, name: str, scopes: frozenset[str], at: datetime) -> None:
        unknown = scopes - ALL_SCOPES
        if unknown:
            raise ValueError(f"unknown scopes: {sorted(unknown)}")
        self._table.put(
            {
                "PK": f"APIKEY#{hash_key(api_key)}",
                "SK": "APIKEY",
                "type": "api_key",
                "name": name,
                "scopes": set(scopes),
                "hint": api_key[:8] + "...",
                "created_at": utc_iso(at),
            }
        )

    def find(self, api_key: str) -> ApiKey | None:
        item = self._table.get(f"APIKEY#{hash_key(api_key)}", "APIKEY")
        if item is None or item.get("revoked"):
            return None
        return ApiKey(name=item["name"], scopes=frozenset(item.get("scopes", set())))
