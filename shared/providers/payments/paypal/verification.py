"""Is a delivery PayPal's? Two documented ways, chosen by the secret's `verification` field.

developer.paypal.com/api/rest/webhooks/rest/ ("Integrate webhooks") and the Webhooks API
(developer.paypal.com/api/webhooks/v1/#verify-webhook-signature_post):

- "api" (the default): POST {base}/v1/notifications/verify-webhook-signature with the five
  PAYPAL-* transmission headers, our webhook id and the event; PayPal answers
  {"verification_status": "SUCCESS" | "FAILURE"}. The event is sent as the exact bytes PayPal
  delivered (spliced into the request, not re-serialised): PayPal checks a CRC32 of them, and
  a re-encoded body (other spacing, escaping, number forms) no longer matches.
- "offline": PayPal signs f"{transmission_id}|{transmission_time}|{webhook_id}|{crc32}" (CRC32
  of the raw body as an unsigned decimal) with RSA-SHA256 (PAYPAL-AUTH-ALGO SHA256withRSA,
  PKCS#1 v1.5); the key is in the certificate at PAYPAL-CERT-URL. The URL is fetched only over
  https from paypal.com or a *.paypal.com host, the certificate must be in its validity dates,
  name a *.paypal.com subject (CN) and chain to a trusted root (certifi's bundle), as PayPal's
  own SDKs check (paypalrestsdk notifications.py: chain, common name, expiry).

When PayPal cannot be asked (timeout, 5xx, OAuth refused) `VerificationUnavailable` is raised:
it is not a WebhookRejected, so the route lets it through and the function answers 500, which
PayPal retries (up to 25 times over 3 days). Nothing is stored meanwhile.

httpx and cryptography are imported on first use: other providers' webhooks never load them.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import warnings
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import TypeAdapter, ValidationError

from shared.inbox.contract import Headers, MalformedWebhook, SignatureMismatch
from shared.payments.gateway import GatewayError
from shared.providers.payments.paypal.oauth import AccessTokens

if TYPE_CHECKING:
    import httpx
    from cryptography import x509

TRANSMISSION_ID = "PAYPAL-TRANSMISSION-ID"
TRANSMISSION_TIME = "PAYPAL-TRANSMISSION-TIME"
TRANSMISSION_SIG = "PAYPAL-TRANSMISSION-SIG"
CERT_URL = "PAYPAL-CERT-URL"
AUTH_ALGO = "PAYPAL-AUTH-ALGO"
SIGNING_ALGORITHM = "SHA256withRSA"
VERIFY_PATH = "/v1/notifications/verify-webhook-signature"
TIMEOUT_SECONDS = 5.0
MAX_CERTIFICATE_BYTES = 64 * 1024
CACHED_CERTIFICATES = 16

# The verify API's own limits (verify_webhook_signature schema): longer values are refused
# here rather than sent.
_LIMITS = {TRANSMISSION_ID: 50, TRANSMISSION_TIME: 100, TRANSMISSION_SIG: 500, CERT_URL: 500}


class VerificationUnavailable(Exception):
    """PayPal (its verify API or its certificate host) could not be asked: answer 5xx so that
    PayPal delivers again later. Deliberately not a WebhookRejected."""


@dataclass(frozen=True)
class Transmission:
    """The PAYPAL-* headers of one delivery."""

    transmission_id: str
    transmission_time: str
    transmission_sig: str
    cert_url: str
    auth_algo: str

    @classmethod
    def from_headers(cls, headers: Headers) -> Transmission:
        values: dict[str, str] = {}
        for name in (TRANSMISSION_ID, TRANSMISSION_TIME, TRANSMISSION_SIG, CERT_URL, AUTH_ALGO):
            value = headers.get(name, "").strip()
            if not value:
                raise SignatureMismatch(f"missing {name}")
            if len(value) > _LIMITS.get(name, 100) or not value.isascii():
                raise SignatureMismatch(f"{name} is not a PayPal value")
            values[name] = value
        return cls(
            transmission_id=values[TRANSMISSION_ID],
            transmission_time=values[TRANSMISSION_TIME],
            transmission_sig=values[TRANSMISSION_SIG],
            cert_url=values[CERT_URL],
            auth_algo=values[AUTH_ALGO],
        )


def crc32_decimal(raw_body: bytes) -> str:
    """CRC32 of the exact body bytes, as PayPal writes it: an unsigned decimal."""
    return str(zlib.crc32(raw_body) & 0xFFFFFFFF)


def signed_string(
    transmission_id: str, transmission_time: str, webhook_id: str, raw_body: bytes
) -> str:
    """What PayPal signs for one transmission to one webhook."""
    return f"{transmission_id}|{transmission_time}|{webhook_id}|{crc32_decimal(raw_body)}"


def is_paypal_host(url: str) -> bool:
    """https, no credentials, default port, host paypal.com or *.paypal.com."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    return (
        parts.scheme == "https"
        and not parts.username
        and not parts.password
        and port in (None, 443)
        and (host == "paypal.com" or (host.endswith(".paypal.com") and len(host) > 11))
    )


