"""The embedded stack's request ids (infra/local/ids.py): version 4 UUIDs as uuid.uuid4()
writes them, unique, drawn without a system call, and botocore's invocation id drawn the same
way only while the stack's patches are installed."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import botocore.endpoint

from infra.local import ids, patching


def test_request_ids_are_version_4_uuids_and_unique() -> None:
    drawn = [ids.request_id() for _ in range(10_000)]
    assert len(set(drawn)) == len(drawn)
    for value in drawn[:100]:
        parsed = uuid.UUID(value)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, value)


def test_no_system_call_draws_them() -> None:
    with mock.patch.object(os, "urandom", side_effect=AssertionError("os.urandom called")):
        ids.request_id()


def test_botocore_names_its_requests_from_the_same_source_while_installed() -> None:
    client = boto3.client(
        "sqs",
        region_name="eu-central-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    sent: list[str] = []

    def capture(request: Any, **_: Any) -> Any:
        sent.append(request.headers["amz-sdk-invocation-id"].decode())
        raise RuntimeError("answered here")

    client.meta.events.register("before-send", capture)
    with (
        patching.installed(ids.install),
        mock.patch.object(os, "urandom", side_effect=AssertionError("os.urandom called")),
        contextlib.suppress(RuntimeError),  # raised by capture(), once it has looked
    ):
        client.list_queues()
    assert uuid.UUID(sent[0]).version == 4
    assert botocore.endpoint.uuid is uuid  # type: ignore[attr-defined]  # restored at stop


FORK_AND_COMPARE = """
import os
from infra.local import ids
read, write = os.pipe()
if os.fork() == 0:
    os.write(write, ids.request_id().encode())
    os._exit(0)
os.close(write)
child = os.read(read, 64).decode()
os.wait()
print("same" if child == ids.request_id() else "different")
"""


def test_a_forked_child_draws_other_ids_than_its_parent() -> None:
    # In a fresh, single-threaded interpreter: forking this test process (threads of
    # embedded stacks in it) would be unsafe.
    outcome = subprocess.run(  # noqa: S603 - this interpreter, this test's own script
        [sys.executable, "-c", FORK_AND_COMPARE],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert outcome.stdout.strip() == "different"
