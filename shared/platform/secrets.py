"""Provider secrets from Secrets Manager, cached in the warm container (never in env or logs)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.platform import aws

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

CACHE_SECONDS = 300
_providers: dict[int, SecretsProvider] = {}


def _provider() -> SecretsProvider:
    # One Powertools provider (and its cache) per client: a process that switches environment
    # (tests) gets a fresh cache with its fresh client.
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    client = aws.secretsmanager()
    provider = _providers.get(id(client))
    if provider is None:
        _providers.clear()
        provider = _providers[id(client)] = SecretsProvider(boto3_client=client)
    return provider


def provider_secret(secret_id: str) -> dict[str, Any]:
    """A provider's JSON secret, e.g. {"webhook_secret": "..."}; cached for 5 minutes so a
    rotated secret is picked up without a redeploy."""
    value = _provider().get(secret_id, max_age=CACHE_SECONDS, transform="json")
    if not isinstance(value, dict):
        raise TypeError(f"secret {secret_id} is not a JSON object")
    return value
