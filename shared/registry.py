"""The providers orderhub talks to: one entry each, and everything else derives from it.

The CDK app makes each entry's ingress (a webhook route and function, a scheduled poller or a
queue and its consumer), its secret, its role and its alarm from this list; the embedded stack
seeds the secrets from the environment variables named here and offers each provider's
simulator; the `make local` banner, the admin CLI and the README's provider table read it too
(tests/infra/test_registry.py holds them to it). Adding a provider is its package under
shared/providers/<kind>/<name>/ plus one entry below.

This module imports nothing but the standard library: a webhook function loads it, then only
its own provider's package (by the dotted paths named here).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """What a provider is to the shop; routes are /webhooks/<route segment>/<name>."""

    PAYMENTS = "payments"
    CHANNELS = "channels"
    CARRIERS = "carriers"
    TAX_AUTHORITY = "tax_authority"

    @property
    def route_segment(self) -> str:
        return {"channels": "orders", "carriers": "tracking", "tax_authority": "tax"}.get(
            self.value, self.value
        )


@dataclass(frozen=True)
class Webhook:
    """The provider pushes: POST /webhooks/<segment>/<name>, verified, stored in the inbox.
    The adapter is a WebhookAdapter (shared/inbox/contract.py): `verify`, then `parse`."""


@dataclass(frozen=True)
class Poll:
    """orderhub pulls on a schedule (the provider has no push): an EventBridge rule runs the
    provider's poller, and each item it fetches is an inbox record, deduplicated by the
    provider's own id, exactly like a webhook delivery. The adapter is a Poller: `poll` (from
    a cursor kept in the table) and `parse`.

    `base_url_field` names the secret field holding the API's base URL (the provider's sandbox
    or production host); the embedded stack fills it with its simulator's address."""

    every_minutes: int = 5
    base_url_field: str = "api_url"


@dataclass(frozen=True)
class Queue:
    """The provider delivers to an SQS queue this stack owns (Amazon SP-API notifications);
    each message becomes an inbox record, deduplicated by the provider's notification id.
    Authenticity is the queue's policy: only `sender_accounts` (and this account) may send.
    The adapter parses one message body (`parse`, as a webhook's, without `verify`)."""

    sender_accounts: tuple[str, ...] = ()
    visibility_timeout_seconds: int = 60
    max_receive_count: int = 5  # then the message goes to the queue's DLQ (alarmed)
    # The notification only names what changed: the consumer fetches it from the provider's
    # API (a FetchingQueueAdapter, with the provider's secret) before storing it.
    fetch: bool = False


Ingress = Webhook | Poll | Queue


@dataclass(frozen=True)
class SecretField:
    """One field of the provider's JSON secret in Secrets Manager (`<stack>/<name>`).

    `env` names the environment variable the embedded stack takes it from; a required field
    missing there is generated (a random key the simulator then signs with), an optional one is
    left out. A webhook refuses with 503 while a required field is empty (not configured)."""

    name: str
    env: str
    description: str
    required: bool = True
    generated_prefix: str = ""  # the shape the provider issues, e.g. Stripe's "whsec_"
    generated_digits: bool = False  # the provider issues a number (a PayU or Przelewy24 id)
    # Generated locally even though the webhook does not need it (an API key the gateway
    # and its simulator share): optional for the webhook, present in the embedded stack.
    generated_locally: bool = False


def api_url_field(env: str, unset: str) -> SecretField:
    """The provider API's base URL (a sandbox's, production's, or a simulator's): optional,
    `unset` says what is used without it."""
    return SecretField(
        "api_url", env=env, description=f"API base URL; unset: {unset}", required=False
    )


def environment_field(env: str) -> SecretField:
    return SecretField(
        "environment", env=env, description="sandbox (default) or production", required=False
    )


