"""The policy test file format: what loads, and a precise error for everything that does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolwall import Action, Caller
from toolwall.testing.cases import (
    PolicyTestError,
    discover,
    load_test_file,
    parse_test_file,
)

FILE = Path("tests/policy/example.yaml")


def parse(text: str) -> object:
    return parse_test_file(text, FILE)


def test_a_full_case_loads_with_every_field() -> None:
    loaded = parse_test_file(
        """
config: ../../toolwall.toml
key: ../../keys/dev.key
cases:
  - name: capped
    caller: {sub: alice, groups: [eng], tools: ["db.*"], claims: {tenant: t1}}
    history:
      - {tool: web.fetch, args: {url: "https://x.test"}, result: page text}
      - {tool: email.send, args: '{"to": ["a@b.test"]}', repeat: 3, expect: [allow, escalate]}
    call: {tool: db.query, args: {sql: select 1, limit: 500}, id: call-1}
    expect:
      action: rewrite
      args: {sql: select 1, limit: 100}
      rules: [cap_query_rows]
      reason: capped
""",
        FILE,
    )
    assert loaded.config == FILE.parent / "../../toolwall.toml"
    assert loaded.key == FILE.parent / "../../keys/dev.key"
    (case,) = loaded.cases
    assert case.name == "capped"
    assert case.line == 5
    assert case.caller == Caller(
        sub="alice", groups=("eng",), tools=("db.*",), claims={"tenant": "t1"}, authenticated=True
    )
    first, second = case.history
    assert first.has_result and first.result == "page text" and first.repeat == 1
    assert first.expect == (Action.ALLOW, Action.REWRITE)
    assert second.call.args == '{"to": ["a@b.test"]}'
    assert second.repeat == 3 and not second.has_result
    assert second.expect == (Action.ALLOW, Action.ESCALATE)
    assert case.call.tool == "db.query" and case.call.id == "call-1"
    assert case.expect.actions == (Action.REWRITE,)
    assert case.expect.args == {"sql": "select 1", "limit": 100}
    assert type(case.expect.args) is dict, "located mappings are turned back into plain dicts"
    assert case.expect.rules == ("cap_query_rows",)
    assert case.expect.reason == "capped"


def test_a_bare_list_and_shorthand_expectations() -> None:
    loaded = parse_test_file(
        """
- name: one
  call: {tool: fs.read}
  expect: block
- name: two
  caller: anonymous
  call: {tool: fs.read, args: {path: /x}}
  expect: [escalate, block]
""",
        FILE,
    )
    one, two = loaded.cases
    assert one.caller is None and one.call.args == {}
    assert one.expect.actions == (Action.BLOCK,) and one.expect.args is None
    assert two.caller == Caller.anonymous()
    assert two.expect.actions == (Action.ESCALATE, Action.BLOCK)


def test_token_callers_resolve_their_key_next_to_the_file() -> None:
    (case,) = parse_test_file(
        """
- name: t
  token: {sub: alice, tools: ["fs.*"], groups: [eng], ttl_s: 60, key: keys/k.pem, claims: {x: 1}}
  call: {tool: fs.read, args: {path: /x}}
  expect: allow
