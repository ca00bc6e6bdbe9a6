"""Fictional providers come only from tests, and never into a deployable template."""

from __future__ import annotations

import pytest

from infra import app
from shared import registry


def test_only_test_modules_can_add_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(registry.EXTRA_PROVIDERS_ENV, "os:path")
    with pytest.raises(ValueError, match="only test providers"):
        registry.providers()


def test_the_cdk_app_refuses_to_synthesise_with_fictional_providers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(registry.EXTRA_PROVIDERS_ENV, "tests.fictional.acme:PROVIDERS")
    with pytest.raises(SystemExit, match="unset"):
        app.main()
