"""`toolwall.audit.log`: the writer. The logger, crashes (torn lines), processes, threads and
forks sharing one file, moved files, and failing closed."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.audit.helpers import (
    BOB,
    ROOT,
    decision_for,
    escalate_rules,
    fill,
    lines_of,
    open_firewall,
)
from toolwall import Action, Callback, Caller, ConfigError, ReasonKind
from toolwall.audit import GENESIS, REDACTED, AuditLog, AuditSettingError, read_records, verify
from toolwall.config import AuditConfig


def test_records_also_go_to_the_logger(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="toolwall.audit"):
        fill(path, 2)
        logged = [r.getMessage() for r in caplog.records if r.name == "toolwall.audit"]
    assert [line + "\n" for line in logged] == [raw.decode() for raw in lines_of(path)]


def test_without_a_path_records_are_chained_on_the_logger(caplog: pytest.LogCaptureFixture) -> None:
    log = AuditLog()
    firewall = open_firewall(log)
    with caplog.at_level(logging.INFO, logger="toolwall.audit"):
        decision_for(firewall, "a", {})
        decision_for(firewall, "b", {})
    first, second = (json.loads(r.getMessage()) for r in caplog.records)
    assert first["prev"] == GENESIS and second["prev"] == first["hash"]


def test_an_approval_that_cannot_be_audited_is_a_denial(path: Path) -> None:
    class NoApprovals(AuditLog):
        def record_approval(self, *args: Any) -> None:
            raise OSError("disk full")

    approver = Callback(lambda request: True)
    for on_failure, runs in (("block", False), ("allow", True)):
        log = NoApprovals(path, on_failure=on_failure)  # type: ignore[arg-type]
        firewall = open_firewall(log, escalate_rules("x"), approver=approver)
        out = firewall.run({"tool": "x", "args": {}}, lambda: "ran", caller=BOB, on_block="message")
        assert (out == "ran") is runs
        if not runs:
            assert "the approval could not be audited: disk full" in out


def test_a_sink_that_records_decisions_only_still_works() -> None:
    """Sinks written against the decision-only protocol: approvals and results are skipped."""

    class DecisionsOnly:
        on_failure = "block"

        def __init__(self) -> None:
            self.actions: list[Action] = []

        def record_decision(self, decision: Any, caller: Caller) -> None:
            self.actions.append(decision.action)

    sink = DecisionsOnly()
    firewall = open_firewall(sink, escalate_rules("x"), approver=Callback(lambda r: True))  # type: ignore[arg-type]
    assert firewall.run({"tool": "x", "args": {}}, lambda: "ran", caller=BOB) == "ran"
    firewall.record_result({"tool": "x"}, "out", caller=BOB)
    assert sink.actions == [Action.ESCALATE]


def test_a_torn_last_line_is_reported_and_the_chain_resumes_after_it(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fill(path, 3).close()
    whole = lines_of(path)
    with open(path, "ab") as file:  # a crash in the middle of a write
        file.write(whole[0][: len(whole[0]) // 2])
    report = verify(path)
    assert report.ok and report.records == 3 and report.torn == [4]

    with caplog.at_level(logging.WARNING, logger="toolwall.audit"):
        log = AuditLog(path)
    assert "torn record" in caplog.text
    decision_for(open_firewall(log), "fs.read", {"path": "/after/crash"})
    lines = lines_of(path)
    assert len(lines) == 5 and lines[3].endswith(b"\n")  # the new record has its own line
    assert json.loads(lines[4])["prev"] == json.loads(lines[2])["hash"]
    report = verify(path)
    assert report.ok and report.records == 4 and report.torn == [4]


def test_a_last_record_missing_only_its_newline_stays_in_the_chain(path: Path) -> None:
    fill(path, 3).close()
    path.write_bytes(path.read_bytes().rstrip(b"\n"))  # a write cut just before the newline
    decision_for(open_firewall(AuditLog(path)), "fs.read", {})
    report = verify(path)
    assert report.ok and report.records == 4 and report.torn == []


def test_the_chain_head_is_found_behind_a_record_larger_than_a_read_block(path: Path) -> None:
    from toolwall.config import Limits

    big = Limits(max_arg_bytes=1_000_000, max_string_length=1_000_000)
    firewall = open_firewall(AuditLog(path), limits=big)
    decision_for(firewall, "fs.write", {"content": "x" * 200_000})
    decision_for(firewall, "fs.write", {"content": "y" * 150_000})
    decision_for(open_firewall(AuditLog(path)), "fs.read", {})  # a new writer reads the head
    report = verify(path)
    assert report.ok and report.records == 3


WRITER = """
import sys
from toolwall.audit.log import AuditLog
from toolwall.model import Caller
log = AuditLog(sys.argv[1])
who = Caller(sub=sys.argv[2])
for i in range(int(sys.argv[3])):
    log.record_result("t", "x" * (i % 300), caller=who, session=sys.argv[2], call_id=str(i),
                      tainted=False)
