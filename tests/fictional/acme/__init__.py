"""Acme, a fictional company with one provider of each ingress kind, added to the registry
without editing it: ORDERHUB_EXTRA_PROVIDERS="tests.fictional.acme:PROVIDERS".

- AcmePay (payments) pushes signed webhooks;
- AcmeMarket (a marketplace, like Allegro) has no push: its order journal is polled;
- AcmeParcel (a carrier, like Amazon SP-API) sends notifications to an SQS queue we own.

Their adapters map nothing to canonical events (the stream router knows no Acme event): every
delivery is recorded as ignored, which is all the ingress needs to prove.
"""

from __future__ import annotations

from shared.registry import Kind, Poll, Provider, Queue, SecretField, Webhook

PACKAGE = __name__
REFERENCE = f"{PACKAGE}:PROVIDERS"
# Acme's (fictional) AWS account, the one its notifications are sent from.
ACME_PARCEL_ACCOUNT = "111122223333"

PROVIDERS = (
    Provider(
        name="acmepay",
        title="AcmePay",
        kind=Kind.PAYMENTS,
        package=PACKAGE,
        ingress=Webhook(),
        secrets=(
            SecretField(
                "signing_secret",
                env="ACMEPAY_SIGNING_SECRET",
                description="the endpoint's signing secret",
                generated_prefix="acme_whsec_",
            ),
        ),
        adapter="webhook:AcmePayWebhooks",
        simulator="simulator:AcmePaySimulator",
        docs="https://acme.example/docs/pay/webhooks",
        notes="`payment.*`; `Acme-Signature: sha256=<HMAC-SHA256 of the body>`",
    ),
    Provider(
        name="acmemarket",
        title="AcmeMarket",
        kind=Kind.CHANNELS,
        package=PACKAGE,
        ingress=Poll(every_minutes=5, base_url_field="api_url"),
        secrets=(
            SecretField(
                "api_token", env="ACMEMARKET_API_TOKEN", description="a bearer token for the API"
            ),
            SecretField(
                "api_url",
                env="ACMEMARKET_API_URL",
                description="the API's base URL; unset: production",
                required=False,
            ),
        ),
        adapter="poll:AcmeMarketJournal",
        simulator="simulator:AcmeMarketApi",
        docs="https://acme.example/docs/market/order-events",
        notes="`GET /v1/order-events?since=<sequence>` (inclusive), bearer token",
    ),
    Provider(
        name="acmeparcel",
        title="AcmeParcel",
        kind=Kind.CARRIERS,
        package=PACKAGE,
        ingress=Queue(sender_accounts=(ACME_PARCEL_ACCOUNT,)),
        secrets=(
            SecretField(
                "client_id",
                env="ACMEPARCEL_CLIENT_ID",
                description="for its tracking API (the queue needs no credential)",
                required=False,
            ),
        ),
        adapter="queue:AcmeParcelNotifications",
        simulator="simulator:AcmeParcelSimulator",
        docs="https://acme.example/docs/parcel/notifications",
        notes="`PARCEL_STATUS_CHANGE` on SQS, deduplicated on its `NotificationId`",
    ),
)
