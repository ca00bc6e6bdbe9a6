"""The embedded stack's patches of moto and botocore: started into one list, stopped together
(in reverse, so a patch of a patched name unwinds to the original)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


def start(patches: list[Any], *patchers: Any) -> None:
    """Start each of `patchers` (unittest.mock patchers) and keep it in `patches`."""
    for patcher in patchers:
        patcher.start()
        patches.append(patcher)


def stop(patches: list[Any]) -> None:
    """Stop every patch in `patches`, the last started first, and empty the list."""
    for patcher in reversed(patches):
        patcher.stop()
    patches.clear()


@contextmanager
def installed(install: Callable[..., Any], *args: Any) -> Iterator[list[Any]]:
    """`install(patches, *args)` for the duration of a block (the patches' tests)."""
    patches: list[Any] = []
    install(patches, *args)
    try:
        yield patches
    finally:
        stop(patches)
