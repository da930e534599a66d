"""The framework examples run offline against the demo policy and show all four actions."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.integrations.adapters.agents_support import REPO


@pytest.mark.parametrize(
    ("script", "framework"),
    [("openai_agents_example.py", "agents"), ("pydantic_ai_example.py", "pydantic_ai")],
)
def test_example_runs_and_enforces_every_action(script: str, framework: str) -> None:
    pytest.importorskip(framework)
    done = subprocess.run(
        [sys.executable, str(REPO / "examples" / script)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO), "PATH": ""},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "email_send ran: to=['bob@acme.test']" in out  # allow
    assert "shell_run ran" not in out and "destructive shell command" in out  # block
    assert "limit=100 debug=False" in out  # rewrite
    assert "email_send ran: to=['eve@elsewhere.test']" in out  # escalate, approved
    assert "email_send ran: to=['mallory@evil.test']" not in out  # escalate, rejected
    assert "do not send this" in out
    assert "final output: All done." in out
