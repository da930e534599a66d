"""The strategies example of docs/testing.md, run as written (from the project root)."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT


def test_the_strategies_example_in_the_docs_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    text = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
    match = re.search(r"```python\n(from hypothesis import given.*?)```", text, re.S)
    assert match is not None, "the example is in the docs"
    monkeypatch.chdir(ROOT)
    namespace: dict[str, object] = {}
    exec(compile(match.group(1), "docs/testing.md", "exec"), namespace)
    test = namespace["test_fs_read_runs_only_granted_valid_calls_inside_the_workspace"]
    assert callable(test)
    test()
