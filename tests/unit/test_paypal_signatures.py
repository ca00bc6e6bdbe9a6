"""PayPal transmissions: the signed string against PayPal's own SDK samples, offline RSA-SHA256
verification against a certificate chain made here, and the verify-webhook-signature API
(over an httpx.MockTransport: unit tests open no sockets)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from shared.inbox.contract import (
    Headers,
    MalformedWebhook,
    ProviderNotConfigured,
    SignatureMismatch,
    WebhookRejected,
    WebhookRequest,
)
from shared.inbox.service import authenticate
from shared.providers.payments.paypal.oauth import AccessTokens
from shared.providers.payments.paypal.verification import (
    OfflineVerifier,
    Transmission,
    VerificationUnavailable,
    crc32_decimal,
    is_paypal_host,
    signed_string,
    verify_request_body,
)
from shared.providers.payments.paypal.webhook import PayPalWebhooks
from tests.unit.conftest import fixture_bytes, fixture_json

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
WEBHOOK_ID = "9XL90610J3647323C"
CERT_URL = "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77"
SAMPLES = ["php", "python"]


def sample(name: str) -> tuple[bytes, dict[str, str]]:
    """A PAYMENT.SALE.COMPLETED body (exact bytes) and its headers, from PayPal's SDK samples."""
    body = fixture_bytes(f"paypal/payment_sale_completed_{name}_sdk_sample.json")
    headers: dict[str, str] = fixture_json(
        f"paypal/payment_sale_completed_{name}_sdk_sample.headers.json"
    )
    return body, headers


def request(body: bytes, headers: dict[str, str]) -> WebhookRequest:
    return WebhookRequest(Headers(headers), raw_body=body, received_at=NOW)


# -- the signed string -------------------------------------------------------------------------


@pytest.mark.parametrize("name", SAMPLES)
def test_the_signed_string_reproduces_the_sdk_samples(name: str) -> None:
    # Given the exact bytes PayPal's SDK sample verifies and the headers it came with
    body, headers = sample(name)
    by_name = Headers(headers)
    # When we build what PayPal signs, Then it is the string computed from the sample
    ours = signed_string(
        by_name["PAYPAL-TRANSMISSION-ID"],
        by_name["PAYPAL-TRANSMISSION-TIME"],
        headers["_webhook_id"],
        body,
    )
    assert ours == headers["_signed_string_computed"]


def test_the_crc32_is_an_unsigned_decimal_of_the_exact_bytes() -> None:
    body, headers = sample("python")
    # 2771810304 > 2**31: a signed CRC32 (Java, PHP on 32 bits) would be negative.
    assert crc32_decimal(body) == "2771810304" == headers["_signed_string_computed"].split("|")[3]
    assert crc32_decimal(body + b"\n") != crc32_decimal(body)


def test_the_sdk_samples_carry_every_transmission_header() -> None:
    for name in SAMPLES:
        _, headers = sample(name)
        transmission = Transmission.from_headers(Headers(headers))
        assert transmission.cert_url.startswith("https://api.sandbox.paypal.com/")
        assert is_paypal_host(transmission.cert_url)


# -- a certificate chain made here ---------------------------------------------------------------


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=not ca,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def issue(
    subject: str,
    key: Any,
    issuer: str,
    issuer_key: rsa.RSAPrivateKey,
    *,
    ca: bool = False,
    not_before: dt.datetime = NOW - dt.timedelta(days=30),
    not_after: dt.datetime = NOW + dt.timedelta(days=300),
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.BasicConstraints(ca=ca, path_length=0 if ca and subject != issuer else None),
            critical=True,
        )
        .add_extension(_usage(ca=ca), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    if not ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        ).add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@dataclass(frozen=True)
class Pki:
    root: x509.Certificate
    root_key: rsa.RSAPrivateKey
    intermediate: x509.Certificate
    intermediate_key: rsa.RSAPrivateKey
    leaf_key: rsa.RSAPrivateKey

    def leaf(
        self, common_name: str = "messageverificationcerts.paypal.com", **dates: Any
    ) -> x509.Certificate:
        return issue(
            common_name, self.leaf_key, "Test Intermediate CA", self.intermediate_key, **dates
        )

    def pem(self, *certificates: x509.Certificate) -> bytes:
        from cryptography.hazmat.primitives.serialization import Encoding

        return b"".join(c.public_bytes(Encoding.PEM) for c in certificates)

    def sign(self, text: str, key: rsa.RSAPrivateKey | None = None) -> str:
        signer = key or self.leaf_key
        return base64.b64encode(
            signer.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())
        ).decode()


