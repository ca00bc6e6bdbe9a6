"""EventBridge schedule expressions on the local clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from infra.local.scheduler import LocalClock, next_fire

FRIDAY_0700 = datetime(2024, 3, 8, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "delta"),
    [
        ("rate(15 minutes)", timedelta(minutes=15)),
        ("rate(1 minute)", timedelta(minutes=1)),
        ("rate(2 hours)", timedelta(hours=2)),
        ("rate(1 day)", timedelta(days=1)),
    ],
)
def test_rate_adds_its_period(expression: str, delta: timedelta) -> None:
    after = datetime(2024, 3, 8, 10, 7, 30, tzinfo=UTC)
    assert next_fire(expression, after) == after + delta


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (datetime(2024, 3, 8, 10, 7, 30, tzinfo=UTC), datetime(2024, 3, 8, 10, 15, tzinfo=UTC)),
        (datetime(2024, 3, 8, 10, 15, tzinfo=UTC), datetime(2024, 3, 8, 10, 30, tzinfo=UTC)),
        (datetime(2024, 3, 8, 23, 50, tzinfo=UTC), datetime(2024, 3, 9, 0, 0, tzinfo=UTC)),
    ],
    ids=["mid-quarter", "on-a-quarter-is-strictly-after", "over-midnight"],
)
def test_cron_every_quarter_hour(after: datetime, expected: datetime) -> None:
    assert next_fire("cron(0/15 * * * ? *)", after) == expected


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (datetime(2024, 3, 7, 5, 0, tzinfo=UTC), datetime(2024, 3, 7, 6, 0, tzinfo=UTC)),
        (FRIDAY_0700, datetime(2024, 3, 11, 6, 0, tzinfo=UTC)),
        (datetime(2024, 3, 9, 12, 0, tzinfo=UTC), datetime(2024, 3, 11, 6, 0, tzinfo=UTC)),
    ],
    ids=["thursday-morning", "friday-after-six-skips-the-weekend", "saturday"],
)
def test_cron_on_weekdays_skips_the_weekend(after: datetime, expected: datetime) -> None:
    fire = next_fire("cron(0 6 ? * MON-FRI *)", after)
    assert fire == expected
    assert fire.isoweekday() <= 5


def test_cron_day_numbers_count_sunday_as_one() -> None:
    # EventBridge: 1 = SUN ... 7 = SAT
    assert next_fire("cron(0 6 ? * 1 *)", FRIDAY_0700) == datetime(2024, 3, 10, 6, 0, tzinfo=UTC)
    assert next_fire("cron(0 6 ? * SUN *)", FRIDAY_0700).strftime("%A") == "Sunday"


def test_cron_lists_and_month_names() -> None:
    expression = "cron(30 8,20 1 JAN,JUL ? *)"
    mid_june = datetime(2024, 6, 15, tzinfo=UTC)
    assert next_fire(expression, mid_june) == datetime(2024, 7, 1, 8, 30, tzinfo=UTC)
    assert next_fire(expression, datetime(2024, 7, 1, 8, 30, tzinfo=UTC)) == datetime(
        2024, 7, 1, 20, 30, tzinfo=UTC
    )


@pytest.mark.parametrize(
    "expression", ["every 5 minutes", "rate(5 seconds)", "at(2024-01-01T00:00:00)"]
)
def test_unsupported_expressions_are_refused(expression: str) -> None:
    with pytest.raises(ValueError, match="unsupported schedule expression"):
        next_fire(expression, FRIDAY_0700)


def test_the_local_clock_moves_forward_when_advanced() -> None:
    clock = LocalClock()
    before = clock.now()
    clock.advance(timedelta(minutes=15))
    clock.advance(timedelta(minutes=15))
    moved = clock.now() - before
    assert timedelta(minutes=30) <= moved < timedelta(minutes=30, seconds=5)
    assert clock.now().tzinfo is UTC