@dataclass(frozen=True)
class Provider:
    name: str  # the inbox source and the last path segment: lowercase, no spaces
    title: str
    kind: Kind
    package: str  # shared.providers.<kind>.<name>: authenticity, mapping, client, simulator
    ingress: Ingress
    secrets: tuple[SecretField, ...]
    # "<module>:<attribute>" relative to `package`: the inbound adapter (see the ingress kinds
    # above) and the simulator of the provider's side: `from_secret(document)` builds it; a
    # poll provider's simulator also serves the provider's API (`start() -> base URL`, `stop()`).
    adapter: str
    simulator: str
    docs: str = ""  # where the provider documents what the adapter implements
    notes: str = ""  # one line of Markdown for the README's table
    # A payment provider's API client ("<module>:<attribute>", a PaymentGateway factory:
    # shared/payments/gateway.py): payment sessions, captures, refunds, reconciliation. Its
    # base URL is the secret's `api_url` (the embedded stack fills it with the simulator's).
    gateway: str = ""
    # A sales channel's outbound client ("<module>:<attribute>", a ChannelClientFactory:
    # shared/channels/push.py): shipments and tracking pushed back to the channel.
    channel_client: str = ""
    # A webhook provider that delivers once and never retries (WooCommerce) is also polled on
    # a schedule by the same adapter (a Poller too): the poll repairs dropped deliveries, and
    # the inbox dedupes what both saw.
    repair: Poll | None = None

    @property
    def path(self) -> str | None:
        if not isinstance(self.ingress, Webhook):
            return None
        return f"/webhooks/{self.kind.route_segment}/{self.name}"

    @property
    def construct_name(self) -> str:
        """'shopify' -> 'Shopify', 'acme_pay' -> 'AcmePay': CloudFormation logical ids and
        output names (ShopifyWebhookUrl, AmazonQueueUrl)."""
        return "".join(part.capitalize() for part in self.name.replace("-", "_").split("_"))

    @property
    def ingress_description(self) -> str:
        """How deliveries arrive, in a few words (the README table, the `make local` banner)."""
        if isinstance(self.ingress, Poll):
            return f"polled every {self.ingress.every_minutes} min (EventBridge schedule)"
        if isinstance(self.ingress, Queue):
            return f"SQS queue (output `{self.construct_name}QueueUrl`)"
        if self.repair is not None:
            return f"`POST {self.path}`, and polled every {self.repair.every_minutes} min"
        return f"`POST {self.path}`"

    @property
    def poll(self) -> Poll | None:
        """The schedule this provider is pulled on: its ingress, or its repair poll."""
        return self.ingress if isinstance(self.ingress, Poll) else self.repair

    @property
    def api_url_field(self) -> str | None:
        """The secret field naming the provider's API base URL, when orderhub calls its API
        (a poller, a payment gateway); the embedded stack serves the simulator's API there."""
        if self.poll is not None:
            return self.poll.base_url_field
        fetches = isinstance(self.ingress, Queue) and self.ingress.fetch
        return "api_url" if self.gateway or self.channel_client or fetches else None

    @property
    def required_secrets(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.secrets if f.required)

    def load_adapter(self) -> Any:
        return _load(self.package, self.adapter)()

    def gateway_factory(self) -> Any:
        """The PaymentGateway class: `from_secret(document, http)` builds one."""
        if not self.gateway:
            raise UnknownProvider(f"{self.name} has no payment gateway")
        return _load(self.package, self.gateway)

    def channel_client_factory(self) -> Any:
        """The channel's ChannelClientFactory: `from_secret(document, http)` builds one."""
        if not self.channel_client:
            raise UnknownProvider(f"{self.name} has no channel client")
        return _load(self.package, self.channel_client)

    def simulator_class(self) -> Any:
        """The simulator: `from_secret(document)` builds one signing with that secret."""
        return _load(self.package, self.simulator)


def _load(package: str, reference: str) -> Any:
    module_name, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(f"{package}.{module_name}"), attribute)


