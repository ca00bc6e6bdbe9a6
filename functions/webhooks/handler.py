"""POST /webhooks/<segment>/<provider>: one function per provider (infra/constructs/ingress.py
makes one per registry entry), each serving its own route with its own secret.

PROVIDER names the registry entry; only that provider's package is imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.inbox.route import WebhookSettings, route_for

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


# What this function reads from its environment (tests/infra/test_settings_env.py holds the
# template to it).
SETTINGS = WebhookSettings


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Settings read once per request: they name the route and configure it. No Powertools
    # decorators: the route logs with the Lambda context and counts in EMF itself, only what
    # it needs (shared/inbox/route.py, docs/decisions.md 63).
    settings = WebhookSettings.load()
    return route_for(settings.provider).handle(event, settings, context)
