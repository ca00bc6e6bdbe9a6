"""Where the store's REST API is and how orderhub signs in to it (the poll and the client).

Authentication (woocommerce-rest-api-docs, wp-api-v3 _authentication.md): over HTTPS, HTTP Basic
with the consumer key as the user and the consumer secret as the password. The consumer key and
secret as query parameters are also accepted there, and over plain HTTP only OAuth 1.0a is: this
module sends Basic only, and only over HTTPS (or to a simulator on this machine), so the keys
never travel in the clear or land in access logs as query strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

API_PREFIX = "/wp-json/wc/v3"
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class StoreNotConfigured(ValueError):
    """The secret lacks the store URL or the REST API keys, or names a URL they cannot go to."""


@dataclass(frozen=True)
class StoreApi:
    base_url: str  # the store's URL, e.g. https://sklep.example (no trailing slash)
    consumer_key: str
    consumer_secret: str

    @classmethod
    def configured(cls, document: Mapping[str, Any]) -> bool:
        return all(
            str(document.get(name) or "").strip()
            for name in ("api_url", "consumer_key", "consumer_secret")
        )

    @classmethod
    def from_secret(cls, document: Mapping[str, Any]) -> StoreApi:
        fields = {
            name: str(document.get(name) or "").strip()
            for name in ("api_url", "consumer_key", "consumer_secret")
        }
        missing = [name for name, value in fields.items() if not value]
        if missing:
            raise StoreNotConfigured(f"woocommerce's secret has no {', '.join(missing)}")
        base = fields["api_url"].rstrip("/")
        url = urlsplit(base)
        if url.scheme != "https" and not (url.scheme == "http" and url.hostname in _LOCAL_HOSTS):
            raise StoreNotConfigured(
                f"api_url {base!r} is not https: WooCommerce takes Basic auth over TLS only"
            )
        return cls(base, fields["consumer_key"], fields["consumer_secret"])

    def url(self, path: str) -> str:
        return f"{self.base_url}{API_PREFIX}{path}"

    @property
    def auth(self) -> tuple[str, str]:
        return (self.consumer_key, self.consumer_secret)