@pytest.fixture(scope="module")
def pki() -> Pki:
    root_key, intermediate_key = _key(), _key()
    root = issue("Test Root CA", root_key, "Test Root CA", root_key, ca=True)
    intermediate = issue(
        "Test Intermediate CA", intermediate_key, "Test Root CA", root_key, ca=True
    )
    return Pki(root, root_key, intermediate, intermediate_key, _key())


BODY = b'{"id":"WH-1","event_type":"PAYMENT.CAPTURE.COMPLETED","resource":{"id":"C1"}}'


def transmission_headers(
    pki: Pki,
    body: bytes = BODY,
    *,
    cert_url: str = CERT_URL,
    changes: dict[str, str] | None = None,
) -> dict[str, str]:
    transmission_id, transmission_time = (
        "b2384410-f8d2-11e8-9f2d-4d5d5cd3c8ba",
        "2026-12-01T11:59:58Z",
    )
    headers = {
        "PAYPAL-TRANSMISSION-ID": transmission_id,
        "PAYPAL-TRANSMISSION-TIME": transmission_time,
        "PAYPAL-TRANSMISSION-SIG": pki.sign(
            signed_string(transmission_id, transmission_time, WEBHOOK_ID, body)
        ),
        "PAYPAL-CERT-URL": cert_url,
        "PAYPAL-AUTH-ALGO": "SHA256withRSA",
    }
    headers.update(changes or {})
    return headers


@dataclass
class CertificateHost:
    """Serves PEM bytes by URL, and counts what was asked."""

    served: dict[str, bytes]
    asked: list[str]

    def __call__(self, url: str) -> bytes:
        self.asked.append(url)
        return self.served[url]


def offline(
    pki: Pki, pem: bytes, *, now: dt.datetime = NOW
) -> tuple[OfflineVerifier, CertificateHost]:
    host = CertificateHost({CERT_URL: pem}, [])
    return OfflineVerifier(fetch=host, trusted_roots=[pki.root], now=lambda: now), host


def verify_offline(verifier: OfflineVerifier, headers: dict[str, str], body: bytes = BODY) -> None:
    verifier.verify(Transmission.from_headers(Headers(headers)), body, WEBHOOK_ID)


# -- offline verification --------------------------------------------------------------------


def test_a_transmission_signed_with_the_paypal_certificate_verifies(pki: Pki) -> None:
    verifier, host = offline(pki, pki.pem(pki.leaf(), pki.intermediate))
    verify_offline(verifier, transmission_headers(pki))  # does not raise
    assert host.asked == [CERT_URL]


def test_the_certificate_is_fetched_once_per_url(pki: Pki) -> None:
    verifier, host = offline(pki, pki.pem(pki.leaf(), pki.intermediate))
    for _ in range(3):
        verify_offline(verifier, transmission_headers(pki))
    assert host.asked == [CERT_URL]


def test_a_tampered_body_is_rejected(pki: Pki) -> None:
    verifier, _ = offline(pki, pki.pem(pki.leaf(), pki.intermediate))
    headers = transmission_headers(pki)
    with pytest.raises(SignatureMismatch, match="does not match"):
        verify_offline(verifier, headers, BODY.replace(b"C1", b"C2"))


def test_another_webhook_id_is_rejected(pki: Pki) -> None:
    verifier, _ = offline(pki, pki.pem(pki.leaf(), pki.intermediate))
    headers = transmission_headers(pki)
    with pytest.raises(SignatureMismatch, match="does not match"):
        verifier.verify(Transmission.from_headers(Headers(headers)), BODY, "OTHERWEBHOOK1")


def test_a_signature_by_another_key_is_rejected(pki: Pki) -> None:
    verifier, _ = offline(pki, pki.pem(pki.leaf(), pki.intermediate))
    text = signed_string(
        "b2384410-f8d2-11e8-9f2d-4d5d5cd3c8ba", "2026-12-01T11:59:58Z", WEBHOOK_ID, BODY
    )
    forged = transmission_headers(
        pki, changes={"PAYPAL-TRANSMISSION-SIG": pki.sign(text, pki.intermediate_key)}
    )
    with pytest.raises(SignatureMismatch, match="does not match"):
        verify_offline(verifier, forged)


