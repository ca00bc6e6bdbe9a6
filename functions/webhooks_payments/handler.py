"""POST /webhooks/payments/{provider}: payment provider notifications into the inbox."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.integrations.stripe import StripeWebhooks
from shared.observability import logger, metrics
from shared.webhook_routes import WebhookRoute, WebhookSettings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


class PaymentWebhookSettings(WebhookSettings):
    stripe_secret_id: str


route = WebhookRoute(
    "/webhooks/payments/stripe",
    StripeWebhooks(),
    settings=PaymentWebhookSettings.load,
    secret_id=lambda settings: settings.stripe_secret_id,
)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return route.handle(event)
