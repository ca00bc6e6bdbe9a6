"""The inbox as every ingress function builds it (webhook, poll, queue): the single table, and
the documents bucket for raw bodies too large to keep in the item."""

from __future__ import annotations

from functools import lru_cache

from shared.inbox.store import InboxRepository
from shared.platform import aws
from shared.platform.table import Table


@lru_cache(maxsize=16)
def inbox_repository(
    table_name: str, documents_bucket: str, retention_days: int = 90
) -> InboxRepository:
    """One per configuration and process; clients are resolved on first use, not here."""

    def write_blob(key: str, data: bytes) -> None:
        aws.s3().put_object(Bucket=documents_bucket, Key=key, Body=data)

    return InboxRepository(Table(table_name), retention_days=retention_days, blob_writer=write_blob)