def test_an_expired_leaf_is_rejected(pki: Pki) -> None:
    expired = pki.leaf(
        not_before=NOW - dt.timedelta(days=400), not_after=NOW - dt.timedelta(days=1)
    )
    verifier, _ = offline(pki, pki.pem(expired, pki.intermediate))
    with pytest.raises(SignatureMismatch, match="expired"):
        verify_offline(verifier, transmission_headers(pki))


def test_a_leaf_not_yet_valid_is_rejected(pki: Pki) -> None:
    early = pki.leaf(not_before=NOW + dt.timedelta(days=1))
    verifier, _ = offline(pki, pki.pem(early, pki.intermediate))
    with pytest.raises(SignatureMismatch, match="not yet valid"):
        verify_offline(verifier, transmission_headers(pki))


def test_the_dates_are_checked_at_each_delivery_not_once_per_fetch(pki: Pki) -> None:
    # Given a certificate cached while it was valid, When a delivery comes after it expired
    leaf = pki.leaf(not_after=NOW + dt.timedelta(days=1))
    clock = [NOW]
    host = CertificateHost({CERT_URL: pki.pem(leaf, pki.intermediate)}, [])
    verifier = OfflineVerifier(fetch=host, trusted_roots=[pki.root], now=lambda: clock[0])
    verify_offline(verifier, transmission_headers(pki))
    clock[0] = NOW + dt.timedelta(days=2)
    # Then it is refused
    with pytest.raises(SignatureMismatch, match="expired"):
        verify_offline(verifier, transmission_headers(pki))


@pytest.mark.parametrize(
    "common_name",
    ["messageverificationcerts.paypal.com.evil.example", "paypal.com.example", "evilpaypal.com"],
)
def test_a_certificate_not_named_for_paypal_is_rejected(pki: Pki, common_name: str) -> None:
    verifier, _ = offline(pki, pki.pem(pki.leaf(common_name), pki.intermediate))
    with pytest.raises(SignatureMismatch, match=r"not a paypal\.com name"):
        verify_offline(verifier, transmission_headers(pki))


def test_a_chain_to_an_untrusted_root_is_rejected(pki: Pki) -> None:
    # Given a PayPal-named leaf issued by a CA that is not among the trusted roots
    rogue_key = _key()
    rogue = issue("Rogue CA", rogue_key, "Rogue CA", rogue_key, ca=True)
    leaf = issue("messageverificationcerts.paypal.com", pki.leaf_key, "Rogue CA", rogue_key)
    verifier, _ = offline(pki, pki.pem(leaf, rogue))
    with pytest.raises(SignatureMismatch, match="trusted root"):
        verify_offline(verifier, transmission_headers(pki))


def test_a_chain_missing_its_intermediate_is_rejected(pki: Pki) -> None:
    verifier, _ = offline(pki, pki.pem(pki.leaf()))
    with pytest.raises(SignatureMismatch, match="trusted root"):
        verify_offline(verifier, transmission_headers(pki))


def test_certifi_roots_are_the_default_and_do_not_trust_a_test_ca(pki: Pki) -> None:
    host = CertificateHost({CERT_URL: pki.pem(pki.leaf(), pki.intermediate)}, [])
    verifier = OfflineVerifier(fetch=host, now=lambda: NOW)
    with pytest.raises(SignatureMismatch, match="trusted root"):
        verify_offline(verifier, transmission_headers(pki))


@pytest.mark.parametrize(
    "url",
    [
        "http://api.sandbox.paypal.com/v1/notifications/certs/CERT-1",
        "https://api.sandbox.paypal.com.evil.example/v1/notifications/certs/CERT-1",
        "https://evilpaypal.com/cert",
        "https://paypal.com@evil.example/cert",
        "https://user:pw@api.paypal.com/cert",
        "https://api.paypal.com:8443/cert",
        "https://127.0.0.1/cert",
        "file:///etc/passwd",
        "https://.paypal.com/cert",
    ],
)
def test_a_certificate_url_off_paypal_hosts_is_refused_before_any_fetch(pki: Pki, url: str) -> None:
    verifier, host = offline(pki, b"")
    with pytest.raises(SignatureMismatch, match="PAYPAL-CERT-URL"):
        verify_offline(verifier, transmission_headers(pki, cert_url=url))
    assert host.asked == []


