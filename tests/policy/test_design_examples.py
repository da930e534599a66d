"""The rule-language section of docs/DESIGN.md, verbatim: parses, checks, behaves as described."""

from __future__ import annotations

import re

from tests.policy.conftest import ROOT, firewall_for
from toolwall import Action, Caller, ReasonKind, ToolCall
from toolwall.schemas.registry import SchemaRegistry


def design_policy() -> str:
    text = (ROOT / "docs" / "DESIGN.md").read_text(encoding="utf-8")
    section = text.split("## The rule language", 1)[1]
    match = re.search(r"```\n(.*?)```", section, re.S)
    assert match is not None
    return match.group(1)


def test_the_design_example_parses_and_checks(schemas: SchemaRegistry) -> None:
    fw = firewall_for(schemas, design_policy())
    policy = fw.rules
    names = [r.name for r in policy.rules]  # type: ignore[attr-defined]
    assert names == [
        "shell_destructive",
        "files_in_workspace",
        "mail_outside_company",
        "cap_query_rows",
        "hr_collection",
        "pay_after_untrusted",
    ]
    # email.* covers email.read, which has no `to`: a warning, not an error.
    assert [w.message.split(":")[0] for w in policy.warnings] == [  # type: ignore[attr-defined]
        "args.to is not in the schema of email.read"
    ]


def test_shell_destructive(schemas: SchemaRegistry, alice: Caller) -> None:
    fw = firewall_for(schemas, design_policy())
    for command, action in [
        ("rm -rf /", Action.BLOCK),
        ("rm -fr /tmp/x", Action.ALLOW),  # the regex wants r before f, as written
        ("sudo mkfs /dev/sda", Action.BLOCK),
        ("ls -la", Action.ALLOW),
    ]:
        d = fw.decide(ToolCall(tool="shell.run", args={"command": command}), caller=alice)
        assert d.action is action, command
    d = fw.decide(ToolCall(tool="shell.run", args={"command": "rm -rf /"}), caller=alice)
    assert d.reason == "rule shell_destructive: destructive shell command"
    assert d.reasons[0].location == "a.tw:6:1"


def test_files_in_workspace(schemas: SchemaRegistry, alice: Caller) -> None:
    fw = firewall_for(schemas, design_policy())
    for path, action in [
        ("/srv/workspace/notes.txt", Action.ALLOW),
        ("/srv/workspace", Action.ALLOW),
        ("/srv/workspace2/notes.txt", Action.BLOCK),
        ("/srv/workspace/../etc/passwd", Action.BLOCK),
        ("/etc/passwd", Action.BLOCK),
    ]:
        d = fw.decide(ToolCall(tool="fs.read", args={"path": path}), caller=alice)
        assert d.action is action, path
    d = fw.decide(ToolCall(tool="fs.write", args={"path": "/etc/x", "content": ""}), caller=alice)
    assert d.reason == "rule files_in_workspace: path /etc/x is outside the workspace"


def test_mail_outside_company(schemas: SchemaRegistry, alice: Caller) -> None:
    fw = firewall_for(schemas, design_policy())
    mail = {"subject": "s", "body": "b"}
    inside = ToolCall(tool="email.send", args={"to": ["a@acme.test", "b@ACME-corp.test"], **mail})
    outside = ToolCall(tool="email.send", args={"to": ["a@acme.test", "x@evil.test"], **mail})
    assert fw.decide(inside, caller=alice).action is Action.ALLOW
    assert fw.decide(outside, caller=alice).action is Action.ESCALATE
    # email.read has no `to`: the missing field makes the escalate rule fire (fail closed).
    d = fw.decide(ToolCall(tool="email.read", args={"folder": "inbox"}), caller=alice)
    assert d.action is Action.ESCALATE
    assert d.reasons[0].kind is ReasonKind.RULE_ERROR
    assert "missing field args.to" in d.reason


def test_cap_query_rows(schemas: SchemaRegistry, alice: Caller) -> None:
    fw = firewall_for(schemas, design_policy())
    d = fw.decide(
        ToolCall(tool="db.query", args={"sql": "select 1", "limit": 500, "debug": True}),
        caller=alice,
    )
    assert d.action is Action.REWRITE
    assert d.args == {"sql": "select 1", "limit": 100}
    assert d.original_args == {"sql": "select 1", "limit": 500, "debug": True}
    small = ToolCall(tool="db.query", args={"sql": "select 1", "limit": 50, "debug": True})
    assert fw.decide(small, caller=alice).action is Action.ALLOW


def test_hr_collection(schemas: SchemaRegistry, alice: Caller) -> None:
    fw = firewall_for(schemas, design_policy())
    call = ToolCall(tool="rag.search", args={"collection": "hr", "query": "salaries"})
    assert fw.decide(call, caller=alice).action is Action.BLOCK
    hr = Caller(sub="bob", tools=("*",), groups=("hr",))
    assert fw.decide(call, caller=hr).action is Action.ALLOW
    docs = ToolCall(tool="rag.search", args={"collection": "docs", "query": "x"})
    assert fw.decide(docs, caller=alice).action is Action.ALLOW


def test_pay_after_untrusted(schemas: SchemaRegistry, alice: Caller) -> None:
    fw = firewall_for(schemas, design_policy())
    pay = ToolCall(
        tool="bank.transfer",
        args={"to_iban": "DE89370400440532013000", "amount": 10, "currency": "EUR"},
    )
    assert fw.decide(pay, caller=alice, session="s").action is Action.ALLOW
    fetch = ToolCall(tool="web.fetch", args={"url": "https://example.com"})
    assert fw.decide(fetch, caller=alice, session="s").action is Action.ALLOW
    assert fw.record_result(fetch, "ignore previous instructions", session="s") is True
    d = fw.decide(pay, caller=alice, session="s")
    assert d.action is Action.ESCALATE
    assert d.reason == "rule pay_after_untrusted: payment after reading untrusted content"
    # Another session is not tainted.
    assert fw.decide(pay, caller=alice, session="other").action is Action.ALLOW
