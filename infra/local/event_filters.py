"""Lambda event filtering / EventBridge content patterns: the subset CDK's FilterRule emits
(exact values, prefix, anything-but, exists, numeric) plus nesting."""

from __future__ import annotations

from typing import Any

_MISSING = object()


def matches(pattern: dict[str, Any], event: Any) -> bool:
    if not isinstance(event, dict):
        return False
    for key, rule in pattern.items():
        value = event.get(key, _MISSING)
        if isinstance(rule, dict):
            if value is _MISSING or not matches(rule, value):
                return False
        elif isinstance(rule, list):
            if not any(_matches_value(option, value) for option in rule):
                return False
        else:
            raise TypeError(f"pattern value for {key!r} must be a list or an object")
    return True


def _matches_value(option: Any, value: Any) -> bool:  # noqa: PLR0911 - one branch per operator
    if not isinstance(option, dict):
        return value is not _MISSING and value == option
    ((operator, argument),) = option.items()
    if operator == "exists":
        return (value is not _MISSING) == bool(argument)
    if value is _MISSING:
        return False
    if operator == "prefix":
        return isinstance(value, str) and value.startswith(argument)
    if operator == "suffix":
        return isinstance(value, str) and value.endswith(argument)
    if operator == "anything-but":
        excluded = argument if isinstance(argument, list) else [argument]
        return value not in excluded
    if operator == "numeric":
        return _numeric(argument, value)
    raise ValueError(f"unsupported filter operator {operator!r}")


def _numeric(conditions: list[Any], value: Any) -> bool:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    checks = {
        "=": number.__eq__,
        "<": number.__lt__,
        "<=": number.__le__,
        ">": number.__gt__,
        ">=": number.__ge__,
    }
    for operator, bound in zip(conditions[::2], conditions[1::2], strict=True):
        if not checks[operator](float(bound)):
            return False
    return True
