"""The stream router's table of reactions: every inbound kind has one, an unknown kind fails."""

from __future__ import annotations

import typing
from typing import Any, cast

import pytest

from functions.stream_router.reactions import (
    REACTIONS,
    Contexts,
    StoredDelivery,
    UnknownEventKind,
    react,
)
from shared.inbox import events


def inbound_kinds() -> set[str]:
    union = typing.get_args(events.InboundEvent)[0]
    return {model.model_fields["kind"].default for model in typing.get_args(union)}


def test_every_inbound_kind_has_exactly_one_reaction() -> None:
    assert set(REACTIONS) == inbound_kinds()


def test_an_event_of_an_unknown_kind_fails_loudly() -> None:
    class Shipment:
        kind = "shipment"

    with pytest.raises(UnknownEventKind, match="shipment"):
        react(cast(Contexts, None), cast(Any, Shipment()), StoredDelivery("dpd", "evt-1"))
