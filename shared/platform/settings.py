"""Per-function settings: pydantic models read from the environment on first use.

A missing or invalid variable fails the first invocation with a message naming it. Settings
are cached by the values of their own variables, so one process hosting several functions (the
embedded stack) never hands one function another's configuration.
"""

from __future__ import annotations

import os
import threading
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, ValidationError


class ConfigurationError(RuntimeError):
    """The function's environment is missing or has an invalid setting."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    _cache: ClassVar[dict[tuple[Any, ...], Any]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def env_names(cls) -> dict[str, str]:
        return {field: field.upper() for field in cls.model_fields}

    @classmethod
    def load(cls) -> Self:
        names = cls.env_names()
        key = (cls, *(os.environ.get(name) for name in names.values()))
        cached = cls._cache.get(key)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        values = {field: os.environ[name] for field, name in names.items() if name in os.environ}
        try:
            settings = cls.model_validate(values)
        except ValidationError as error:
            problems = ", ".join(
                f"{names.get(str(issue['loc'][0]), issue['loc'][0])} ({issue['msg']})"
                for issue in error.errors()
            )
            raise ConfigurationError(f"{cls.__name__}: {problems}") from error
        with cls._lock:
            cls._cache[key] = settings
        return settings