# -- the module's HTTP client and token cache (built on first use) ----------------------------

_http_lock = threading.Lock()
_http_client: httpx.Client | None = None
TOKENS = AccessTokens()


def default_http() -> httpx.Client:
    """One client per process for verification calls: short timeouts, no redirects."""
    global _http_client  # noqa: PLW0603 - a lazily built, process-wide client
    with _http_lock:
        if _http_client is None:
            import httpx

            _http_client = httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False)
        return _http_client


# -- "api": ask PayPal ----------------------------------------------------------------------------

_JSON_OBJECT: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, Any])


def verify_request_body(transmission: Transmission, webhook_id: str, raw_body: bytes) -> bytes:
    """The verify-webhook-signature request, with the delivered bytes as `webhook_event`."""
    try:
        _JSON_OBJECT.validate_json(raw_body)
    except ValidationError as error:
        raise MalformedWebhook("body is not a JSON object PayPal could have signed") from error
    fields = json.dumps(
        {
            "auth_algo": transmission.auth_algo,
            "cert_url": transmission.cert_url,
            "transmission_id": transmission.transmission_id,
            "transmission_sig": transmission.transmission_sig,
            "transmission_time": transmission.transmission_time,
            "webhook_id": webhook_id,
        },
        separators=(",", ":"),
    )
    return fields[:-1].encode() + b',"webhook_event":' + raw_body + b"}"


def verify_with_api(
    transmission: Transmission,
    raw_body: bytes,
    *,
    base_url: str,
    client_id: str,
    client_secret: str,
    webhook_id: str,
    http: httpx.Client,
    tokens: AccessTokens = TOKENS,
) -> None:
    """SUCCESS passes; FAILURE (or a request PayPal calls invalid) is SignatureMismatch."""
    import httpx

    body = verify_request_body(transmission, webhook_id, raw_body)
    for attempt in (1, 2):
        try:
            token = tokens.token(http, base_url, client_id, client_secret)
        except GatewayError as error:
            raise VerificationUnavailable(f"PayPal OAuth failed: {error}") from error
        try:
            response = http.post(
                f"{base_url}{VERIFY_PATH}",
                content=body,
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                },
            )
        except httpx.HTTPError as error:
            raise VerificationUnavailable(
                f"PayPal verify-webhook-signature: {type(error).__name__}: {error}"
            ) from error
        if response.status_code == 401 and attempt == 1:
            tokens.forget(base_url, client_id, client_secret)  # revoked or expired early
            continue
        break
    status = response.status_code
    if status in (400, 422):
        raise SignatureMismatch(f"PayPal refused to verify the transmission (HTTP {status})")
    if status != 200:
        raise VerificationUnavailable(
            f"PayPal verify-webhook-signature: HTTP {status} {response.text[:300]}"
        )
    try:
        verdict = response.json().get("verification_status")
    except (ValueError, AttributeError) as error:
        raise VerificationUnavailable(
            "PayPal verify-webhook-signature: unreadable answer"
        ) from error
    if verdict != "SUCCESS":
        raise SignatureMismatch(f"PayPal says the transmission is not its own ({verdict})")


# -- "offline": check the signature with PayPal's certificate ------------------------------------

CertificateFetcher = Callable[[str], bytes]


def fetch_certificate(url: str, http: httpx.Client | None = None) -> bytes:
    """GET the PEM at a (checked) PayPal certificate URL; at most 64 KiB, no redirects."""
    import httpx

    client = http or default_http()
    try:
        with client.stream("GET", url, follow_redirects=False) as response:
            if response.status_code >= 500 or response.status_code == 429:
                raise VerificationUnavailable(
                    f"PayPal certificate URL: HTTP {response.status_code}"
                )
            if response.status_code != 200:
                raise SignatureMismatch(
                    f"PayPal certificate URL answered HTTP {response.status_code}"
                )
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_CERTIFICATE_BYTES:
                    raise SignatureMismatch("the certificate at PAYPAL-CERT-URL is too large")
                chunks.append(chunk)
    except httpx.HTTPError as error:
        raise VerificationUnavailable(
            f"PayPal certificate URL: {type(error).__name__}: {error}"
        ) from error
    return b"".join(chunks)


