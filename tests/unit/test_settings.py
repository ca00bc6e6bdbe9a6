"""Settings from the environment: missing variables named, cached by their values."""

from __future__ import annotations

import pytest

from shared.platform.settings import ConfigurationError, Settings


class ExampleSettings(Settings):
    orderhub_unit_table: str
    orderhub_unit_retention_days: int = 90


def test_fields_are_read_from_upper_case_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERHUB_UNIT_TABLE", "orders-dev")
    monkeypatch.setenv("ORDERHUB_UNIT_RETENTION_DAYS", "30")
    settings = ExampleSettings.load()
    assert settings.orderhub_unit_table == "orders-dev"
    assert settings.orderhub_unit_retention_days == 30


def test_defaults_apply_when_a_variable_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERHUB_UNIT_TABLE", "orders-defaults")
    monkeypatch.delenv("ORDERHUB_UNIT_RETENTION_DAYS", raising=False)
    assert ExampleSettings.load().orderhub_unit_retention_days == 90


def test_a_missing_variable_is_named_in_upper_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORDERHUB_UNIT_TABLE", raising=False)
    with pytest.raises(ConfigurationError, match="ExampleSettings: ORDERHUB_UNIT_TABLE"):
        ExampleSettings.load()


def test_an_invalid_variable_is_named_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERHUB_UNIT_TABLE", "orders-invalid")
    monkeypatch.setenv("ORDERHUB_UNIT_RETENTION_DAYS", "ninety")
    with pytest.raises(ConfigurationError, match="ORDERHUB_UNIT_RETENTION_DAYS"):
        ExampleSettings.load()


def test_settings_are_cached_by_the_values_of_their_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given settings loaded once
    monkeypatch.setenv("ORDERHUB_UNIT_TABLE", "orders-a")
    first = ExampleSettings.load()
    # When loaded again with the same environment, Then it is the same object
    assert ExampleSettings.load() is first
    # When the environment changes, Then the new value is seen (not a stale cache)
    monkeypatch.setenv("ORDERHUB_UNIT_TABLE", "orders-b")
    second = ExampleSettings.load()
    assert second.orderhub_unit_table == "orders-b"
    # And switching back finds the first one again
    monkeypatch.setenv("ORDERHUB_UNIT_TABLE", "orders-a")
    assert ExampleSettings.load() is first


def test_unrelated_variables_do_not_leak_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERHUB_UNIT_TABLE", "orders-c")
    monkeypatch.setenv("ORDERHUB_UNIT_OTHER", "x")
    assert ExampleSettings.load().model_dump() == {
        "orderhub_unit_table": "orders-c",
        "orderhub_unit_retention_days": 90,
    }