"""


def test_two_processes_appending_keep_whole_records_and_one_chain(path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), name, "1000"], env=env)
        for name in ("p1", "p2")
    ]
    assert [w.wait(timeout=300) for w in writers] == [0, 0]
    lines = lines_of(path)
    assert len(lines) == 2000
    records = [json.loads(line) for line in lines]
    for name in ("p1", "p2"):
        assert [r["call_id"] for r in records if r["session"] == name] == [
            str(i) for i in range(1000)
        ]
    report = verify(path)
    assert report.ok and report.records == 2000 and report.torn == []


def test_threads_sharing_a_log_keep_one_chain(path: Path) -> None:
    log = AuditLog(path)

    def write(name: str) -> None:
        for i in range(250):
            log.record_result("t", i, caller=BOB, session=name, call_id=None, tainted=False)

    threads = [threading.Thread(target=write, args=(f"t{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report = verify(path)
    assert report.ok and report.records == 1000


def test_a_log_shared_across_fork_keeps_one_chain(path: Path) -> None:
    log = fill(path, 1)
    children = []
    for _ in range(2):
        pid = os.fork()
        if pid == 0:  # the child writes through the log it inherited
            try:
                for i in range(200):
                    log.record_result(
                        "t", i, caller=BOB, session="child", call_id=None, tainted=False
                    )
            finally:
                os._exit(0)
        children.append(pid)
    for i in range(200):
        log.record_result("t", i, caller=BOB, session="parent", call_id=None, tainted=False)
    for pid in children:
        assert os.waitpid(pid, 0)[1] == 0
    report = verify(path)
    assert report.ok and report.records == 601


def test_a_moved_file_is_not_written_into_the_void(path: Path) -> None:
    log = fill(path, 2)
    moved = path.with_name("old.jsonl")
    path.rename(moved)
    decision_for(open_firewall(log), "fs.read", {})
    assert verify(moved).ok and verify(moved).records == 2
    report = verify(path)
    assert report.ok and report.records == 1


def test_an_unwritable_audit_blocks_unless_configured_to_allow() -> None:
    for on_failure, expected in (("block", Action.BLOCK), ("allow", Action.ALLOW)):
        log = AuditLog("/dev/full", on_failure=on_failure)  # type: ignore[arg-type]
        decision = decision_for(open_firewall(log), "fs.read", {"path": "/x"})
        assert decision.action is expected
        if expected is Action.BLOCK:
            assert decision.reasons[-1].kind is ReasonKind.AUDIT
            assert "No space left on device" in decision.reason


def test_a_closed_audit_file_blocks(path: Path) -> None:
    log = fill(path, 1)
    os.close(log._fd)  # the descriptor is gone under the log (as after a broken mount)
    firewall = open_firewall(log)
    decision = decision_for(firewall, "fs.read", {"path": "/x"})
    assert decision.action is Action.BLOCK
    assert "audit record could not be written" in decision.reason
    # The next record reopens the file and continues the chain.
    assert decision_for(firewall, "fs.read", {"path": "/y"}).action is Action.ALLOW
    report = verify(path)
    assert report.ok and report.records == 2


def test_an_audit_path_that_cannot_be_opened_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[audit\] path .*cannot open"):
        AuditLog(tmp_path)  # a directory
    with pytest.raises(ConfigError, match=r"redact path '\$\.a\[x\]'"):
        AuditLog.from_config(AuditConfig(redact_paths=["$.a[x]"]), tmp_path)


def test_an_on_failure_other_than_block_or_allow_is_refused() -> None:
    with pytest.raises(AuditSettingError, match=r'on_failure must be "block" or "allow", not '):
        AuditLog(on_failure="ignore")  # type: ignore[arg-type]


def test_from_config_resolves_the_path_and_settings(tmp_path: Path) -> None:
    config = AuditConfig(
        path=Path("logs/a.jsonl"), redact_keys=["pin"], on_failure="allow", fsync=True
    )
    log = AuditLog.from_config(config, tmp_path)
    assert log.path == tmp_path / "logs" / "a.jsonl" and log.path.is_file()
    assert log.on_failure == "allow" and log.fsync
    assert (log.path.stat().st_mode & 0o777) == 0o600
    decision_for(open_firewall(log), "x", {"PIN": "1234"})
    assert next(read_records(log.path))["args"] == {"PIN": REDACTED}
    assert AuditLog.from_config(None, tmp_path).path is None
