"""Fixtures every suite may use: the synthesised template (cached on disk by infra.local.synth)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

if TYPE_CHECKING:
    from infra.local.stack import EmbeddedStack

T = TypeVar("T")

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    """The CloudFormation template `cdk synth` produces (cdk.json context, cdk-nag applied)."""
    from infra.local.synth import synth_template

    return synth_template()


@pytest.fixture(scope="session")
def embedded(template: dict[str, Any]) -> Iterator[EmbeddedStack]:
    """One embedded stack per test process (moto's backends are process-wide), HTTP API on."""
    from infra.local.stack import EmbeddedStack

    stack = EmbeddedStack(template, gateway_port=0, log_level="ERROR").start()
    try:
        yield stack
    finally:
        stack.stop()


def eventually(
    probe: Callable[[], T], ready: Callable[[T], bool] = bool, timeout: float = 20.0
) -> T:
    """Poll until `ready(probe())`; the embedded stack works asynchronously, like AWS."""
    deadline = time.monotonic() + timeout
    value = probe()
    while not ready(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"still not ready after {timeout} s: {value!r}")
        time.sleep(0.05)
        value = probe()
    return value
