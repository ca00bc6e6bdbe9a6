"""moto's items built with their size counted once, not once per attribute.

moto (5.2) keeps an item's attributes in a LimitedSizeDict whose __setitem__ adds up the size
of every attribute already there before it admits the next one, so building an item of n
attributes measures n(n+1)/2 attributes, each walked to its leaves. For the inbox's PutItem
in the embedded stack that was a tenth of a webhook's CPU (cProfile of 300 invocations), and
every write of an order pays it again. An Item being built has nothing but what it was
given, so a running total gives the same sums: the same attributes admitted, and
ItemSizeTooLarge raised at the same attribute as moto raises it. Later writes to an item's
attributes still go through moto's own check. tests/unit/test_dynamodb_items.py compares
both on generated items, at the limit too.
"""

from __future__ import annotations

from typing import Any
from unittest import mock

from infra.local import patching

# LimitedSizeDict.__setitem__'s bound: "between 409 and 410KB" measured by moto's authors.
MOTO_ITEM_LIMIT_BYTES = 405_000


def install(patches: list[Any]) -> None:
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    def build(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        self.hash_key = hash_key
        self.range_key = range_key
        self.attrs = LimitedSizeDict()
        total = 0
        for key, value in attrs.items():
            typed = DynamoType(value)
            size = bytesize(key) + typed.size()
            if total + size > MOTO_ITEM_LIMIT_BYTES:
                raise ItemSizeTooLarge
            dict.__setitem__(self.attrs, key, typed)
            total += size

    patching.start(patches, mock.patch.object(Item, "__init__", build))