_roots_lock = threading.Lock()
_certifi_roots: list[x509.Certificate] | None = None


def certifi_roots() -> list[x509.Certificate]:
    """The trusted roots: certifi's Mozilla bundle, loaded once."""
    global _certifi_roots  # noqa: PLW0603 - loaded once per process
    with _roots_lock:
        if _certifi_roots is None:
            import certifi

            with open(certifi.where(), "rb") as bundle:
                _certifi_roots = load_roots(bundle.read())
        return _certifi_roots


_PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)


def load_roots(bundle: bytes) -> list[x509.Certificate]:
    """Every certificate of a PEM bundle that loads; one the parser refuses (certifi carries a
    root with a non-positive serial, which cryptography warns it will refuse) is skipped rather
    than failing the whole bundle."""
    from cryptography import x509
    from cryptography.utils import CryptographyDeprecationWarning

    roots = []
    for block in _PEM_BLOCK.findall(bundle):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            try:
                roots.append(x509.load_pem_x509_certificate(block))
            except ValueError:
                continue
    return roots


def is_paypal_name(common_name: str) -> bool:
    name = common_name.lower()
    return name == "paypal.com" or (name.endswith(".paypal.com") and len(name) > 11)


class OfflineVerifier:
    """RSA-SHA256 with the certificate PAYPAL-CERT-URL names (fetched once per URL).

    `fetch` and `trusted_roots` are injectable (tests make their own CA); `now` is the clock
    the validity dates and the chain are checked at."""

    def __init__(
        self,
        *,
        fetch: CertificateFetcher | None = None,
        trusted_roots: Sequence[x509.Certificate] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._fetch = fetch or fetch_certificate
        self._roots = list(trusted_roots) if trusted_roots is not None else None
        self._now = now
        self._cache: dict[str, list[x509.Certificate]] = {}
        self._lock = threading.Lock()

    def verify(self, transmission: Transmission, raw_body: bytes, webhook_id: str) -> None:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding, rsa

        if transmission.auth_algo.lower() != SIGNING_ALGORITHM.lower():
            raise SignatureMismatch(
                f"PAYPAL-AUTH-ALGO {transmission.auth_algo!r} is not {SIGNING_ALGORITHM}"
            )
        if not is_paypal_host(transmission.cert_url):
            raise SignatureMismatch("PAYPAL-CERT-URL is not an https URL on a paypal.com host")
        try:
            signature = base64.b64decode(transmission.transmission_sig, validate=True)
        except (binascii.Error, ValueError) as error:
            raise SignatureMismatch("PAYPAL-TRANSMISSION-SIG is not base64") from error
        chain = self._certificates(transmission.cert_url)
        leaf = self._check_certificate(chain)
        key = leaf.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise SignatureMismatch("PayPal's certificate does not hold an RSA key")
        message = signed_string(
            transmission.transmission_id, transmission.transmission_time, webhook_id, raw_body
        ).encode()
        try:
            key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature as error:
            raise SignatureMismatch("the transmission signature does not match") from error

    def _certificates(self, url: str) -> list[x509.Certificate]:
        with self._lock:
            found = self._cache.get(url)
        if found is not None:
            return found
        from cryptography import x509

        pem = self._fetch(url)
        try:
            chain = x509.load_pem_x509_certificates(pem)
        except ValueError as error:
            raise SignatureMismatch("PAYPAL-CERT-URL did not serve a PEM certificate") from error
        with self._lock:
            if len(self._cache) >= CACHED_CERTIFICATES:
                self._cache.pop(next(iter(self._cache)))
            self._cache[url] = chain
        return chain

    def _check_certificate(self, chain: list[x509.Certificate]) -> x509.Certificate:
        """The leaf, once it is in date, names PayPal and chains to a trusted root."""
        from cryptography.x509 import DNSName
        from cryptography.x509.oid import NameOID
        from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

        leaf, intermediates = chain[0], chain[1:]
        now = self._now()
        if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
            raise SignatureMismatch("PayPal's certificate is expired or not yet valid")
        names = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        common_name = names[0].value if len(names) == 1 else None
        if not isinstance(common_name, str) or not is_paypal_name(common_name):
            raise SignatureMismatch("the certificate's subject is not a paypal.com name")
        try:
            verifier = (
                PolicyBuilder()
                .store(Store(self._roots if self._roots is not None else certifi_roots()))
                .time(now)
                .build_server_verifier(DNSName(common_name.lower()))
            )
            verifier.verify(leaf, intermediates)
        except (VerificationError, ValueError) as error:
            raise SignatureMismatch(
                f"PayPal's certificate does not chain to a trusted root: {error}"
            ) from error
        return leaf
