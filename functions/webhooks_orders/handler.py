"""POST /webhooks/orders/{channel}: shop and marketplace order webhooks into the inbox."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.integrations.shopify import ShopifyWebhooks
from shared.observability import logger, metrics
from shared.webhook_routes import WebhookRoute, WebhookSettings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


class OrderWebhookSettings(WebhookSettings):
    shopify_secret_id: str


route = WebhookRoute(
    "/webhooks/orders/shopify",
    ShopifyWebhooks(),
    settings=OrderWebhookSettings.load,
    secret_id=lambda settings: settings.shopify_secret_id,
)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return route.handle(event)
