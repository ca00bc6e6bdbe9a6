"""Moments as every context stores them: aware, inside 1970..9999 UTC, ISO 8601 text."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

# Python's datetime stops at year 9999 and DynamoDB keys sort ISO text: a moment that cannot be
# stored as UTC (9999-12-31T23:59:59-05:00 is year 10000 in UTC) is refused at the boundary.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


def _in_utc(moment: datetime) -> datetime:
    try:
        utc = moment.astimezone(UTC)
    except (OverflowError, ValueError) as error:
        raise ValueError("the moment is outside the range a timestamp can be stored in") from error
    if not EARLIEST <= utc <= LATEST:
        raise ValueError("the moment is outside 1970-01-01 .. 9999-12-31 UTC")
    return utc


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_in_utc)]


def utc_iso(moment: datetime) -> str:
    """Storage form of a timestamp: UTC, ISO 8601, millisecond precision, 'Z'."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
