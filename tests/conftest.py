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


@pytest.fixture(autouse=True)
def _no_embedded_stack_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that used the embedded stack fails if the stack itself had an error meanwhile
    (a poller, scheduler, gateway, moto or deployer failure; not a function raising)."""
    if "embedded" not in request.fixturenames:
        yield
        return
    from infra.local.errors import describe

    stack: EmbeddedStack = request.getfixturevalue("embedded")
    mark = len(stack.errors)
    yield
    happened = stack.errors.since(mark)
    if happened:
        pytest.fail(
            f"the embedded stack reported {len(happened)} error(s) during this test:\n"
            + describe(happened),
            pytrace=False,
        )


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
