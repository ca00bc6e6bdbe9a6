"""The embedded stack's one error record: logged, passed to listeners, readable by the tests."""

from __future__ import annotations

import logging
import threading

import pytest

from infra.local.errors import HarnessErrors, describe


def test_an_error_is_logged_kept_and_passed_to_listeners(caplog: pytest.LogCaptureFixture) -> None:
    errors = HarnessErrors()
    heard: list[str] = []
    errors.listeners.append(lambda e: heard.append(str(e)))
    mark = len(errors)

    def fail() -> None:
        raise ValueError("no shard")

    try:
        fail()
    except ValueError as error:
        with caplog.at_level(logging.ERROR, logger="orderhub.local"):
            errors.reporter("stream-poller")(error, "get_records")

    assert heard == ["[stream-poller] get_records: ValueError: no shard"]
    assert [r.name for r in caplog.records] == ["orderhub.local"]
    recorded = errors.since(mark)
    assert len(recorded) == 1 and "Traceback" in recorded[0].detail
    assert "no shard" in describe(recorded)
    assert errors.take(mark) == recorded
    assert not errors


def test_errors_logged_by_moto_itself_are_captured_but_not_its_children() -> None:
    errors = HarnessErrors()
    handler = errors.capture_logger("orderhub-test-moto", "moto")
    try:
        logging.getLogger("orderhub-test-moto").error("Exception on /dynamodb [POST]")
        logging.getLogger("orderhub-test-moto.stepfunctions").error("a task failed, as planned")
    finally:
        logging.getLogger("orderhub-test-moto").removeHandler(handler)
    assert [e.message for e in errors] == ["orderhub-test-moto: Exception on /dynamodb [POST]"]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_thread_that_dies_is_recorded() -> None:
    errors = HarnessErrors()
    restore = errors.capture_threads()
    try:

        def die() -> None:
            raise RuntimeError("scheduler died")

        thread = threading.Thread(target=die, name="doomed")
        thread.start()
        thread.join()
    finally:
        restore()
    assert [e.component for e in errors] == ["thread"]
    assert "doomed" in next(iter(errors)).message
