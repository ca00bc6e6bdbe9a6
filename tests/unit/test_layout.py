"""The layout the README shows is the tree: every path it names exists, and every package of
functions/ and shared/ is named (a new context or function gets its line)."""

from __future__ import annotations

import re

from infra.paths import ROOT


def named_paths() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("<!-- layout:begin -->", 1)[1].split("<!-- layout:end -->", 1)[0]
    return re.findall(r"^(\S+)\s", block.strip().strip("`").strip(), flags=re.MULTILINE)


def test_every_path_the_readme_names_exists() -> None:
    for path in named_paths():
        assert (ROOT / path).exists(), f"README names {path}, which is not in the tree"


def test_every_function_and_context_package_is_named() -> None:
    named = set(named_paths())
    for parent in ("functions", "shared"):
        for package in sorted((ROOT / parent).iterdir()):
            if package.is_dir() and (package / "__init__.py").exists():
                assert f"{parent}/{package.name}/" in named, f"README's layout lacks {package}"
