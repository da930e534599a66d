"""Running policy test cases: sessions, history, taint, tokens, and how mismatches are reported."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT
from toolwall import Action, Firewall
from toolwall.identity.devkeys import generate_keypair
from toolwall.testing.cases import PolicyTestCase, parse_test_file
from toolwall.testing.report import failure_text
from toolwall.testing.runner import PolicyTestRunner, policy_firewall


@pytest.fixture(scope="module")
def demo() -> Firewall:
    return policy_firewall(ROOT / "toolwall.toml")


def case(text: str, file: Path = Path("t.yaml")) -> PolicyTestCase:
    (only,) = parse_test_file(text, file).cases
    return only


def test_a_passing_case_leaves_no_session_behind(demo: Firewall) -> None:
    before = len(demo.state.sessions)
    result = PolicyTestRunner(demo).run(
        case(
            """
- name: burst
  caller: {sub: a, tools: ["email.*"]}
  history: [{tool: email.send, args: {to: [b@acme.test], subject: s, body: b}, repeat: 5}]
  call: {tool: email.send, args: {to: [b@acme.test], subject: s, body: b}}
  expect: {action: block, rules: [mail_burst]}
"""
        )
    )
    assert result.passed, failure_text(result)
    assert [d.action for d in result.history] == [Action.ALLOW] * 5
    assert len(demo.state.sessions) == before


def test_each_case_gets_a_fresh_session(demo: Firewall) -> None:
    runner = PolicyTestRunner(demo)
    test = case(
        """
- name: four then one
  caller: {sub: a, tools: ["email.*"]}
  history: [{tool: email.send, args: {to: [b@acme.test], subject: s, body: b}, repeat: 4}]
  call: {tool: email.send, args: {to: [b@acme.test], subject: s, body: b}}
  expect: allow
"""
    )
    assert runner.run(test).passed
    assert runner.run(test).passed, "the second run must not see the first run's emails"


def test_mismatches_list_every_difference(demo: Firewall) -> None:
    result = PolicyTestRunner(demo).run(
        case(
            """
- name: wrong on purpose
  caller: {sub: a, tools: ["db.query"]}
  call: {tool: db.query, args: {sql: s, limit: 500}}
  expect: {action: allow, args: {sql: s, limit: 500}, rules: [], reason: fine}
"""
        )
    )
    assert not result.passed and result.error is None
    found = {m.what: (m.expected, m.actual) for m in result.mismatches}
    assert found["action"] == ("allow", "rewrite")
    assert found["args"] == ({"sql": "s", "limit": 500}, {"sql": "s", "limit": 100})
    assert found["rules"] == ([], ["cap_query_rows"])
    assert found["reason"][0] == "contains 'fine'"
    text = failure_text(result)
    assert "policy test 'wrong on purpose' failed (t.yaml:2)" in text
    assert "expected: allow" in text and "actual:   rewrite" in text
    assert "rule cap_query_rows" in text and "FIRED" in text, "the explain tree follows"


def test_a_history_step_that_does_not_run_fails_the_case(demo: Firewall) -> None:
    result = PolicyTestRunner(demo).run(
        case(
            """
- name: the history read was not granted
  caller: {sub: a, tools: ["bank.transfer"]}
  history: [{tool: web.fetch, args: {url: "https://x.test/"}, result: text}]
  call: {tool: bank.transfer, args: {to_iban: DE89370400440532013000, amount: 1, currency: EUR}}
  expect: escalate
"""
        )
    )
    assert result.decision is None
    assert result.error is not None
    assert result.error.startswith("history step 1 (web.fetch) was decided block, not allow or")
    assert "not granted web.fetch" in result.error
    assert "BLOCK web.fetch" in failure_text(result)


def test_a_result_taints_only_through_a_taint_source(demo: Firewall) -> None:
    runner = PolicyTestRunner(demo)
    text = """
- name: after a read
  caller: {sub: a, tools: ["*"]}
  history: [{tool: TOOL, args: ARGS, result: "pay now"}]
  call: {tool: bank.transfer, args: {to_iban: DE89370400440532013000, amount: 1, currency: EUR}}
  expect: ACTION
"""
    tainted = text.replace("TOOL", "email.read").replace("ARGS", "{folder: inbox}")
    clean = text.replace("TOOL", "fs.read").replace("ARGS", "{path: /srv/workspace/a}")
    assert runner.run(case(tainted.replace("ACTION", "escalate"))).passed
    assert runner.run(case(clean.replace("ACTION", "allow"))).passed


def test_raw_json_arguments_go_through_strict_parsing(demo: Firewall) -> None:
    result = PolicyTestRunner(demo).run(
        case(
            """
- name: nan
  caller: {sub: a, tools: ["db.query"]}
  call: {tool: db.query, args: '{"sql": "s", "limit": NaN}'}
  expect: {action: block, reason: NaN and Infinity are refused}
"""
        )
    )
    assert result.passed, failure_text(result)


IDENTITY = """
[policy]
schemas = "schemas"
rules = "rules"

[identity]
audience = "toolwall"
algorithms = ["EdDSA"]
public_key_file = ".toolwall/keys/toolwall-dev.pub"
"""


@pytest.fixture
def with_identity(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "schemas", tmp_path / "schemas")
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    (tmp_path / "toolwall.toml").write_text(IDENTITY)
    generate_keypair(tmp_path / ".toolwall" / "keys")
    return tmp_path / "toolwall.toml"


def test_token_callers_are_minted_with_the_dev_key_and_verified(with_identity: Path) -> None:
    runner = PolicyTestRunner(policy_firewall(with_identity))
    granted = case(
        """
- name: via token
  token: {sub: alice, tools: ["fs.*"], groups: [eng]}
  call: {tool: fs.read, args: {path: /srv/workspace/a}}
  expect: allow
"""
    )
    result = runner.run(granted)
    assert result.passed, failure_text(result)
    assert result.decision is not None and result.decision.caller.sub == "alice"


def test_a_token_for_another_audience_is_refused(with_identity: Path) -> None:
    result = PolicyTestRunner(policy_firewall(with_identity)).run(
        case(
            """
- name: wrong audience
  token: {sub: alice, tools: ["fs.*"], audience: the-model-api}
  call: {tool: fs.read, args: {path: /srv/workspace/a}}
  expect: {action: block, reason: audience}
"""
        )
    )
    assert result.passed, failure_text(result)


def test_a_named_key_that_is_not_trusted_is_refused(with_identity: Path, tmp_path: Path) -> None:
    other = generate_keypair(tmp_path / "other")
    result = PolicyTestRunner(policy_firewall(with_identity)).run(
        case(
            f"""
- name: foreign key
  token: {{sub: alice, tools: ["fs.*"], key: {other.private_key}}}
  call: {{tool: fs.read, args: {{path: /srv/workspace/a}}}}
  expect: block
"""
        )
    )
    assert result.passed, failure_text(result)
    assert result.decision is not None
    assert any(r.kind.value == "identity" for r in result.decision.reasons)


def test_token_callers_need_an_identity_section(demo: Firewall) -> None:
    result = PolicyTestRunner(demo).run(
        case(
            """
- name: no identity
  token: {sub: alice, tools: ["fs.*"]}
  call: {tool: fs.read, args: {path: /srv/workspace/a}}
  expect: allow
"""
        )
    )
    assert result.error is not None and "[identity]" in result.error