""",
        FILE,
    ).cases
    assert case.token is not None
    assert case.token.key == FILE.parent / "keys/k.pem"
    assert case.token.tools == ("fs.*",) and case.token.ttl_s == 60
    assert case.token.claims == {"x": 1}


BROKEN = [
    ("", "example.yaml: the file is empty"),
    ("cases: nope", "`cases` must be a list"),
    ("just text", "expected a list of test cases"),
    ("{cases: [], extra: 1}", "unknown key 'extra' in the file"),
    ("{config: 3, cases: []}", "`config` must be a path"),
    ("- name: a\n  call: {tool: x\n", "invalid YAML"),
    ("- 42", "example.yaml: case #1: a case must be a mapping"),
    ("- {call: {tool: x}, expect: allow}", "case #1: `name` is required"),
    ("- {name: a, expect: allow}", "case 'a': `call` is required"),
    ("- {name: a, call: {tool: x}}", "case 'a': `expect` is required"),
    ("- {name: a, call: {tool: x}, expect: allowed}", "'allowed' is not an action"),
    ("- {name: a, call: {tool: x}, expect: []}", "lists no action"),
    ("- {name: a, call: {tool: x}, expect: {args: {}}}", "`expect.action` is required"),
    ("- {name: a, call: {tool: x}, expect: {action: block, rule: [r]}}", "unknown key 'rule'"),
    ("- {name: a, call: {tool: x}, expect: {action: block, reason: 3}}", "`expect.reason` must"),
    ("- {name: a, call: {tool: 3}, expect: allow}", "`tool` is required and must be a string"),
    ("- {name: a, call: {tool: x, args: [1]}, expect: allow}", "`args` must be a mapping or"),
    ("- {name: a, call: [x], expect: allow}", "`call` must be a mapping"),
    (
        "- {name: a, caller: {sub: s, tool: [x]}, call: {tool: x}, expect: allow}",
        "unknown key 'tool'",
    ),
    ("- {name: a, caller: {tools: 3}, call: {tool: x}, expect: allow}", "list of strings"),
    ("- {name: a, caller: {sub: s}, token: {sub: s}, call: {tool: x}, expect: allow}", "not both"),
    ("- {name: a, token: {tools: [x]}, call: {tool: x}, expect: allow}", "`token.sub` is required"),
    ("- {name: a, history: {tool: x}, call: {tool: x}, expect: allow}", "`history` must be a list"),
    ("- {name: a, history: [{args: {}}], call: {tool: x}, expect: allow}", "history step 1"),
    (
        "- {name: a, history: [{tool: x, repeat: 0}], call: {tool: x}, expect: allow}",
        "history step 1: `repeat` must be an integer from 1",
    ),
    (
        "- {name: a, history: [{tool: x, expect: maybe}], call: {tool: x}, expect: allow}",
        "history step 1: `expect`: 'maybe' is not an action",
    ),
    (
        "- {name: a, history: [{tool: x, expect: block, result: r}], call: {tool: x}, "
        "expect: allow}",
        "history step 1: a call expected not to run has no result to record",
    ),
    (
        "- {name: a, call: {tool: x}, expect: allow}\n- {name: a, call: {tool: x}, expect: allow}",
        "example.yaml:2: case 'a': duplicate name (first used on line 1)",
    ),
    ("- name: a\n  call: {tool: x}\n  expect: allow\n  expect: block\n", "duplicate key 'expect'"),
]


@pytest.mark.parametrize(("text", "message"), BROKEN)
def test_malformed_files_are_errors_naming_file_line_and_case(text: str, message: str) -> None:
    with pytest.raises(PolicyTestError) as info:
        parse(text)
    assert message in str(info.value)
    assert str(info.value).startswith(str(FILE))


def test_errors_point_at_the_line_of_the_case() -> None:
    text = (
        "cases:\n"
        "  - {name: fine, call: {tool: x}, expect: allow}\n"
        "  - name: other\n    call: {tool: x}\n    expect: allow\n"
        "  - name: bad\n    call: {tool: x}\n    expect: nope\n"
    )
    with pytest.raises(PolicyTestError, match=r"example\.yaml:6: case 'bad': "):
        parse(text)


def test_discover_walks_folders_and_refuses_missing_paths(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.yaml").write_text("[]")
    (tmp_path / "a" / "two.yml").write_text("[]")
    (tmp_path / "a" / "notes.txt").write_text("")
    single = tmp_path / "single.yaml"
    single.write_text("[]")
    assert discover([tmp_path / "a", single, single]) == [
        tmp_path / "a" / "one.yaml",
        tmp_path / "a" / "two.yml",
        single,
    ]
    with pytest.raises(PolicyTestError, match="no such test file or folder"):
        discover([tmp_path / "missing"])


def test_unreadable_files_are_errors(tmp_path: Path) -> None:
    binary = tmp_path / "b.yaml"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(PolicyTestError, match="not UTF-8"):
        load_test_file(binary)
    with pytest.raises(PolicyTestError, match="cannot read"):
        load_test_file(tmp_path / "absent.yaml")