PROVIDERS: tuple[Provider, ...] = (
    Provider(
        name="shopify",
        title="Shopify",
        kind=Kind.CHANNELS,
        package="shared.providers.channels.shopify",
        ingress=Webhook(),
        secrets=(
            SecretField(
                "webhook_secret",
                env="SHOPIFY_WEBHOOK_SECRET",
                description="the app's client secret (Shopify signs webhooks with it)",
            ),
            SecretField(
                "shop_domain",
                env="SHOPIFY_SHOP_DOMAIN",
                description="the shop's *.myshopify.com domain; unset: any shop is accepted",
                required=False,
            ),
            SecretField(
                "admin_access_token",
                env="SHOPIFY_ADMIN_ACCESS_TOKEN",
                description="the app's Admin API access token (shpat_...; scopes "
                "read_orders, write_merchant_managed_fulfillment_orders, "
                "write_assigned_fulfillment_orders): fulfillments and tracking",
                required=False,
                generated_prefix="shpat_",
                generated_locally=True,
            ),
            SecretField(
                "api_url",
                env="SHOPIFY_API_URL",
                description="Admin API base URL; unset: https://<shop_domain>",
                required=False,
            ),
        ),
        adapter="webhook:ShopifyWebhooks",
        simulator="simulator:ShopifySimulator",
        channel_client="client:ShopifyFulfilments",
        docs="https://shopify.dev/docs/apps/build/webhooks",
        notes="`orders/create`, `orders/updated`, `orders/paid`, `orders/cancelled`; HMAC-SHA256 "
        "of the body, shop domain checked; `updated_at` decides; fulfillments through GraphQL",
    ),
    Provider(
        name="woocommerce",
        title="WooCommerce",
        kind=Kind.CHANNELS,
        package="shared.providers.channels.woocommerce",
        ingress=Webhook(),
        repair=Poll(every_minutes=10, base_url_field="api_url"),
        secrets=(
            SecretField(
                "webhook_secret",
                env="WOOCOMMERCE_WEBHOOK_SECRET",
                description="the webhooks' secret (WooCommerce > Settings > Advanced > Webhooks)",
            ),
            SecretField(
                "consumer_key",
                env="WOOCOMMERCE_CONSUMER_KEY",
                description="REST API key (ck_..., read/write): the repair poll and status back",
                required=False,
                generated_prefix="ck_",
                generated_locally=True,
            ),
            SecretField(
                "consumer_secret",
                env="WOOCOMMERCE_CONSUMER_SECRET",
                description="REST API secret (cs_...)",
                required=False,
                generated_prefix="cs_",
                generated_locally=True,
            ),
            SecretField(
                "api_url",
                env="WOOCOMMERCE_API_URL",
                description="the store's URL (https://shop.example); the REST API is under "
                "/wp-json/wc/v3",
                required=False,
            ),
        ),
        adapter="webhook:WooCommerceOrders",
        simulator="simulator:WooCommerceSimulator",
        channel_client="client:WooCommerceStatus",
        docs="https://woocommerce.github.io/woocommerce-rest-api-docs/",
        notes="`order.created`, `order.updated`, `order.deleted`; `X-WC-Webhook-Signature` "
        "base64 HMAC-SHA256; delivered once, so `modified_after` is polled to repair drops",
    ),
    Provider(
        name="allegro",
        title="Allegro",
        kind=Kind.CHANNELS,
        package="shared.providers.channels.allegro",
        ingress=Poll(every_minutes=2, base_url_field="api_url"),
        secrets=(
            SecretField("client_id", env="ALLEGRO_CLIENT_ID", description="the app's client id"),
            SecretField(
                "client_secret", env="ALLEGRO_CLIENT_SECRET", description="the app's secret"
            ),
            SecretField(
                "refresh_token",
                env="ALLEGRO_REFRESH_TOKEN",
                description="from the device flow (`make admin ARGS='allegro-login'`); "
                "refreshed and stored back by the poller",
            ),
            SecretField(
                "environment",
                env="ALLEGRO_ENVIRONMENT",
                description="sandbox (allegro.pl.allegrosandbox.pl, default) or production",
                required=False,
            ),
            api_url_field("ALLEGRO_API_URL", "from environment (https://api.allegro.pl)"),
            SecretField(
                "auth_url",
                env="ALLEGRO_AUTH_URL",
                description="OAuth base URL; unset: from environment (https://allegro.pl), or "
                "api_url when only that is set (a simulator serving both)",
                required=False,
            ),
        ),
        adapter="journal:AllegroOrderJournal",
        simulator="simulator:AllegroSimulator",
        channel_client="client:AllegroFulfilment",
        docs="https://developer.allegro.pl/tutorials/jak-obslugiwac-zamowienia-GRaj0qyvwtR",
        notes="`GET /order/events` journal from `/order/event-stats`, checkout forms fetched; "
        "OAuth device flow, refreshed tokens kept in the secret",
    ),
    Provider(
        name="amazon",
        title="Amazon SP-API",
        kind=Kind.CHANNELS,
        package="shared.providers.channels.amazon",
        # Notifications come from Amazon's own account (SP-API's documented sender).
        ingress=Queue(sender_accounts=("437568002678",), fetch=True),
        secrets=(
            SecretField(
                "lwa_client_id",
                env="AMAZON_LWA_CLIENT_ID",
                description="Login with Amazon client id (amzn1.application-oa2-client...)",
            ),
            SecretField(
                "lwa_client_secret",
                env="AMAZON_LWA_CLIENT_SECRET",
                description="Login with Amazon client secret",
            ),
            SecretField(
                "refresh_token",
                env="AMAZON_REFRESH_TOKEN",
                description="the seller's authorization (Atzr|...)",
            ),
            SecretField(
                "seller_id",
                env="AMAZON_SELLER_ID",
                description="the seller (merchant token) the notifications must name",
                required=False,
            ),
            SecretField(
                "region",
                env="AMAZON_REGION",
                description="eu (default), na or fe: the SP-API endpoint",
                required=False,
            ),
            SecretField(
                "environment",
                env="AMAZON_ENVIRONMENT",
                description="production (default) or sandbox (sandbox.sellingpartnerapi-*)",
                required=False,
            ),
            SecretField(
                "api_url",
                env="AMAZON_API_URL",
                description="SP-API base URL; unset: from region and environment",
                required=False,
            ),
            SecretField(
                "lwa_url",
                env="AMAZON_LWA_URL",
                description="LWA token URL base; unset: https://api.amazon.com, or api_url "
                "when only that is set (a simulator serving both)",
                required=False,
            ),
        ),
        adapter="notifications:AmazonOrderNotifications",
        simulator="simulator:AmazonSimulator",
        channel_client="client:AmazonShipments",
        docs="https://developer-docs.amazon.com/sp-api/docs/notifications-api-v1-use-case-guide",
        notes="`ORDER_CHANGE` on SQS (deduplicated on `NotificationId`); order and items "
        "fetched with an LWA token and a restricted data token; `confirmShipment`",
    ),
    Provider(
        name="stripe",
        title="Stripe",
        kind=Kind.PAYMENTS,
        package="shared.providers.payments.stripe",
        ingress=Webhook(),
        secrets=(
            SecretField(
                "webhook_secret",
                env="STRIPE_WEBHOOK_SECRET",
                description="the endpoint's signing secret (whsec_...)",
                generated_prefix="whsec_",
            ),
            SecretField(
                "api_key",
                env="STRIPE_SECRET_KEY",
                description="the secret API key (sk_test_... in test mode, a restricted rk_ key "
                "with Checkout Sessions, PaymentIntents and Refunds write)",
                required=False,
                generated_prefix="sk_test_",
                generated_locally=True,
            ),
            api_url_field(
                "STRIPE_API_URL",
                "https://api.stripe.com (test or live mode follows the key)",
            ),
        ),
        adapter="webhook:StripeWebhooks",
        simulator="simulator:StripeSimulator",
        gateway="client:StripeGateway",
        docs="https://docs.stripe.com/webhooks",
        notes="`payment_intent.*`, `checkout.session.*`, `charge.refunded`, `refund.updated`, "
        "`charge.dispute.created`; `Stripe-Signature`, 300 s tolerance",
    ),
    Provider(
        name="payu",
        title="PayU",
        kind=Kind.PAYMENTS,
        package="shared.providers.payments.payu",
        ingress=Webhook(),
        secrets=(
            SecretField(
                "pos_id",
                env="PAYU_POS_ID",
                description="the point of sale id (merchantPosId)",
                generated_digits=True,
            ),
            SecretField(
                "second_key",
                env="PAYU_SECOND_KEY",
                description="the POS's second key (MD5): notifications are signed with it",
            ),
            SecretField(
                "client_id",
                env="PAYU_CLIENT_ID",
                description="OAuth client_id (usually the POS id)",
                required=False,
                generated_digits=True,
                generated_locally=True,
            ),
            SecretField(
                "client_secret",
                env="PAYU_CLIENT_SECRET",
                description="OAuth client_secret",
                required=False,
                generated_locally=True,
            ),
            api_url_field(
                "PAYU_API_URL",
                "https://secure.snd.payu.com "
                "(or https://secure.payu.com when environment is production)",
            ),
            environment_field("PAYU_ENVIRONMENT"),
        ),
        adapter="webhook:PayUWebhooks",
        simulator="simulator:PayUSimulator",
        gateway="client:PayUGateway",
        docs="https://developers.payu.com/europe/docs/",
        notes="order (`PENDING`, `WAITING_FOR_CONFIRMATION`, `COMPLETED`, `CANCELED`) and refund "
        "notifications; `OpenPayu-Signature` hash of body + second key",
    ),
    Provider(
        name="przelewy24",
        title="Przelewy24",
        kind=Kind.PAYMENTS,
        package="shared.providers.payments.przelewy24",
        ingress=Webhook(),
        secrets=(
            SecretField(
                "merchant_id",
                env="P24_MERCHANT_ID",
                description="the merchant id",
                generated_digits=True,
            ),
            SecretField(
                "pos_id",
                env="P24_POS_ID",
                description="the shop (POS) id, usually the merchant id",
                generated_digits=True,
            ),
            SecretField("crc", env="P24_CRC", description="the CRC key: every sign includes it"),
            SecretField(
                "api_key",
                env="P24_API_KEY",
                description="the REST API key (basic auth posId:apiKey)",
                required=False,
                generated_locally=True,
            ),
            api_url_field(
                "P24_API_URL",
                "https://sandbox.przelewy24.pl "
                "(or https://secure.przelewy24.pl when environment is production)",
            ),
            environment_field("P24_ENVIRONMENT"),
        ),
        adapter="webhook:Przelewy24Webhooks",
        simulator="simulator:Przelewy24Simulator",
        gateway="client:Przelewy24Gateway",
        docs="https://developers.przelewy24.pl/",
        notes="transaction and refund notifications; SHA-384 `sign` with the CRC, then "
        "`PUT /api/v1/transaction/verify` (only a verified payment is paid)",
    ),
    Provider(
        name="paypal",
        title="PayPal",
        kind=Kind.PAYMENTS,
        package="shared.providers.payments.paypal",
        ingress=Webhook(),
        secrets=(
            SecretField("client_id", env="PAYPAL_CLIENT_ID", description="REST app client id"),
            SecretField("client_secret", env="PAYPAL_CLIENT_SECRET", description="REST app secret"),
            SecretField(
                "webhook_id",
                env="PAYPAL_WEBHOOK_ID",
                description="the webhook's id (part of what PayPal signs)",
            ),
            SecretField(
                "verification",
                env="PAYPAL_VERIFICATION",
                description="api (default: POST /v1/notifications/verify-webhook-signature) or "
                "offline (RSA-SHA256 with PayPal's certificate)",
                required=False,
            ),
            api_url_field(
                "PAYPAL_API_URL",
                "https://api-m.sandbox.paypal.com "
                "(or https://api-m.paypal.com when environment is production)",
            ),
            environment_field("PAYPAL_ENVIRONMENT"),
        ),
        adapter="webhook:PayPalWebhooks",
        simulator="simulator:PayPalSimulator",
        gateway="client:PayPalGateway",
        docs="https://developer.paypal.com/api/rest/webhooks/",
        notes="`PAYMENT.CAPTURE.*`, `CHECKOUT.ORDER.APPROVED`; transmission verified by "
        "PayPal's API (or offline RSA-SHA256, certificate from PayPal hosts only)",
    ),
)

