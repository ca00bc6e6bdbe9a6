"""The loop the embedded stack's event source mappings run on: a daemon thread that polls until
stopped, never dies of an error (it is reported: the stack's error record), and sleeps only
when a pass found nothing to do: until `wake()` (something arrived) or the interval ends."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

Reporter = Callable[[BaseException, str], Any]


class PollingLoop:
    thread_name = "poller"

    def __init__(self, *, interval_seconds: float, report: Reporter | None) -> None:
        self._interval = interval_seconds
        self._report = report
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._poll_lock = threading.Lock()  # a test's poll_once never overlaps the thread's

    def poll_once(self) -> int:
        """One pass; returns how much it handed on (0: sleep before the next)."""
        raise NotImplementedError

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Something arrived: poll now rather than at the end of the interval."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.poll_once()
            except Exception as error:  # keep polling; say what went wrong
                self._error(error, "poll")
                busy = 0
            if not busy and self._wake.wait(self._interval):
                # Cleared before the next pass: an arrival during that pass wakes the one after.
                self._wake.clear()

    def _error(self, error: BaseException, context: str) -> None:
        if self._report is None:
            raise error
        self._report(error, context)
