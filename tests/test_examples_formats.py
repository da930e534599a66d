"""The provider-format and LangChain examples run offline and check what they show."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

EXAMPLES = [
    "formats_openai_chat.py",
    "formats_openai_responses.py",
    "formats_anthropic.py",
    "formats_gemini.py",
    "langchain_agent.py",
]


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_runs(name: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / name)],
        cwd=ROOT / "examples",  # the examples find the policy relative to their own file
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "toolwall blocked the call" in done.stdout