# Tests add a fictional provider without editing this file: a comma-separated list of
# "<module>:<attribute>" references, each a Provider (or a tuple of them). Only modules under
# `tests.` are accepted (no deployed package holds one), and the CDK app refuses to synthesise
# a deployable template while it is set (infra/app.py).
EXTRA_PROVIDERS_ENV = "ORDERHUB_EXTRA_PROVIDERS"
EXTRA_PROVIDERS_PACKAGE = "tests."


@dataclass
class _Extras:
    loaded: dict[str, tuple[Provider, ...]] = field(default_factory=dict)

    def of(self, references: str) -> tuple[Provider, ...]:
        found = self.loaded.get(references)
        if found is None:
            providers: list[Provider] = []
            for reference in filter(None, (r.strip() for r in references.split(","))):
                module_name, _, attribute = reference.partition(":")
                if not module_name.startswith(EXTRA_PROVIDERS_PACKAGE):
                    raise ValueError(
                        f"{EXTRA_PROVIDERS_ENV} names {module_name!r}: only test providers "
                        f"({EXTRA_PROVIDERS_PACKAGE}...) can be added this way"
                    )
                value = getattr(importlib.import_module(module_name), attribute)
                providers.extend(value if isinstance(value, tuple) else (value,))
            found = self.loaded[references] = tuple(providers)
        return found


