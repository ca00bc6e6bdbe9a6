from __future__ import annotations

from shared.payments.wiring import GatewaySettings
from shared.platform.blobs import S3Blobs
from shared.platform.secrets import provider_secret
from shared.platform.settings import ConfigurationError
from shared.platform.table import Table
from shared.platform.wiring import Platform, on_aws

MIN_CURSOR_KEY_CHARS = 32


class ApiSettings(GatewaySettings):
    table_name: str
    documents_bucket: str  # order details too large for an item are read from orders/
    cursor_secret_id: str  # Secrets Manager: {"key": "<random>"}, the cursors' HMAC key
    state_machine_arn: str = ""  # releasing a held order resumes its waiting workflow
    # How long an own-store order (POST /api/v1/orders) waits for its payment.
    payment_window_seconds: int = 24 * 3600


def platform() -> Platform:
    """What the API's stores are built on (it starts no workflows)."""
    settings = ApiSettings.load()
    return on_aws(settings.table_name, settings.documents_bucket)


def table() -> Table:
    return Table(ApiSettings.load().table_name)


def blobs() -> S3Blobs:
    return S3Blobs(ApiSettings.load().documents_bucket)


def cursor_key() -> bytes:
    """The deployment's key that signs list cursors; read from Secrets Manager only when a
    cursor is issued or checked, then cached like every secret (5 minutes)."""
    secret_id = ApiSettings.load().cursor_secret_id
    key = provider_secret(secret_id).get("key")
    if not isinstance(key, str) or len(key) < MIN_CURSOR_KEY_CHARS:
        raise ConfigurationError(
            f"secret {secret_id} needs a key of at least {MIN_CURSOR_KEY_CHARS} characters"
        )
    return key.encode()
