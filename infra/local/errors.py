"""One record of everything that went wrong inside the embedded stack itself.

The stream poller, the scheduler, the gateway, the deployer, moto's server and stray threads
report here. A function that raises is not a harness error (the stream mapping retries it, the
gateway answers 500 like API Gateway); the harness failing to deliver, fire or answer is.
Each error is logged on the "orderhub.local" logger and passed to listeners (`make local` prints
them as they happen); the tests fail any test during which one was recorded.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger("orderhub.local")


@dataclass(frozen=True)
class HarnessError:
    component: str  # "stream-poller", "scheduler", "gateway", "deployer", "moto", "thread"
    message: str
    detail: str = ""  # the traceback, when there is one
    at: float = field(default_factory=time.time)

    def __str__(self) -> str:
        return f"[{self.component}] {self.message}"


class HarnessErrors:
    def __init__(self) -> None:
        self._items: list[HarnessError] = []
        self._lock = threading.Lock()
        self.listeners: list[Callable[[HarnessError], None]] = []

    def record(self, component: str, error: BaseException | str, context: str = "") -> HarnessError:
        if isinstance(error, BaseException):
            message = f"{type(error).__name__}: {error}"
            detail = "".join(traceback.format_exception(error))
        else:
            message, detail = error, ""
        if context:
            message = f"{context}: {message}"
        return self._add(HarnessError(component, message, detail))

    def _add(self, entry: HarnessError) -> HarnessError:
        with self._lock:
            self._items.append(entry)
        logger.error("%s%s", entry, f"\n{entry.detail}" if entry.detail else "")
        for listener in list(self.listeners):
            try:
                listener(entry)
            except Exception:  # a broken listener must not hide the error it was told about
                logger.exception("error listener failed")
        return entry

    def reporter(self, component: str) -> Callable[..., HarnessError]:
        """`record` bound to one component: what the poller, scheduler and gateway are given."""

        def report(error: BaseException | str, context: str = "") -> HarnessError:
            return self.record(component, error, context)

        return report

    def since(self, mark: int) -> list[HarnessError]:
        with self._lock:
            return self._items[mark:]

    def take(self, mark: int) -> list[HarnessError]:
        """Remove and return the errors recorded after `mark`: for a test that caused them."""
        with self._lock:
            taken = self._items[mark:]
            del self._items[mark:]
            return taken

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __iter__(self) -> Iterator[HarnessError]:
        with self._lock:
            return iter(list(self._items))

    def __bool__(self) -> bool:
        return len(self) > 0

    # -- capturing what nobody else catches --------------------------------------------------
    def capture_logger(self, name: str, component: str) -> logging.Handler:
        """Record ERROR records logged on exactly `name` (not its children)."""
        errors = self

        class Capture(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                if record.name != name:
                    return
                detail = ""
                if record.exc_info and record.exc_info[1] is not None:
                    detail = "".join(traceback.format_exception(*record.exc_info))
                errors._add(HarnessError(component, f"{name}: {record.getMessage()}", detail))

        handler = Capture(level=logging.ERROR)
        logging.getLogger(name).addHandler(handler)
        return handler

    def capture_threads(self) -> Callable[[], None]:
        """Record exceptions that end any thread; returns the function that undoes it."""
        previous = threading.excepthook

        def hook(args: Any) -> None:
            error = args.exc_value
            if isinstance(error, BaseException) and not isinstance(error, SystemExit):
                name = args.thread.name if args.thread is not None else "?"
                self.record("thread", error, f"thread {name} died")
            previous(args)

        threading.excepthook = hook

        def restore() -> None:
            if threading.excepthook is hook:
                threading.excepthook = previous

        return restore


def describe(errors: list[HarnessError]) -> str:
    return "\n".join(f"{e}\n{e.detail}" if e.detail else str(e) for e in errors)
