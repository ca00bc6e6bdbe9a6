"""How every channel client reads an HTTP answer it did not want: one policy for what is worth
retrying (ChannelUnavailable, with the channel's Retry-After) and what is refused for good
(ChannelRejected), so no channel dead-letters a timeout another would retry."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from shared.channels.push import ChannelRejected, ChannelUnavailable

if TYPE_CHECKING:
    import httpx

# 408 a timeout, 409 a conflict another writer causes (Allegro's revision), 425 too early,
# 429 a rate limit; 5xx the channel's own failure. Anything else (401, 403, 404, 422) needs a
# person: a retry would be refused the same way.
RETRYABLE = frozenset({408, 409, 425, 429})
MAX_RETRY_AFTER = 3600.0


def retry_after(response: httpx.Response, cap: float = MAX_RETRY_AFTER) -> float | None:
    """Retry-After in seconds (a number of seconds, or an HTTP date), at most `cap`."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - datetime.now(UTC)).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(max(0.0, seconds), cap)


def is_retryable(status: int) -> bool:
    return status in RETRYABLE or status >= 500


def raise_for_channel(response: httpx.Response, message: str) -> None:
    """Nothing for a 2xx; else the failure the push queue acts on (`message` names it)."""
    status = response.status_code
    if 200 <= status < 300:
        return
    if is_retryable(status):
        raise ChannelUnavailable(message, retry_after=retry_after(response))
    raise ChannelRejected(message)
