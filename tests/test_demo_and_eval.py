"""The demo and `toolwall eval` on the demo policy, through the real command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ROOT
from toolwall.cli import main

CONFIG = str(ROOT / "toolwall.toml")

EXPECTED = [
    ("alice", "email.read", "allow", None, True),
    ("alice", "fs.read", "allow", None, True),
    ("alice", "fs.read", "block", None, False),
    ("alice", "email.send", "escalate", False, False),
    ("alice", "web.fetch", "block", None, False),
    ("alice", "shell.run", "block", None, False),
    ("alice", "bank.transfer", "escalate", False, False),
    ("alice", "email.send", "block", None, False),
    ("alice", "db.query", "rewrite", None, True),
    ("alice", "email.send", "allow", None, True),
    ("alice", "email.send", "escalate", True, True),
    ("alice", "fs.write", "allow", None, True),
    ("sam", "fs.write", "block", None, False),
    ("sam", "rag.search", "block", None, False),
    ("sam", "rag.search", "allow", None, True),
    ("mallory", "bank.transfer", "block", None, False),
]


def test_the_demo_stops_every_injected_call(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--config", CONFIG, "--json"]) == 0
    outcomes = json.loads(capsys.readouterr().out)
    got = [(o["caller"], o["tool"], o["action"], o["approved"], o["executed"]) for o in outcomes]
    assert got == EXPECTED
    assert all(not o["executed"] for o in outcomes if o["injected"])
    reasons = {o["tool"] + ":" + o["action"]: o["reasons"] for o in outcomes}
    assert any("outside the workspace" in r for r in reasons["fs.read:block"])
    assert any("duplicate key" in r for r in reasons["email.send:block"])
    assert any("token refused (bad_signature)" in r for r in reasons["bank.transfer:block"])
    rewritten = next(o for o in outcomes if o["action"] == "rewrite")
    assert rewritten["args"]["limit"] == 100 and "debug" not in rewritten["args"]


def test_the_demo_table_renders(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--config", CONFIG]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "6 of 6 injected calls were stopped" in out
    assert "security-on-call" in out
    assert "audit trail: 26 records, hash chain intact" in out


def test_the_demo_audit_trail_verifies(tmp_path: Path) -> None:
    from toolwall.audit import read_records, verify

    trail = tmp_path / "audit.jsonl"
    assert main(["demo", "--config", CONFIG, "--audit", str(trail), "--json"]) == 0
    assert verify(trail).ok
    records = list(read_records(trail))
    decisions = [r for r in records if r["type"] == "decision"]
    assert len(decisions) == len(EXPECTED)
    assert [r["action"] for r in decisions] == [e[2] for e in EXPECTED]
    assert {r["type"] for r in records} == {"decision", "approval", "result"}


def test_the_demo_without_its_policy_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--config", str(tmp_path / "toolwall.toml")]) == 2
    assert "the demo policy was not found" in capsys.readouterr().err


def write(tmp_path: Path, name: str, data: object) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")
    return str(path)


@pytest.fixture
def alice_file(tmp_path: Path) -> str:
    return write(tmp_path, "alice.json", {"sub": "alice", "groups": ["eng"], "tools": ["*"]})


def test_eval_json_for_a_rewrite(
    tmp_path: Path, alice_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    call = write(tmp_path, "call.json", {"tool": "db.query", "args": {"sql": "s", "limit": 500}})
    assert main(["eval", "--config", CONFIG, "--call", call, "--caller", alice_file, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["action"] == "rewrite"
    assert out["args"] == {"sql": "s", "limit": 100}
    assert out["rules"] == ["cap_query_rows"]
    assert out["reasons"][0]["message"] == "row limit capped at 100"
    assert out["reasons"][0]["location"] == "rules/assistant.tw:28:1"


def test_eval_explain_for_a_block(
    tmp_path: Path, alice_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    call = write(
        tmp_path, "call.json", {"tool": "fs.read", "args": '{"path": "/srv/workspace2/x"}'}
    )
    code = main(["eval", "--config", CONFIG, "--call", call, "--caller", alice_file, "--explain"])
    assert code == 1
    out = " ".join(capsys.readouterr().out.split())
    assert "BLOCK fs.read" in out
    assert "files_in_workspace" in out
    assert "path /srv/workspace2/x is outside the workspace" in out


def test_eval_plain_output_and_anonymous_caller(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    call = write(tmp_path, "call.json", {"tool": "fs.read", "args": {"path": "/srv/workspace/a"}})
    assert main(["eval", "--config", CONFIG, "--call", call]) == 1
    assert "the anonymous caller is not granted fs.read" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "invalid JSON"),
        ("[1]", "the call must be a JSON object"),
    ],
)
def test_eval_usage_errors_exit_2(
    tmp_path: Path, content: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    call = write(tmp_path, "call.json", content)
    assert main(["eval", "--config", CONFIG, "--call", call]) == 2
    assert message in capsys.readouterr().err


def test_eval_with_a_broken_config_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path, "toolwall.toml", "[policy]\nunknown = 1\n")
    call = write(tmp_path, "call.json", {"tool": "x", "args": {}})
    assert main(["eval", "--config", config, "--call", call]) == 2
    assert "policy.unknown: unknown key" in capsys.readouterr().err
