"""The payment providers' API clients a function may call, built lazily from their secrets.

A function that opens sessions, captures, refunds or reconciles gets `PAYMENT_SECRET_IDS`, a
JSON object of provider name -> secret id (the CDK app grants it read on exactly those
secrets). Each gateway is built once per secret version the cache hands out (5 minutes), so
a rotated key is picked up without a redeploy.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

from shared.payments.gateway import PaymentGateway
from shared.registry import provider

SecretReader = Callable[[str], dict[str, Any]]
# Outbound calls to providers: short enough that a stuck provider fails the step (and it is
# retried), long enough for a PayU or P24 order registration under load.
TIMEOUT_SECONDS = 10.0


class UnknownPaymentProvider(LookupError):
    """A provider with no gateway configured for this function."""


class Gateways:
    def __init__(
        self,
        secret_ids: Mapping[str, str],
        read_secret: SecretReader | None = None,
        http: Any = None,
    ) -> None:
        self._secret_ids = dict(secret_ids)
        self._read = read_secret
        self._http = http
        self._built: dict[str, tuple[str, PaymentGateway]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_json(cls, document: str, **kwargs: Any) -> Gateways:
        ids = json.loads(document or "{}")
        if not isinstance(ids, dict):
            raise TypeError("PAYMENT_SECRET_IDS is not a JSON object")
        return cls({str(k): str(v) for k, v in ids.items()}, **kwargs)

    @property
    def providers(self) -> tuple[str, ...]:
        return tuple(self._secret_ids)

    def secret(self, name: str) -> dict[str, Any]:
        secret_id = self._secret_ids.get(name)
        if secret_id is None:
            raise UnknownPaymentProvider(f"no payment gateway {name!r} is configured here")
        if self._read is None:
            from shared.platform.secrets import provider_secret

            self._read = provider_secret
        return self._read(secret_id)

    def __call__(self, name: str) -> PaymentGateway:
        document = self.secret(name)
        fingerprint = json.dumps(document, sort_keys=True)
        with self._lock:
            found = self._built.get(name)
            if found is not None and found[0] == fingerprint:
                return found[1]
            gateway: PaymentGateway = (
                provider(name).gateway_factory().from_secret(document, self._client())
            )
            self._built[name] = (fingerprint, gateway)
            return gateway

    def _client(self) -> Any:
        if self._http is None:
            import httpx

            self._http = httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False)
        return self._http


GatewayLookup = Callable[[str], PaymentGateway]
