"""PUT/GET/DELETE /api/v1/listings/{channel}/{listing}: which internal SKU a channel's listing
(an Allegro offer id, a Shopify variant id, an Amazon ASIN or seller SKU, a WooCommerce product
id) sells. An order whose line matches no listing and no stocked SKU is held with the reason
`unknown_sku: line <n> (<listing>)`; map the listing here, then release the order
(POST /api/v1/orders/{order_id}/release)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, ConfigDict, StringConstraints

from functions.api.contract import requires, responses
from functions.api.settings import platform
from shared.channels.listings import ListingRepository
from shared.kernel.sku import Sku
from shared.platform.clock import utc_now
from shared.platform.http import HttpResponse, error_response, json_response

router = APIGatewayHttpRouter()
ChannelPath = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9_]{1,64}$"),
    Path(description="The channel: `shopify`, `woocommerce`, `allegro`, `amazon`, `store`."),
]
ListingPath = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$"),
    Path(description="The channel's listing id, or its seller SKU for a line with none."),
]


class MapListing(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: Sku


class ListingView(BaseModel):
    channel: str
    listing: str
    sku: str | None = None  # None: not mapped (after DELETE)


@router.put(
    "/api/v1/listings/<channel>/<listing>",
    summary="Map a channel's listing to an internal SKU (held orders' lines resolve through it)",
    security=requires("stock:write"),
    responses=responses(ListingView, "The mapping", 400, 401, 403, 415),
)
def map_listing(
    channel: ChannelPath, listing: ListingPath, body: Annotated[MapListing, Body()]
) -> HttpResponse:
    ListingRepository(platform().table).map(channel, listing, body.sku, at=utc_now())
    return json_response(200, {"channel": channel, "listing": listing, "sku": body.sku})


@router.get(
    "/api/v1/listings/<channel>/<listing>",
    summary="The internal SKU a channel's listing is mapped to",
    security=requires("stock:read"),
    responses=responses(
        ListingView, "The mapping", 400, 401, 403, 404, s404="`listing_not_mapped`"
    ),
)
def get_listing(channel: ChannelPath, listing: ListingPath) -> HttpResponse:
    sku = ListingRepository(platform().table).sku_for(channel, listing)
    if sku is None:
        return error_response(
            404, "listing_not_mapped", f"{channel} listing {listing} is not mapped"
        )
    return json_response(200, {"channel": channel, "listing": listing, "sku": sku})


@router.delete(
    "/api/v1/listings/<channel>/<listing>",
    summary="Remove a listing's mapping (orders already received keep their SKUs)",
    security=requires("stock:write"),
    responses=responses(ListingView, "Removed (sku null)", 400, 401, 403),
)
def unmap_listing(channel: ChannelPath, listing: ListingPath) -> HttpResponse:
    ListingRepository(platform().table).unmap(channel, listing)
    return json_response(200, {"channel": channel, "listing": listing, "sku": None})
