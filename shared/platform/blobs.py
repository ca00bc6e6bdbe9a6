"""Large parts of items, kept in the documents bucket (DynamoDB items stop at 400 KB)."""

from __future__ import annotations

from typing import Protocol

from shared.platform import aws


class BlobStore(Protocol):
    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...


class S3Blobs:
    """The documents bucket; the client is resolved on first use."""

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    def put(self, key: str, data: bytes) -> None:
        aws.s3().put_object(Bucket=self.bucket, Key=key, Body=data)

    def get(self, key: str) -> bytes:
        body: bytes = aws.s3().get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body


class MemoryBlobs:
    """An in-memory BlobStore for unit tests."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, key: str, data: bytes) -> None:
        self.objects[key] = data

    def get(self, key: str) -> bytes:
        return self.objects[key]
