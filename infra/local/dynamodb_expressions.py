"""moto's condition and filter expressions parsed once per distinct expression.

moto (5.2) tokenises and parses a ConditionExpression (or FilterExpression) in its backend on
every request that carries one: the inbox's `attribute_not_exists(PK)` on every webhook, the
version checks of every order write. The parse is a pure function of the expression and the
names and values it refers to, and the tree it returns is only read when evaluated (no operand
keeps state), so the same tree serves every request with the same three. Expressions that fail
to parse are not kept: each such request fails as moto makes it fail.

Not covered, so still parsed on every request: moto's request layer parses each expression
once more to list the names it uses, and its UpdateItem builds its condition's parser
directly. This saves the backend's parse of PutItem, DeleteItem, TransactWriteItems (this
stack's, infra/local/transactions.py) and Query/Scan filters.
"""

from __future__ import annotations

import functools
import json
from typing import Any
from unittest import mock

from infra.local import patching

CACHED_EXPRESSIONS = 1024
# Where moto's DynamoDB looks the function up: the models import it by name, and the
# stack's TransactWriteItems (infra/local/transactions.py) from the comparisons module.
_CALLERS = ("moto.dynamodb.comparisons", "moto.dynamodb.models", "moto.dynamodb.models.table")


def _named_in(expression: str, placeholders: dict[str, Any] | None) -> dict[str, Any] | None:
    """The placeholders whose name occurs in the expression's text. An UpdateItem's
    ExpressionAttributeValues also carry the update's own values (a new version, a
    timestamp), which its ConditionExpression never reads: keyed on all of them, no two
    version checks would share a parse. The parser looks up only names it read in the text,
    so every one it can ask for is kept (a name inside a longer one is kept too: harmless)."""
    if placeholders is None:
        return None
    return {name: value for name, value in placeholders.items() if name in expression}


def install(patches: list[Any]) -> None:
    import importlib

    from moto.dynamodb import comparisons

    parse = comparisons.get_filter_expression

    @functools.lru_cache(maxsize=CACHED_EXPRESSIONS)
    def parsed(expression: str, names: str, values: str) -> Any:
        return parse(expression, json.loads(names), json.loads(values))

    def get_filter_expression(
        expression: str | None, names: dict[str, str] | None, values: dict[str, Any] | None
    ) -> Any:
        if not expression:
            return parse(expression, names, values)
        try:
            key = (
                json.dumps(_named_in(expression, names), sort_keys=True),
                json.dumps(_named_in(expression, values), sort_keys=True),
            )
        except (TypeError, ValueError):  # a binary value: parse it as moto does
            return parse(expression, names, values)
        return parsed(expression, *key)

    for name in _CALLERS:
        patching.start(
            patches,
            mock.patch.object(
                importlib.import_module(name), "get_filter_expression", get_filter_expression
            ),
        )
