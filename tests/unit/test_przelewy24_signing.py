"""Przelewy24's sign: the official examples, the documented field orders, PHP's json_encode."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.providers.payments.przelewy24.signing import (
    NOTIFICATION_FIELDS,
    REFUND_NOTIFICATION_FIELDS,
    Unsignable,
    php_json,
    register_sign,
    sign,
    signs_match,
    verify_sign,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "przelewy24"


def official_examples() -> dict[str, Any]:
    examples: dict[str, Any] = json.loads(
        (FIXTURES / "sign_examples_official_docs.json").read_text()
    )
    return examples


def schemas() -> dict[str, str]:
    """The excerpt's schemas by name, each as its YAML text (read as text: the excerpt is
    verbatim YAML, and its shape is all we need)."""
    text = (FIXTURES / "notification_schemas_openapi_excerpt.yaml").read_text()
    parts = re.split(r"^ {4}(\w+):\n", text, flags=re.MULTILINE)[1:]
    return dict(zip(parts[::2], parts[1::2], strict=True))


def properties(schema: str) -> list[str]:
    return re.findall(r"^ {8}(\w+):$", schemas()[schema], flags=re.MULTILINE)


def documented_sign_fields(schema: str) -> list[str]:
    """The field names of a schema's `sign` description, in the order P24 lists them."""
    description = schemas()[schema].split("\n        sign:\n", 1)[1]
    return re.findall(r'"(\w+)":</font>', description)


# -- the official examples ----------------------------------------------------------------------


def test_the_register_example_is_what_we_encode_and_hash() -> None:
    # Given the values of P24's Python register example
    example = official_examples()["register_sign"]
    values: dict[str, str | int] = {
        "sessionId": "sessionId",
        "merchantId": 999999,
        "amount": 1000,
        "currency": "PLN",
    }
    # When encoded as P24 documents, Then it is the example's string, and its hash
    assert php_json({**values, "crc": "crc"}).decode() == example["json_string"]
    assert hashlib.sha384(example["json_string"].encode()).hexdigest() == example["sha384_hex"]
    assert (
        register_sign(
            session_id="sessionId", merchant_id=999999, amount=1000, currency="PLN", crc="crc"
        )
        == example["sha384_hex"]
    )


def test_the_verify_example_is_what_we_encode_and_hash() -> None:
    example = official_examples()["verify_sign"]
    values: dict[str, str | int] = {
        "sessionId": "sessionId",
        "orderId": 999999,
        "amount": 1000,
        "currency": "PLN",
    }
    assert php_json({**values, "crc": "crc"}).decode() == example["json_string"]
    assert (
        verify_sign(session_id="sessionId", order_id=999999, amount=1000, currency="PLN", crc="crc")
        == example["sha384_hex"]
    )


def test_register_and_verify_signs_differ_for_the_same_numbers() -> None:
    # P24: "The sign parameter value that must be passed in the transaction registration
    # request is different from the sign value passed for the transaction verification".
    examples = official_examples()
    assert examples["register_sign"]["sha384_hex"] != examples["verify_sign"]["sha384_hex"]


@pytest.mark.parametrize(
    ("schema", "fields"),
    [
        ("TransactionResult", NOTIFICATION_FIELDS),
        ("TransactionRefundResult", REFUND_NOTIFICATION_FIELDS),
    ],
)
def test_notification_signs_cover_the_documented_fields_in_order(
    schema: str, fields: tuple[str, ...]
) -> None:
    assert documented_sign_fields(schema) == [*fields, "crc"]


def test_every_signed_field_is_a_field_of_its_notification() -> None:
    for schema, fields in (
        ("TransactionResult", NOTIFICATION_FIELDS),
        ("TransactionRefundResult", REFUND_NOTIFICATION_FIELDS),
    ):
        assert set(fields) < set(properties(schema))


# -- PHP json_encode(JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES) ----------------------------


def test_slashes_and_polish_letters_are_not_escaped() -> None:
    encoded = php_json({"statement": "p24/zamówienie-ąę", "sessionId": "ord_1/2"})
    assert encoded == '{"statement":"p24/zamówienie-ąę","sessionId":"ord_1/2"}'.encode()


def test_quotes_backslashes_and_controls_are_escaped_as_php_does() -> None:
    assert php_json({"s": 'a"b\\c\n\t\x01\x7f'}) == b'{"s":"a\\"b\\\\c\\n\\t\\u0001\x7f"}'


def test_line_and_paragraph_separators_are_escaped_as_php_7_1_does() -> None:
    assert php_json({"s": "a\u2028b\u2029c"}) == b'{"s":"a\\u2028b\\u2029c"}'


def test_a_lone_surrogate_cannot_be_signed() -> None:
    with pytest.raises(Unsignable):
        sign(("s",), {"s": "\ud800"}, "crc")


def test_signs_compare_without_regard_to_case() -> None:
    digest = sign(("a",), {"a": 1}, "crc")
    assert signs_match(digest, digest.upper())
    assert not signs_match(digest, digest[:-1] + ("0" if digest[-1] != "0" else "1"))
    assert not signs_match(digest, "ż" * 96)


# The official JavaScript example signs with JSON.stringify; for text without U+2028/U+2029 it
# encodes exactly as PHP with P24's flags does: an independent encoder to hold ours to.
TEXT = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\u2028\u2029"), max_size=40
)
DOCUMENTS = st.lists(
    st.fixed_dictionaries(
        {
            "sessionId": TEXT,
            "merchantId": st.integers(0, 2**53),
            "amount": st.integers(0, 10**12),
            "statement": TEXT,
        }
    ),
    min_size=1,
    max_size=1,
)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@settings(deadline=None, max_examples=5)
@given(batch=st.lists(DOCUMENTS, min_size=20, max_size=20))
def test_json_stringify_encodes_what_we_encode(batch: list[list[dict[str, Any]]]) -> None:
    documents = [document for group in batch for document in group]
    script = (
        "const docs = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "process.stdout.write(JSON.stringify(docs.map((d) => JSON.stringify(d))));"
    )
    node = shutil.which("node")
    assert node is not None
    ran = subprocess.run(  # noqa: S603 - a fixed script, our own input
        [node, "-e", script], input=json.dumps(documents).encode(), capture_output=True, check=True
    )
    theirs = json.loads(ran.stdout)
    assert [php_json(document).decode() for document in documents] == theirs
