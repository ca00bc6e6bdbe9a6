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
        return f"`POST {self.path}`"

    @property
    def required_secrets(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.secrets if f.required)

    def load_adapter(self) -> Any:
        return _load(self.package, self.adapter)()

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
        ),
        adapter="webhook:ShopifyWebhooks",
        simulator="simulator:ShopifySimulator",
        docs="https://shopify.dev/docs/apps/build/webhooks",
        notes="`orders/create`, `orders/paid`; HMAC-SHA256 of the body, shop domain checked",
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
        ),
        adapter="webhook:StripeWebhooks",
        simulator="simulator:StripeSimulator",
        docs="https://docs.stripe.com/webhooks",
        notes="`payment_intent.*`, `checkout.session.*`; `Stripe-Signature`, 300 s tolerance",
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
    return (p for p in providers() if isinstance(p.ingress, Poll))


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
