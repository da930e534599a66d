"""`toolwall eval --explain` shows every rule considered, its location, values and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.policy.conftest import ROOT
from toolwall import cli

RULES = """
rule mail: on email.*
    when any r in args.to: r endswith ".evil"
    escalate because "to {args.to}"
rule other: on email.read when args.folder == "sent" block
"""


@pytest.fixture
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli.console, "width", 400)  # one tree node per line


def test_explain_shows_rules_values_and_errors(
    tmp_path: Path, wide_console: None, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "r.tw").write_text(RULES, encoding="utf-8")
    config = tmp_path / "toolwall.toml"
    config.write_text(
        f'[policy]\nschemas = "{(ROOT / "schemas").as_posix()}"\nrules = "r.tw"\n', "utf-8"
    )
    call = tmp_path / "call.json"
    call.write_text(json.dumps({"tool": "email.read", "args": {"folder": "inbox"}}), "utf-8")
    caller = tmp_path / "caller.json"
    caller.write_text(json.dumps({"sub": "alice", "tools": ["*"]}), "utf-8")
    argv = ["eval", "--config", str(config), "--call", str(call), "--caller", str(caller)]
    assert cli.main([*argv, "--explain"]) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert "ESCALATE email.read" in out
    assert "mail r.tw:2:1 failed closed -> escalate error: missing field args.to" in (out)
    assert "other r.tw:5:1 not fired when=false" in out
    assert "[rule_error] rule mail: could not evaluate the rule (missing field args.to)" in out
