"""Przelewy24's `sign`: plain SHA-384 (not an HMAC) of a compact JSON object whose last member is
the CRC key.

Docs (developers.przelewy24.pl, "Calculating Sign", and each schema's `sign` description): the
object holds the named fields in the documented order, encoded as PHP's
`json_encode($params, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES)` does, hashed with
`hash('sha384', ...)` (lowercase hex). The official Python snippet hashes
'{"sessionId":"sessionId","merchantId":999999,"amount":1000,"currency":"PLN","crc":"crc"}'.

PHP's encoding differs from `json.dumps(..., ensure_ascii=False, separators=(",", ":"))` in one
place: with JSON_UNESCAPED_UNICODE (and without JSON_UNESCAPED_LINE_TERMINATORS) PHP >= 7.1
still writes U+2028 and U+2029 as \\u2028 and \\u2029. Text that is not valid UTF-8 (a lone
surrogate JSON can carry as "\\ud800") cannot be encoded by PHP at all: it has no sign.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping

# The fields of each signed object, in the documented order ("crc" is always last).
REGISTER_FIELDS = ("sessionId", "merchantId", "amount", "currency")
VERIFY_FIELDS = ("sessionId", "orderId", "amount", "currency")
NOTIFICATION_FIELDS = (
    "merchantId",
    "posId",
    "sessionId",
    "amount",
    "originAmount",
    "currency",
    "orderId",
    "methodId",
    "statement",
)
REFUND_NOTIFICATION_FIELDS = (
    "orderId",
    "sessionId",
    "refundsUuid",
    "merchantId",
    "amount",
    "currency",
    "status",
)

SIGN_LENGTH = 96  # SHA-384 in hex


class Unsignable(ValueError):
    """A value PHP's json_encode could not encode (not valid UTF-8): nothing can sign it."""


def php_json(document: Mapping[str, str | int]) -> bytes:
    """`json_encode($document, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES)`, as bytes."""
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise Unsignable("a signed value is not valid UTF-8") from error


def sign(fields: tuple[str, ...], values: Mapping[str, str | int], crc: str) -> str:
    """The sign over `fields` of `values` (in that order) and the CRC key."""
    document: dict[str, str | int] = {name: values[name] for name in fields}
    document["crc"] = crc
    return hashlib.sha384(php_json(document)).hexdigest()


def signs_match(expected: str, given: str) -> bool:
    """Constant-time comparison; P24 writes lowercase hex, case is not significant."""
    return hmac.compare_digest(expected.encode("ascii"), given.lower().encode("ascii", "replace"))


def register_sign(
    *, session_id: str, merchant_id: int, amount: int, currency: str, crc: str
) -> str:
    values: dict[str, str | int] = {
        "sessionId": session_id,
        "merchantId": merchant_id,
        "amount": amount,
        "currency": currency,
    }
    return sign(REGISTER_FIELDS, values, crc)


def verify_sign(*, session_id: str, order_id: int, amount: int, currency: str, crc: str) -> str:
    values: dict[str, str | int] = {
        "sessionId": session_id,
        "orderId": order_id,
        "amount": amount,
        "currency": currency,
    }
    return sign(VERIFY_FIELDS, values, crc)
