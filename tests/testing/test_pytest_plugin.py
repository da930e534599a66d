"""The pytest plugin, in real pytest runs (subprocesses) of small projects."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT
from tests.testing.conftest import replace_in

PLUGIN = "toolwall.testing.pytest_plugin"


def pytest_in(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", PLUGIN, "-p", "no:cacheprovider", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_demo_policy_tests_pass_in_a_project_run(demo_copy: Path) -> None:
    run = pytest_in(demo_copy, "-q")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "25 passed" in run.stdout


def test_a_broken_rule_fails_readably(demo_copy: Path) -> None:
    replace_in(demo_copy / "rules/assistant.tw", "when args.limit > 100", "when args.limit > 10000")
    run = pytest_in(demo_copy, "-q")
    assert run.returncode == 1
    out = run.stdout
    assert "1 failed, 24 passed" in out
    assert (
        "policy test 'a large query is capped at 100 rows and loses its debug flag' failed" in out
    )
    assert "expected: rewrite" in out and "actual:   allow" in out
    assert "rule cap_query_rows" in out and "not fired" in out
    assert "Traceback" not in out, "a failed case reads as a report, not a stack trace"


def test_a_project_without_toolwall_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "tests" / "policy").mkdir(parents=True)
    (tmp_path / "tests" / "policy" / "retention.yaml").write_text("days: 30\n")
    (tmp_path / "tests" / "test_app.py").write_text("def test_app():\n    assert True\n")
    run = pytest_in(tmp_path, "-q")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout


def test_a_malformed_test_file_is_a_collection_error_that_says_where(demo_copy: Path) -> None:
    (demo_copy / "tests/policy/broken.yaml").write_text(
        "- name: typo\n  call: {tool: fs.read}\n  expect: {action: block, rule: [x]}\n"
    )
    run = pytest_in(demo_copy, "-q")
    assert run.returncode != 0
    assert "broken.yaml:3: case 'typo': unknown key 'rule' in `expect`" in run.stdout
    assert "Traceback" not in run.stdout


def test_a_policy_that_does_not_load_fails_every_case(demo_copy: Path) -> None:
    replace_in(demo_copy / "rules/assistant.tw", "rule cap_query_rows:", "rule cap_query_rows")
    run = pytest_in(demo_copy, "-q")
    assert run.returncode == 1
    assert "25 failed" in run.stdout
    assert "the policy does not load" in run.stdout


def test_ini_options_choose_the_files_and_the_configuration(demo_copy: Path) -> None:
    (demo_copy / "policy").mkdir()
    (demo_copy / "toolwall.toml").rename(demo_copy / "policy" / "toolwall.toml")
    replace_in(demo_copy / "policy/toolwall.toml", '"schemas"', '"../schemas"')
    replace_in(demo_copy / "policy/toolwall.toml", '"rules"', '"../rules"')
    (demo_copy / "checks").mkdir()
    (demo_copy / "tests/policy/assistant.yaml").rename(demo_copy / "checks/assistant.yaml")
    (demo_copy / "pytest.ini").write_text(
        "[pytest]\ntoolwall_policy_tests = checks/*.yaml\ntoolwall_config = policy/toolwall.toml\n"
    )
    run = pytest_in(demo_copy, "-q")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "25 passed" in run.stdout


def test_importing_the_plugin_loads_nothing_of_its_own() -> None:
    """The plugin costs what `import toolwall` costs, nothing more, until it collects a file."""
    code = (
        f"import sys, {PLUGIN}\n"
        "heavy = ('hypothesis', 'yaml', 'toolwall.testing.cases', 'toolwall.testing.runner',"
        " 'toolwall.testing.strategies', 'toolwall.testing.fuzz')\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert run.stdout.strip() == "[]"