@pytest.mark.parametrize(
    "url",
    [
        "https://api.paypal.com/v1/notifications/certs/C",
        "https://paypal.com/c",
        "https://API.PAYPAL.COM:443/c",
    ],
)
def test_paypal_hosts_are_accepted(url: str) -> None:
    assert is_paypal_host(url)


def test_another_algorithm_is_refused(pki: Pki) -> None:
    verifier, host = offline(pki, pki.pem(pki.leaf(), pki.intermediate))
    with pytest.raises(SignatureMismatch, match="SHA256withRSA"):
        verify_offline(
            verifier, transmission_headers(pki, changes={"PAYPAL-AUTH-ALGO": "SHA1withRSA"})
        )
    assert host.asked == []


def test_a_signature_that_is_not_base64_is_refused(pki: Pki) -> None:
    verifier, _ = offline(pki, pki.pem(pki.leaf(), pki.intermediate))
    with pytest.raises(SignatureMismatch, match="base64"):
        verify_offline(
            verifier, transmission_headers(pki, changes={"PAYPAL-TRANSMISSION-SIG": "not base64!"})
        )


def test_a_url_serving_no_certificate_is_refused(pki: Pki) -> None:
    verifier, _ = offline(pki, b"<html>hello</html>")
    with pytest.raises(SignatureMismatch, match="PEM"):
        verify_offline(verifier, transmission_headers(pki))


def test_a_certificate_without_an_rsa_key_is_refused(pki: Pki) -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    leaf = issue(
        "messageverificationcerts.paypal.com", ec_key, "Test Intermediate CA", pki.intermediate_key
    )
    verifier, _ = offline(pki, pki.pem(leaf, pki.intermediate))
    with pytest.raises(SignatureMismatch, match="RSA"):
        verify_offline(verifier, transmission_headers(pki))


@pytest.mark.parametrize(
    "missing",
    [
        "PAYPAL-TRANSMISSION-ID",
        "PAYPAL-TRANSMISSION-TIME",
        "PAYPAL-TRANSMISSION-SIG",
        "PAYPAL-CERT-URL",
        "PAYPAL-AUTH-ALGO",
    ],
)
def test_a_missing_transmission_header_is_unsigned(pki: Pki, missing: str) -> None:
    headers = transmission_headers(pki)
    del headers[missing]
    with pytest.raises(SignatureMismatch, match=missing):
        Transmission.from_headers(Headers(headers))


def test_header_names_are_case_insensitive(pki: Pki) -> None:
    # API Gateway lowercases header names.
    verifier, _ = offline(pki, pki.pem(pki.leaf(), pki.intermediate))
    lowered = {k.lower(): v for k, v in transmission_headers(pki).items()}
    verify_offline(verifier, lowered)


def test_the_adapter_verifies_offline_when_the_secret_says_so(pki: Pki) -> None:
    host = CertificateHost({CERT_URL: pki.pem(pki.leaf(), pki.intermediate)}, [])
    adapter = PayPalWebhooks(fetch_certificate=host, trusted_roots=[pki.root], now=lambda: NOW)
    secrets = {
        "webhook_id": WEBHOOK_ID,
        "verification": "offline",
        "client_id": "c",
        "client_secret": "s",
    }
    adapter.verify(request(BODY, transmission_headers(pki)), secrets)
    with pytest.raises(SignatureMismatch):
        adapter.verify(request(BODY + b" ", transmission_headers(pki)), secrets)


def test_an_unknown_verification_mode_is_a_configuration_error(pki: Pki) -> None:
    adapter = PayPalWebhooks()
    with pytest.raises(ProviderNotConfigured, match="verification"):
        adapter.verify(
            request(BODY, transmission_headers(pki)),
            {"webhook_id": WEBHOOK_ID, "verification": "none"},
        )


# -- the verify-webhook-signature API ----------------------------------------------------------

BASE = "https://api-m.sandbox.paypal.com"
SECRETS = {"client_id": "client-1", "client_secret": "secret-1", "webhook_id": WEBHOOK_ID}
Responder = Callable[[httpx.Request], httpx.Response]


