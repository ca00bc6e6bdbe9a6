"""DynamoDB's items answered in their wire form, without moto's generic response serializer.

moto (5.2) serialises every response by walking the botocore output shape, and for each node of
an item (an AttributeValue) it asks an attribute picker for each of the shape's ten members
(S, N, B, SS, NS, BS, M, L, NULL, BOOL) through six alias providers. An order item of a few
dozen nested attributes costs milliseconds that way: in the embedded stack under load it was
the largest single consumer of the interpreter (the stream router's GetItem of the order,
measured with py-spy, docs/performance.md section 6). moto's backend already holds an item in
the wire's shape ({"S": "..."} and so on), so `wire_attribute` writes what the generic walk
would write, member for member, and gives up (None: the generic walk runs) on anything it
cannot vouch for: a node with more or fewer than one member, a value of an unexpected type,
an empty map key (the generic walk mishandles those; kept as it does). tests/unit/
test_dynamodb_wire.py compares both on generated items.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any
from unittest import mock

from infra.local import patching

MEMBERS = frozenset({"S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"})
_SERVICES = frozenset({"dynamodb", "dynamodbstreams"})


def _blob(value: Any) -> str | None:
    """What ResponseSerializer._base64 writes for a blob."""
    if isinstance(value, str):
        value = value.encode("utf-8")
    if not isinstance(value, bytes | bytearray):
        return None
    return base64.b64encode(value).strip().decode("utf-8")


def _text(inner: Any) -> Any:
    return inner if type(inner) is str else None


def _flag(inner: Any) -> Any:
    return inner if type(inner) is bool else None


def _texts(inner: Any) -> Any:
    if type(inner) is not list or not all(type(item) is str for item in inner):
        return None
    return list(inner)


def _blobs(inner: Any) -> Any:
    if type(inner) is not list:
        return None
    blobs = [_blob(item) for item in inner]
    return None if any(blob is None for blob in blobs) else blobs


def _map(inner: Any) -> Any:
    if type(inner) is not dict:
        return None
    members: dict[str, Any] = {}
    for name, member in inner.items():
        wired = wire_attribute(member) if type(name) is str and name else None
        if wired is None:
            return None
        members[name] = wired
    return members


def _list(inner: Any) -> Any:
    if type(inner) is not list:
        return None
    items = [wire_attribute(item) for item in inner]
    return None if any(item is None for item in items) else items


# Per member: the JSON the generic walk writes for its value, or None when unsure.
_WRITERS: dict[str, Callable[[Any], Any]] = {
    "S": _text,
    "N": _text,
    "B": _blob,
    "SS": _texts,
    "NS": _texts,
    "BS": _blobs,
    "M": _map,
    "L": _list,
    "NULL": _flag,
    "BOOL": _flag,
}


def wire_attribute(value: Any) -> dict[str, Any] | None:
    """The JSON moto's serializer writes for one AttributeValue, or None when unsure."""
    if type(value) is not dict or len(value) != 1:
        return None
    ((kind, inner),) = value.items()
    writer = _WRITERS.get(kind)
    wired = writer(inner) if writer is not None else None
    return None if wired is None else {kind: wired}


def _transformed_inside(picker: Any) -> bool:
    """Whether a response transformer (moto's include/exclude rules, keyed by a path suffix)
    could apply inside an AttributeValue, where the shortcut would skip it."""
    paths = getattr(picker, "response_transformers", None) or {}
    return any(path.rpartition(".")[2] in MEMBERS for path in paths)


def install(patches: list[Any]) -> None:
    """Route DynamoDB's and DynamoDB Streams' AttributeValues through `wire_attribute`."""
    from moto.core.serialize import BaseJSONSerializer

    generic: Callable[..., None] = BaseJSONSerializer._serialize_type_structure

    def serialize_structure(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if (
            key
            and shape.name == "AttributeValue"
            and self.service_model.service_name in _SERVICES
            and not _transformed_inside(self._value_picker)
        ):
            wired = wire_attribute(value)
            if wired is not None:
                serialized[self.get_serialized_name(shape, key)] = wired
                return
        generic(self, serialized, value, shape, key)

    patching.start(
        patches,
        mock.patch.object(BaseJSONSerializer, "_serialize_type_structure", serialize_structure),
    )
