"""EventBridge schedules on a local clock: rate(...) and cron(...) rules invoke their targets
with the "Scheduled Event" payload; failures retry as the target's RetryPolicy says, then go to
its dead-letter queue. Tests move the clock instead of waiting."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from infra.local.deployer import Schedule

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_DAY_NAMES = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_MONTH_NAMES = {
    name: i
    for i, name in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"],
        start=1,
    )
}


class LocalClock:
    """Wall time plus an offset that tests advance."""

    def __init__(self) -> None:
        self._offset = timedelta()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._offset += delta


def _field_values(text: str, low: int, high: int, names: dict[str, int]) -> set[int] | None:
    """One cron field -> the allowed values; None means any (* or ?)."""
    if text in ("*", "?"):
        return None
    values: set[int] = set()
    for item in text.split(","):
        step = 1
        part = item
        if "/" in item:
            part, step_text = item.split("/", 1)
            step = int(step_text)
        if part in ("*", ""):
            start, end = low, high
        elif "-" in part:
            first, last = part.split("-", 1)
            start, end = names.get(first) or int(first), names.get(last) or int(last)
        else:
            start = names.get(part) or int(part)
            end = high if step > 1 else start
        values.update(range(start, end + 1, step))
    return values


def next_fire(expression: str, after: datetime) -> datetime:
    """The first fire time strictly after `after` (UTC; minute precision like EventBridge)."""
    rate = _RATE.match(expression.strip())
    if rate:
        amount, unit = int(rate.group(1)), rate.group(2).rstrip("s")
        return (
            after
            + {
                "minute": timedelta(minutes=amount),
                "hour": timedelta(hours=amount),
                "day": timedelta(days=amount),
            }[unit]
        )
    cron = _CRON.match(expression.strip())
    if not cron:
        raise ValueError(f"unsupported schedule expression {expression!r}")
    minutes, hours, days, months, weekdays, years = cron.group(1).split()
    allowed = (
        _field_values(minutes, 0, 59, {}),
        _field_values(hours, 0, 23, {}),
        _field_values(days, 1, 31, {}),
        _field_values(months, 1, 12, _MONTH_NAMES),
        _field_values(weekdays, 1, 7, _DAY_NAMES),
        _field_values(years, 1970, 2199, {}),
    )
    candidate = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    for _ in range(60 * 24 * 366 * 2):
        weekday = candidate.isoweekday() % 7 + 1  # cron: SUN=1 .. SAT=7
        fields = (
            candidate.minute,
            candidate.hour,
            candidate.day,
            candidate.month,
            weekday,
            candidate.year,
        )
        if all(a is None or v in a for a, v in zip(allowed, fields, strict=True)):
            return candidate
        candidate += timedelta(minutes=1)
    raise ValueError(f"{expression!r} never fires")


class Scheduler:
    def __init__(
        self,
        schedules: list[Schedule],
        session: Any,
        *,
        endpoint: str,
        region: str,
        account: str,
        clock: LocalClock,
        report: Callable[..., Any] | None = None,
    ) -> None:
        self._schedules = schedules
        self._lambda = session.client("lambda", endpoint_url=endpoint)
        self._sqs = session.client("sqs", endpoint_url=endpoint)
        self._region = region
        self._account = account
        self.clock = clock
        start = clock.now()
        self._next = {s.rule_name: next_fire(s.expression, start) for s in schedules}
        self.fired: list[tuple[str, datetime]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._report = report

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            try:
                self.tick()
            except Exception as error:  # keep firing the other rules; say what went wrong
                if self._report is None:
                    raise
                self._report(error, "tick")

    def tick(self) -> list[str]:
        """Fire every rule that is due at the clock's now; returns the rules fired."""
        now = self.clock.now()
        fired = []
        for schedule in self._schedules:
            if self._next[schedule.rule_name] <= now:
                self._next[schedule.rule_name] = next_fire(schedule.expression, now)
                fired.append(schedule.rule_name)
                try:
                    self._fire(schedule, now)
                except Exception as error:
                    if self._report is None:
                        raise
                    self._report(error, f"firing {schedule.rule_name}")
        return fired

    def _fire(self, schedule: Schedule, at: datetime) -> None:
        self.fired.append((schedule.rule_name, at))
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": self._account,
            "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self._region,
            "resources": [
                f"arn:aws:events:{self._region}:{self._account}:rule/{schedule.rule_name}"
            ],
            "detail": {},
        }
        for target in schedule.targets:
            payload = target.input if target.input is not None else json.dumps(event)
            for attempt in range(target.retry_attempts + 1):
                response = self._lambda.invoke(FunctionName=target.arn, Payload=payload.encode())
                response["Payload"].read()
                if not response.get("FunctionError"):
                    break
                if attempt < target.retry_attempts:
                    time.sleep(0.05)
            else:
                if target.dead_letter_arn:
                    queue = target.dead_letter_arn.rsplit(":", 1)[-1]
                    url = self._sqs.get_queue_url(QueueName=queue)["QueueUrl"]
                    self._sqs.send_message(QueueUrl=url, MessageBody=payload)