class FakePayPal:
    """PayPal's OAuth and verify endpoints behind an httpx.MockTransport."""

    def __init__(self, verdicts: list[httpx.Response | Exception]) -> None:
        self.verdicts = verdicts
        self.calls: list[httpx.Request] = []
        self.tokens_issued = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        if request.url.path == "/v1/oauth2/token":
            self.tokens_issued += 1
            return httpx.Response(
                200, json={"access_token": f"token-{self.tokens_issued}", "expires_in": 32400}
            )
        outcome = self.verdicts.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))

    def verify_calls(self) -> list[httpx.Request]:
        return [c for c in self.calls if c.url.path.endswith("/verify-webhook-signature")]


def api_adapter(paypal: FakePayPal) -> PayPalWebhooks:
    return PayPalWebhooks(http=paypal.client(), tokens=AccessTokens())


def delivered(name: str = "php") -> WebhookRequest:
    body, headers = sample(name)
    return request(body, {k: v for k, v in headers.items() if not k.startswith("_")})


def test_success_from_paypal_passes_and_the_request_is_the_documented_one() -> None:
    paypal = FakePayPal([httpx.Response(200, json={"verification_status": "SUCCESS"})])
    delivery = delivered()
    api_adapter(paypal).verify(delivery, SECRETS)
    (call,) = paypal.verify_calls()
    assert call.method == "POST"
    assert str(call.url) == f"{BASE}/v1/notifications/verify-webhook-signature"
    assert call.headers["Authorization"] == "Bearer token-1"
    assert call.headers["Content-Type"] == "application/json"
    sent = json.loads(call.content)
    assert sent == {
        "auth_algo": "SHA256withRSA",
        "cert_url": CERT_URL,
        "transmission_id": "d938e770-8046-11e6-8103-6b62a8a99ac4",
        "transmission_sig": delivery.headers["PAYPAL-TRANSMISSION-SIG"],
        "transmission_time": "2016-09-21T22:00:46Z",
        "webhook_id": WEBHOOK_ID,
        "webhook_event": json.loads(delivery.raw_body),
    }
    # The event goes as the exact bytes PayPal sent (its CRC32 is what PayPal checks).
    assert call.content.endswith(b',"webhook_event":' + delivery.raw_body + b"}")


def test_the_oauth_request_is_client_credentials_with_basic_auth() -> None:
    paypal = FakePayPal([httpx.Response(200, json={"verification_status": "SUCCESS"})])
    api_adapter(paypal).verify(delivered(), SECRETS)
    token_call = paypal.calls[0]
    assert (token_call.method, token_call.url.path) == ("POST", "/v1/oauth2/token")
    assert (
        token_call.headers["Authorization"]
        == "Basic " + base64.b64encode(b"client-1:secret-1").decode()
    )
    assert token_call.content == b"grant_type=client_credentials"


def test_the_token_is_reused_until_it_nears_expiry() -> None:
    paypal = FakePayPal([httpx.Response(200, json={"verification_status": "SUCCESS"})] * 3)
    clock = [0.0]
    adapter = PayPalWebhooks(http=paypal.client(), tokens=AccessTokens(clock=lambda: clock[0]))
    adapter.verify(delivered(), SECRETS)
    clock[0] = 32400 - 61  # a minute and a second before it ends
    adapter.verify(delivered(), SECRETS)
    assert paypal.tokens_issued == 1
    clock[0] = 32400 - 59
    adapter.verify(delivered(), SECRETS)
    assert paypal.tokens_issued == 2


def test_a_token_paypal_refuses_is_renewed_once() -> None:
    paypal = FakePayPal(
        [
            httpx.Response(401, json={"error": "invalid_token"}),
            httpx.Response(200, json={"verification_status": "SUCCESS"}),
        ]
    )
    api_adapter(paypal).verify(delivered(), SECRETS)
    assert paypal.tokens_issued == 2
    assert [c.headers["Authorization"] for c in paypal.verify_calls()] == [
        "Bearer token-1",
        "Bearer token-2",
    ]


def test_failure_from_paypal_is_a_signature_mismatch() -> None:
    paypal = FakePayPal([httpx.Response(200, json={"verification_status": "FAILURE"})])
    with pytest.raises(SignatureMismatch, match="FAILURE"):
        api_adapter(paypal).verify(delivered(), SECRETS)


