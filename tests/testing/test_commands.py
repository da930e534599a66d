"""`toolwall test` and `toolwall fuzz` on the demo policy and on deliberately broken copies."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.conftest import ROOT
from tests.testing.conftest import CliRunner, replace_in


def test_the_demo_policy_passes_its_policy_tests(run_cli: CliRunner) -> None:
    status, out, _ = run_cli(
        "test", "--config", str(ROOT / "toolwall.toml"), str(ROOT / "tests/policy")
    )
    assert status == 0, out
    assert "0 failed" in out and "✓ the sixth email of a session is blocked" in out


def test_a_broken_rule_fails_with_expected_actual_and_the_explain_tree(
    run_cli: CliRunner, demo_copy: Path
) -> None:
    replace_in(demo_copy / "rules/assistant.tw", "when args.limit > 100", "when args.limit > 10000")
    status, out, _ = run_cli("test", "-q", "--config", str(demo_copy / "toolwall.toml"))
    assert status == 1
    assert "✗ a large query is capped at 100 rows and loses its debug flag" in out
    assert "assistant.yaml:" in out
    assert "expected" in out and "actual" in out and "rewrite" in out
    assert "cap_query_rows" in out and "not fired" in out, "the explain tree of the decision"
    assert "1 failed" in out


def test_default_paths_are_next_to_the_configuration(run_cli: CliRunner, demo_copy: Path) -> None:
    status, out, _ = run_cli("test", "--config", str(demo_copy / "toolwall.toml"), "-k", "HR")
    assert status == 0
    assert "2 passed, 0 failed" in out


def test_a_malformed_test_file_is_a_load_error(run_cli: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("- name: a\n  call: {tool: fs.read}\n  expect: allowed\n")
    status, _, err = run_cli("test", "--config", str(ROOT / "toolwall.toml"), str(bad))
    assert status == 2
    assert "bad.yaml:1: case 'a': `expect`: 'allowed' is not an action" in " ".join(err.split())


def test_a_policy_that_does_not_load_is_a_load_error(run_cli: CliRunner, demo_copy: Path) -> None:
    replace_in(demo_copy / "rules/assistant.tw", "rule cap_query_rows:", "rule cap_query_rows")
    status, _, err = run_cli("test", "--config", str(demo_copy / "toolwall.toml"))
    assert status == 2
    assert "assistant.tw" in err


def test_no_test_files_is_a_usage_error(run_cli: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    status, _, err = run_cli(
        "test", "--config", str(ROOT / "toolwall.toml"), str(tmp_path / "empty")
    )
    assert status == 2 and "no policy test files" in err


def test_fuzz_finds_the_planted_startswith_bug_and_prints_a_test_case(
    run_cli: CliRunner, demo_copy: Path
) -> None:
    replace_in(
        demo_copy / "rules/assistant.tw",
        "unless path(args.path) under workspace",
        "unless path(args.path) startswith workspace",
    )
    saved = demo_copy / "found.yaml"
    config = str(demo_copy / "toolwall.toml")
    status, out, _ = run_cli(
        "fuzz", "--config", config, "--seed", "1", "--tool", "fs.*", "--save", str(saved)
    )
    assert status == 1, out
    assert "✗ fs.read" in out and "assertion" in out
    cases = yaml.safe_load(saved.read_text())
    paths = [c["call"]["args"]["path"] for c in cases]
    assert paths and all(p.startswith("/srv/workspace") for p in paths)
    assert all(not p.startswith("/srv/workspace/") or ".." in p for p in paths)
    assert all(c["expect"]["action"] == ["escalate", "block"] for c in cases)

    # The printed case is a policy test that fails on the buggy policy...
    status, out, _ = run_cli("test", "--config", config, str(saved))
    assert status == 1
    # ...and passes once the rule is fixed.
    replace_in(demo_copy / "rules/assistant.tw", "startswith workspace", "under workspace")
    status, out, _ = run_cli("test", "--config", config, str(saved))
    assert status == 0, out


def test_fuzz_of_the_demo_policy_finds_nothing(run_cli: CliRunner) -> None:
    status, out, _ = run_cli(
        "fuzz", "--config", str(ROOT / "toolwall.toml"), "--seed", "3", "--examples", "25"
    )
    assert status == 0, out
    assert "no counterexample in 9 tools" in out


def test_fuzz_usage_errors(run_cli: CliRunner) -> None:
    config = str(ROOT / "toolwall.toml")
    status, _, err = run_cli("fuzz", "--config", config, "--tool", "nothing.*")
    assert status == 2 and "no tool matches" in err
    status, _, err = run_cli("fuzz", "--config", config, "--examples", "0")
    assert status == 2 and "at least 1" in err


TOKEN_CASES = """\
cases:
  - name: a granted caller mails inside the company
    token: {sub: alice, tools: [email.send]}
    call: {tool: email.send, args: {to: [bob@example.com], subject: hi, body: hello}}
    expect: allow
  - name: mail to an outside address is escalated
    token: {sub: alice, tools: ["email.*"]}
    call: {tool: email.send, args: {to: [eve@evil.test], subject: hi, body: hello}}
    expect: {action: escalate, rules: [mail_outside_company]}
  - name: a token without the grant is refused
    token: {sub: mallory, tools: [fs.read]}
    call: {tool: email.send, args: {to: [bob@example.com], subject: hi, body: hello}}
    expect: {action: block, reason: mallory is not granted email.send}
"""


def test_token_cases_run_against_a_scaffold_from_toolwall_init(
    run_cli: CliRunner, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    status, _, err = run_cli("init", str(project))
    assert status == 0, err
    (project / "tests" / "policy").mkdir(parents=True)
    (project / "tests" / "policy" / "mail.yaml").write_text(TOKEN_CASES)
    status, out, err = run_cli("test", "--config", str(project / "toolwall.toml"))
    assert status == 0, out + err
    assert "3 passed, 0 failed" in out


def test_a_file_naming_its_configuration_is_run_against_it(
    run_cli: CliRunner, demo_copy: Path, tmp_path: Path
) -> None:
    replace_in(demo_copy / "rules/assistant.tw", "when args.limit > 100", "when args.limit > 10000")
    elsewhere = tmp_path / "elsewhere.yaml"
    elsewhere.write_text(
        f"config: {demo_copy / 'toolwall.toml'}\n"
        "cases:\n"
        "  - name: capped\n"
        "    caller: {sub: a, tools: [db.query]}\n"
        "    call: {tool: db.query, args: {sql: s, limit: 500}}\n"
        "    expect: rewrite\n"
    )
    status, out, _ = run_cli("test", "--config", str(ROOT / "toolwall.toml"), str(elsewhere))
    assert status == 1, "the file's own (broken) policy was used, not --config"
    assert "✗ capped" in out
