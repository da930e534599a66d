"""`toolwall audit show|tail|stats|verify` on a real audit file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.audit.helpers import (
    BOB,
    ROOT,
    escalate_rules,
    lines_of,
    open_firewall,
    rewrite_rules,
    toolwall_cli,
    write_lines,
)
from toolwall import Callback, Caller, cli
from toolwall.audit import AuditLog
from toolwall.cli import main


@pytest.fixture(autouse=True)
def wide_consoles() -> Iterator[None]:
    """Tables as a wide terminal shows them (captured output is 80 columns otherwise)."""
    saved = cli.console.width, cli.err_console.width
    cli.console.width = cli.err_console.width = 200
    yield
    cli.console.width, cli.err_console.width = saved


@pytest.fixture
def audit_file(tmp_path: Path) -> Path:
    """Five decisions (allow, rewrite, block, escalate), one approval and two results (the
    approved call's, recorded by `run`, and one recorded by hand)."""
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    eve = Caller(sub="eve", tools=("fs.read",))
    plain = open_firewall(log)
    plain.decide({"tool": "fs.read", "args": {"path": "/a"}}, caller=BOB, session="s1")
    plain.decide({"tool": "fs.read", "args": {"path": "/b"}}, caller=eve, session="s2")
    capped = open_firewall(log, rewrite_rules("db.query", {"sql": "x", "limit": 100}))
    capped.decide({"tool": "db.query", "args": {"sql": "x", "limit": 9}}, caller=BOB)
    plain.decide({"tool": "shell.run", "args": {}}, caller=eve)  # not granted: block
    asking = open_firewall(log, escalate_rules("email.send"), approver=Callback(lambda r: True))
    asking.run({"tool": "email.send", "args": {"to": ["x@y.test"]}}, lambda to: None, BOB)
    plain.record_result({"tool": "fs.read"}, "contents", caller=BOB, session="s1")
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_show_lists_records_and_filters(
    audit_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "audit", "show", "--file", str(audit_file))
    assert code == 0
    assert "(8 records)" in out
    for text in ("allow", "rewrite", "block", "escalate", "approved", "result", "cap_rows"):
        assert text in out, text

    _, out, _ = run(capsys, "audit", "show", "--file", str(audit_file), "--action", "block")
    assert "(1 records)" in out and "shell.run" in out and "not granted" in out
    _, out, _ = run(capsys, "audit", "show", "--file", str(audit_file), "--caller", "eve")
    assert "(2 records)" in out
    _, out, _ = run(capsys, "audit", "show", "--file", str(audit_file), "--tool", "fs.*")
    assert "(3 records)" in out  # two decisions and the result
    _, out, _ = run(capsys, "audit", "show", "--file", str(audit_file), "--since", "1h")
    assert "(8 records)" in out
    _, out, _ = run(
        capsys, "audit", "show", "--file", str(audit_file), "--since", "2000-01-01T00:00:00Z"
    )
    assert "(8 records)" in out
    _, out, _ = run(capsys, "audit", "show", "--file", str(audit_file), "--since", "2999-01-01")
    assert "(0 records)" in out
    code, _, err = run(capsys, "audit", "show", "--file", str(audit_file), "--since", "soon")
    assert code == 2 and "--since 'soon'" in err


def test_show_reads_the_file_named_by_the_config(
    tmp_path: Path, audit_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "toolwall.toml"
    config.write_text(f'[audit]\npath = "{audit_file.name}"\n')
    code, out, _ = run(capsys, "audit", "show", "--config", str(config))
    assert code == 0 and "(8 records)" in out
    config.write_text("[policy]\n")
    code, _, err = run(capsys, "audit", "show", "--config", str(config))
    assert code == 2 and "no [audit] path" in err


def test_stats_counts_by_action_tool_rule_and_caller(
    audit_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "audit", "stats", "--file", str(audit_file))
    assert code == 0
    assert "5 decisions" in out
    assert "cap_rows" in out and "ask" in out
    assert "eve" in out and "bob" in out
    assert "approved" in out and "clean" in out
    lines = {line.strip() for line in out.splitlines()}
    assert any(line.startswith("│ fs.read") and line.endswith("2 │") for line in lines)


def test_verify_passes_then_names_the_first_broken_line(
    audit_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "audit", "verify", "--file", str(audit_file))
    assert code == 0 and "chain intact: 8 records" in out
    lines = lines_of(audit_file)
    lines[3] = lines[3].replace(b'"sub":"eve"', b'"sub":"bob"')
    write_lines(audit_file, lines)
    code, out, _ = run(capsys, "audit", "verify", "--file", str(audit_file))
    assert code == 1
    assert f"{audit_file}:4: the record was edited" in out.replace("\n", "")
    assert "3 records verified before it" in out


def test_verify_with_an_anchor(audit_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    head = json.loads(lines_of(audit_file)[-1])["hash"]
    code, _, _ = run(capsys, "audit", "verify", "--file", str(audit_file), "--anchor", head)
    assert code == 0
    write_lines(audit_file, lines_of(audit_file)[:-1])
    code, out, _ = run(capsys, "audit", "verify", "--file", str(audit_file), "--anchor", head)
    assert code == 1 and "records were cut from the end" in out


def test_verify_warns_about_a_torn_tail_but_passes(
    audit_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with open(audit_file, "ab") as file:
        file.write(b'{"action":"all')
    code, out, err = run(capsys, "audit", "verify", "--file", str(audit_file))
    assert code == 0 and "chain intact: 8 records" in out
    assert ":9: a torn record" in err.replace("\n", "")


def test_tail_prints_the_last_records(audit_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "audit", "tail", "-n", "3", "--file", str(audit_file))
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) == 3
    assert "approved" in lines[0] and "email.send" in lines[0]
    assert "result" in lines[1] and "email.send" in lines[1] and "4 bytes" in lines[1]
    assert "result" in lines[2] and "8 bytes" in lines[2]


def test_tail_follow_prints_records_as_they_are_written(audit_file: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    follower = subprocess.Popen(
        [sys.executable, "-m", "toolwall", "audit", "tail", "-f", "-n", "1", "--interval",
         "0.05", "--file", str(audit_file)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )  # fmt: skip
    try:
        assert follower.stdout is not None
        first = follower.stdout.readline()
        assert "result" in first
        log = AuditLog(audit_file)
        open_firewall(log).decide({"tool": "late.tool", "args": {}}, caller=BOB, session="s7")
        second = follower.stdout.readline()
        assert "late.tool" in second and "allow" in second and "s7" in second
    finally:
        follower.terminate()
        follower.wait(timeout=30)


def test_the_cli_runs_as_a_separate_process(audit_file: Path) -> None:
    done = toolwall_cli("audit", "verify", "--file", str(audit_file))
    assert done.returncode == 0 and "chain intact" in done.stdout
    record = json.loads(lines_of(audit_file)[0])
    assert record["type"] == "decision"