_extras = _Extras()


class UnknownProvider(LookupError):
    """A name no registry entry has: a bug or a misconfigured function, never skipped."""


def providers() -> tuple[Provider, ...]:
    extra = os.environ.get(EXTRA_PROVIDERS_ENV, "")
    return PROVIDERS + _extras.of(extra) if extra else PROVIDERS


def provider(name: str) -> Provider:
    for candidate in providers():
        if candidate.name == name:
            return candidate
    raise UnknownProvider(f"no provider named {name!r} in shared/registry.py")


def is_provider(name: str) -> bool:
    return any(candidate.name == name for candidate in providers())


def webhook_providers() -> Iterator[Provider]:
    return (p for p in providers() if isinstance(p.ingress, Webhook))


def poll_providers() -> Iterator[Provider]:
    """Providers pulled on a schedule: by ingress, or to repair a webhook's dropped deliveries."""
    return (p for p in providers() if p.poll is not None)


def gateway_providers() -> Iterator[Provider]:
    """Payment providers whose API orderhub calls (sessions, captures, refunds)."""
    return (p for p in providers() if p.gateway)


_adapters: dict[str, Any] = {}


def adapter_for(source: str) -> Any:
    """The inbound adapter of an inbox source (the stream router maps stored raw bodies with
    the same adapter the ingress used), built once per process."""
    found = _adapters.get(source)
    if found is None:
        found = _adapters[source] = provider(source).load_adapter()
    return found


