"""Provider secrets from Secrets Manager, cached in the warm container (never in env or logs).

Read with the function's own Secrets Manager client and cached here for 5 minutes (what
Powertools' SecretsProvider would do, without importing boto3 and Powertools' parameters
package on the webhook's cold path: about 20-35 ms of a cold start, docs/performance.md).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from shared.platform import aws

CACHE_SECONDS = 300
_lock = threading.Lock()
# secret id -> (the client it was read with, read at, value): a process that switches
# environment (tests, the embedded stack) gets a fresh client, and so never another
# environment's cached value.
_cache: dict[str, tuple[Any, float, dict[str, Any]]] = {}


def provider_secret(secret_id: str) -> dict[str, Any]:
    """A provider's JSON secret, e.g. {"webhook_secret": "..."}; cached for 5 minutes so a
    rotated secret is picked up without a redeploy."""
    client = aws.secretsmanager()
    cached = _cache.get(secret_id)
    now = time.monotonic()
    if cached is not None and cached[0] is client and now - cached[1] < CACHE_SECONDS:
        return dict(cached[2])  # a copy: a caller that changes it must not change the cache
    value = json.loads(client.get_secret_value(SecretId=secret_id)["SecretString"])
    if not isinstance(value, dict):
        raise TypeError(f"secret {secret_id} is not a JSON object")
    with _lock:
        _cache[secret_id] = (client, now, value)
    return dict(value)


def update_provider_secret(secret_id: str, fields: dict[str, str]) -> dict[str, Any]:
    """Merge `fields` into a provider's JSON secret (a rotated OAuth refresh token, a cached
    access token) and keep the result as the cached value. Read fresh first: another field may
    have been set in the console since this container cached the secret."""
    client = aws.secretsmanager()
    current = json.loads(client.get_secret_value(SecretId=secret_id)["SecretString"])
    if not isinstance(current, dict):
        raise TypeError(f"secret {secret_id} is not a JSON object")
    current.update(fields)
    client.put_secret_value(SecretId=secret_id, SecretString=json.dumps(current))
    with _lock:
        _cache[secret_id] = (client, time.monotonic(), current)
    return dict(current)
