"""The single table's shape, shared by the repositories and the CDK stack (one source)."""

from __future__ import annotations

PARTITION_KEY = "PK"
SORT_KEY = "SK"
TTL_ATTRIBUTE = "expires_at"
STATUS_INDEX = "GSI1"  # orders by status, newest first: GSI1PK = STATUS#<status>
ALL_ORDERS_INDEX = "GSI2"  # every order, newest first: GSI2PK = ORDERS
INDEXES = (STATUS_INDEX, ALL_ORDERS_INDEX)
# What order listings show: projected into both indexes, so a listing never reads the table.
LIST_PROJECTION = (
    "order_id",
    "status",
    "channel",
    "external_id",
    "external_number",
    "total",
    "currency",
    "created_at",
    "received_at",
    "payment_method",
    "buyer_email",  # the order history's email filter (GET /api/v1/orders?email=)
)