# -- the README's provider table ----------------------------------------------------------------
README_BEGIN = "<!-- providers:begin -->"
README_END = "<!-- providers:end -->"


def markdown_table(entries: tuple[Provider, ...] = PROVIDERS) -> str:
    """The README's provider table (tests/infra/test_registry.py keeps README.md current)."""
    lines = [
        "Generated from `shared/registry.py` by `python -m shared.registry --write-readme`. Each",
        "provider's secret is `<stack>/<name>` in Secrets Manager (the `<Name>SecretName`",
        "output); `make local` takes each field from the environment variable named here.",
        "",
        "| provider | kind | ingress | secret fields (local env var) | docs |",
        "|---|---|---|---|---|",
    ]
    for entry in entries:
        fields = ", ".join(
            f"`{f.name}` (`{f.env}`{'' if f.required else ', optional'})" for f in entry.secrets
        )
        title = f"**{entry.title}**: {entry.notes}" if entry.notes else f"**{entry.title}**"
        docs = f"[docs]({entry.docs})" if entry.docs else ""
        cells = (title, entry.kind.value, entry.ingress_description, fields or "none", docs)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def with_table(readme: str, table: str) -> str:
    """`readme` with the text between the provider markers replaced by `table`."""
    head, begin, rest = readme.partition(README_BEGIN)
    _, end, tail = rest.partition(README_END)
    if not begin or not end:
        raise ValueError(f"README.md lacks the {README_BEGIN} ... {README_END} markers")
    return f"{head}{README_BEGIN}\n{table}{README_END}{tail}"


def main(argv: list[str] | None = None) -> int:
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="python -m shared.registry")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--markdown", action="store_true", help="print the provider table")
    action.add_argument(
        "--write-readme", action="store_true", help="rewrite the table in README.md"
    )
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown_table(), end="")
        return 0
    readme = Path(__file__).resolve().parents[1] / "README.md"
    readme.write_text(with_table(readme.read_text(), markdown_table()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
