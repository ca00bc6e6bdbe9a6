"""Fixtures both Allegro integration files use: the registry's simulator served on 127.0.0.1,
a secret pointing at it (auth_url unset: the simulator serves OAuth too), an HTTP client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from shared import registry
from shared.providers.channels.allegro.simulator import AllegroSimulator
from shared.providers.simulation import Line

ALLEGRO = registry.provider("allegro")
LOGIN = {"client_id": "orderhub-app", "client_secret": "app-secret", "refresh_token": "rt-login"}
MUG = Line("MUG-KRAKOW-350", "Kubek Kraków 350 ml", 2, "49.00")


@pytest.fixture
def simulator() -> Iterator[AllegroSimulator]:
    served: AllegroSimulator = ALLEGRO.simulator_class().from_secret(LOGIN)
    served.start()
    try:
        yield served
    finally:
        served.stop()


@pytest.fixture
def secret(simulator: AllegroSimulator) -> dict[str, str]:
    return {**LOGIN, "api_url": simulator.base_url}


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as client:
        yield client
