"""POST /webhooks/payments/{provider}: payment provider notifications into the inbox."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.integrations.stripe import StripeWebhooks
from shared.observability import logger, metrics
from shared.webhook_routes import WebhookSettings, handle_webhook_errors, webhook_router


class PaymentWebhookSettings(WebhookSettings):
    stripe_secret_id: str


app = APIGatewayHttpResolver()
app.include_router(
    webhook_router(
        "/webhooks/payments/stripe",
        StripeWebhooks(),
        settings=PaymentWebhookSettings.load,
        secret_id=lambda settings: settings.stripe_secret_id,
    )
)
handle_webhook_errors(app)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
