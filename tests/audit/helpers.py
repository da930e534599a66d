"""Shared pieces of the audit and approval tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from tests.pipeline.test_decide import ScriptedRules
from toolwall import Action, Caller, Decision, Firewall, Reason, ReasonKind
from toolwall.audit.log import AuditLog
from toolwall.model import RuleVerdict, TraceEntry
from toolwall.schemas.registry import SchemaRegistry

ROOT = Path(__file__).resolve().parents[2]

BOB = Caller(sub="bob", iss="https://idp.example", tools=("*",), authenticated=True)


def open_firewall(audit: AuditLog, rules: Any = None, **parts: Any) -> Firewall:
    """A firewall with no schemas that lets any tool through, so tests choose any arguments."""
    return Firewall(
        schemas=SchemaRegistry(), unknown_tool="allow", rules=rules, audit=audit, **parts
    )


def rewrite_rules(tool: str, new_args: dict[str, Any]) -> ScriptedRules:
    reason = Reason(ReasonKind.RULE, "capped", rule="cap_rows", location="rules/db.tw:12:1")
    trace = (TraceEntry("rule", "fired", rule="cap_rows", location="rules/db.tw:12:1", fired=True),)
    return ScriptedRules(
        tool, RuleVerdict(Action.REWRITE, new_args, (reason,), ("cap_rows",), trace)
    )


def escalate_rules(tool: str) -> ScriptedRules:
    reason = Reason(ReasonKind.RULE, "needs a human", rule="ask", location="rules/a.tw:3:1")
    return ScriptedRules(tool, RuleVerdict(Action.ESCALATE, None, (reason,), ("ask",)))


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def write_lines(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(lines))


def toolwall_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `python -m toolwall ARGS` in a separate process, as a second terminal would."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "toolwall", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def decision_for(firewall: Firewall, tool: str, args: dict[str, Any]) -> Decision:
    return firewall.decide({"tool": tool, "args": args}, caller=BOB, session="s1")


def fill(path: Path, n: int = 6) -> AuditLog:
    """An audit file with `n` decisions in it, and the log that wrote them."""
    log = AuditLog(path)
    firewall = open_firewall(log)
    for i in range(n):
        decision_for(firewall, "fs.read", {"path": f"/srv/workspace/{i}"})
    return log


# Any text, lone surrogates included: JSON text can carry them ("\\ud800").
any_text = st.text(st.characters(exclude_categories=()), max_size=12)
any_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=16,
)
