"""What a fresh embedded stack needs to be usable: provider secrets, an API key, a catalogue."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from typing import Any

from shared import registry
from shared.platform.api_keys import ALL_SCOPES, ApiKeyRepository, generate_key
from shared.platform.clock import utc_now
from shared.platform.table import Table
from shared.registry import Provider
from shared.stock.store import StockRepository

# SKU -> units per warehouse. Some are deliberately scarce: the last poster and the notebook
# that is out of stock show backorders and contention in the demo and tests.
DEMO_CATALOGUE: dict[str, dict[str, int]] = {
    "MUG-KRAKOW-350": {"WAW-1": 40, "KRK-1": 12},
    "TEE-ORGANIC-M": {"WAW-1": 25},
    "TEE-ORGANIC-L": {"WAW-1": 3},
    "POSTER-A2-TATRY": {"KRK-1": 1},
    "NOTEBOOK-A5-DOT": {"WAW-1": 0},
}


# The management API's cursor key (infra/constructs/api.py), not a provider's secret.
CURSOR_KEY_NAME = "api-cursor"


def provider_of(secret_name: str) -> str:
    """'orderhub-dev/stripe' -> 'stripe'."""
    return secret_name.rsplit("/", 1)[-1]


def provider_secret_document(
    provider: Provider, chosen: dict[str, str] | None = None
) -> dict[str, str]:
    """A provider's secret as the registry describes it: each field from `chosen`, else from
    its environment variable, else generated when required (random, in the provider's shape)."""
    document: dict[str, str] = {}
    for field in provider.secrets:
        value = (chosen or {}).get(field.name) or os.environ.get(field.env)
        if not value and (field.required or field.generated_locally):
            value = (
                str(secrets.randbelow(900_000) + 100_000)
                if field.generated_digits
                else field.generated_prefix + secrets.token_hex(24)
            )
        if value:
            document[field.name] = value
    return document


@dataclass(frozen=True)
class Seeded:
    api_key: str
    provider_secrets: dict[str, dict[str, str]]  # provider -> its secret document


def seed(
    secrets_client: Any,
    table_name: str,
    secret_arns: dict[str, str],
    *,
    api_key: str | None,
    provider_secrets: dict[str, dict[str, str]] | None,
    catalogue: dict[str, dict[str, int]] | None,
) -> Seeded:
    chosen: dict[str, dict[str, str]] = {}
    for name, arn in secret_arns.items():
        source = provider_of(name)
        if source == CURSOR_KEY_NAME:
            # The API's cursor-signing key: the deployer fills generated values with a fixed
            # placeholder, so each embedded stack gets its own random key here.
            signing_key = {"key": secrets.token_urlsafe(48)}
            secrets_client.put_secret_value(SecretId=arn, SecretString=json.dumps(signing_key))
            continue
        document = provider_secret_document(
            registry.provider(source), (provider_secrets or {}).get(source)
        )
        secrets_client.put_secret_value(SecretId=arn, SecretString=json.dumps(document))
        chosen[source] = document
    table = Table(table_name)
    key = api_key or os.environ.get("ORDERHUB_API_KEY") or generate_key()
    ApiKeyRepository(table).create(key, name="local", scopes=ALL_SCOPES, at=utc_now())
    stock = StockRepository(table)
    for sku, warehouses in (catalogue or {}).items():
        for warehouse, units in warehouses.items():
            stock.set_on_hand(sku, warehouse, units, at=utc_now())
    return Seeded(api_key=key, provider_secrets=chosen)
