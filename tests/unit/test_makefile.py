"""`make help` lists every target a newcomer may run, each with what it does."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from infra.paths import ROOT


def targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-z][a-z-]*):", text, flags=re.MULTILINE))


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_help_lists_every_target_with_a_description() -> None:
    make = shutil.which("make")
    assert make is not None
    shown = subprocess.run(  # noqa: S603 - the machine's make, our Makefile
        [make, "--no-print-directory", "help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    listed = dict(re.findall(r"^make (\S+)\s+(.+)$", shown, flags=re.MULTILINE))
    assert set(listed) == targets()
    assert all(len(description) > 10 for description in listed.values())