def test_a_request_paypal_calls_invalid_is_a_signature_mismatch() -> None:
    paypal = FakePayPal([httpx.Response(400, json={"name": "VALIDATION_ERROR"})])
    with pytest.raises(SignatureMismatch):
        api_adapter(paypal).verify(delivered(), SECRETS)


@pytest.mark.parametrize(
    "outcome",
    [
        httpx.Response(500, json={"name": "INTERNAL_SERVER_ERROR"}),
        httpx.Response(503, text="busy"),
        httpx.Response(429, json={"name": "RATE_LIMIT_REACHED"}),
        httpx.Response(200, text="not json"),
        httpx.ConnectTimeout("timed out"),
        httpx.ConnectError("refused"),
    ],
    ids=["500", "503", "429", "garbage", "timeout", "unreachable"],
)
def test_paypal_unreachable_is_not_a_rejection(outcome: httpx.Response | Exception) -> None:
    # When PayPal cannot answer, the delivery must fail with 5xx so PayPal sends it again:
    # the error is deliberately not a WebhookRejected (the route answers those itself, 4xx).
    paypal = FakePayPal([outcome])
    with pytest.raises(VerificationUnavailable) as raised:
        api_adapter(paypal).verify(delivered(), SECRETS)
    assert not isinstance(raised.value, WebhookRejected)


def test_oauth_refused_is_unavailable_not_a_rejection() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": "invalid_client"})

    adapter = PayPalWebhooks(
        http=httpx.Client(transport=httpx.MockTransport(refuse)), tokens=AccessTokens()
    )
    with pytest.raises(VerificationUnavailable, match="OAuth"):
        adapter.verify(delivered(), SECRETS)


def test_unavailable_passes_through_authentication_untouched() -> None:
    # shared.inbox.route catches WebhookRejected only: this exception reaches Lambda (500).
    paypal = FakePayPal([httpx.ConnectTimeout("timed out")])
    with pytest.raises(VerificationUnavailable):
        authenticate(
            api_adapter(paypal),
            delivered(),
            SECRETS,
            required=("client_id", "client_secret", "webhook_id"),
        )


def test_the_api_base_follows_the_secret() -> None:
    for document, host in (
        ({**SECRETS, "environment": "production"}, "api-m.paypal.com"),
        ({**SECRETS, "api_url": "http://127.0.0.1:9/"}, "127.0.0.1"),
        (SECRETS, "api-m.sandbox.paypal.com"),
    ):
        paypal = FakePayPal([httpx.Response(200, json={"verification_status": "SUCCESS"})])
        api_adapter(paypal).verify(delivered(), document)
        assert {c.url.host for c in paypal.calls} == {host}


def test_a_body_that_is_not_a_json_object_is_not_sent_to_paypal() -> None:
    paypal = FakePayPal([])
    _, headers = sample("php")
    for body in (b"not json", b"[1, 2]", b"\xff\xfe", b"[" * 5000):
        with pytest.raises(MalformedWebhook):
            api_adapter(paypal).verify(request(body, headers), SECRETS)
    assert paypal.verify_calls() == []


def test_the_spliced_request_is_valid_json_for_unusual_bodies() -> None:
    transmission = Transmission.from_headers(Headers(delivered().headers))
    body = '{\n  "id" : "WH-ż\\u0142",\t"n": 1.50e2 }\n'.encode()
    sent = json.loads(verify_request_body(transmission, WEBHOOK_ID, body))
    assert sent["webhook_event"] == {"id": "WH-żł", "n": 150.0}


def test_overlong_transmission_headers_are_refused_without_calling_paypal() -> None:
    paypal = FakePayPal([])
    body, headers = sample("php")
    headers = {**headers, "Paypal-Transmission-Id": "x" * 51}
    with pytest.raises(SignatureMismatch):
        api_adapter(paypal).verify(request(body, headers), SECRETS)
    assert paypal.calls == []


# -- cold start ------------------------------------------------------------------------------


def test_importing_the_webhook_loads_neither_httpx_nor_cryptography() -> None:
    root = Path(__file__).resolve().parents[2]
    probe = (
        "import sys; import shared.providers.payments.paypal.webhook; "
        "print(sorted(m for m in ('httpx', 'cryptography', 'certifi') if m in sys.modules))"
    )
    output = subprocess.run(  # noqa: S603 - a fixed probe of our own module
        [sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, check=True
    ).stdout
    assert output.strip() == "[]"
