"""`[audit]` and `[approvals]` in toolwall.toml become the firewall's audit log and approver."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from toolwall import ConfigError, DenyAll, SQLiteQueue
from toolwall.audit import AuditLog
from toolwall.config import Config
from toolwall.loader import build_enforcement

ROOT = Path(__file__).resolve().parents[2]


def load(tmp_path: Path, text: str) -> Config:
    file = tmp_path / "toolwall.toml"
    file.write_text(text)
    return Config.load(file)


def test_the_sections_build_the_audit_log_and_the_queue(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
[audit]
path = "audit/toolwall.jsonl"
redact_keys = ["password", "iban"]
redact_paths = ["$.card.number"]
on_failure = "allow"
fsync = true

[approvals]
approver = "queue"
queue = "state/approvals.db"
timeout_s = 30
ttl_s = 120
""",
    )
    parts = build_enforcement(config)
    audit, queue = parts["audit"], parts["approver"]
    assert isinstance(audit, AuditLog) and isinstance(queue, SQLiteQueue)
    assert audit.path == tmp_path / "audit" / "toolwall.jsonl" and audit.path.is_file()
    assert audit.on_failure == "allow" and audit.fsync
    assert audit.redact({"IBAN": "DE1", "card": {"number": "4111"}}) == {
        "IBAN": "[redacted]",
        "card": {"number": "[redacted]"},
    }
    assert queue.path == tmp_path / "state" / "approvals.db"
    assert queue.timeout_s == 30 and queue.ttl_s == 120
    # The queue stores arguments redacted like the audit.
    assert queue.redact is audit.redact


def test_defaults_are_the_logger_and_deny_all(tmp_path: Path) -> None:
    parts = build_enforcement(load(tmp_path, ""))
    assert isinstance(parts["audit"], AuditLog) and parts["audit"].path is None
    assert isinstance(parts["approver"], DenyAll)


def test_a_queue_that_cannot_be_opened_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "db").mkdir()
    config = load(tmp_path, '[approvals]\napprover = "queue"\nqueue = "db"\n')
    with pytest.raises(ConfigError, match=r"\[approvals\] queue .*db: cannot open"):
        build_enforcement(config)


def test_unknown_audit_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"audit\.fsynk: unknown key"):
        load(tmp_path, "[audit]\nfsynk = true\n")


def test_from_config_wires_both_into_the_firewall(tmp_path: Path) -> None:
    from toolwall import Firewall

    data = tomllib.loads((ROOT / "toolwall.toml").read_text())
    data["audit"] = {"path": "a.jsonl"}
    for folder in ("schemas", "rules"):
        (tmp_path / folder).symlink_to(ROOT / folder)
    config = Config.from_dict(data, base_dir=tmp_path)
    firewall = Firewall.from_config(config)
    assert isinstance(firewall.audit, AuditLog) and firewall.audit.path == tmp_path / "a.jsonl"
