from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT
from toolwall import cli


@pytest.fixture
def demo_copy(tmp_path: Path) -> Path:
    """A copy of the demo policy and its policy tests, free to be broken."""
    for name in ("schemas", "rules"):
        shutil.copytree(ROOT / name, tmp_path / name)
    shutil.copy(ROOT / "toolwall.toml", tmp_path / "toolwall.toml")
    (tmp_path / "tests").mkdir()
    # tests/policy also holds the rule language's own tests (it mirrors toolwall/policy/): the
    # policy test files are the YAML ones.
    (tmp_path / "tests" / "policy").mkdir()
    for case_file in (ROOT / "tests" / "policy").glob("*.yaml"):
        shutil.copy(case_file, tmp_path / "tests" / "policy" / case_file.name)
    return tmp_path


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


CliRunner = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> CliRunner:
    """`toolwall ARGS...` in-process: (exit status, stdout, stderr)."""
    # Just the commands under test: the parser then depends on nothing else.
    monkeypatch.setattr(
        cli,
        "COMMANDS",
        ["toolwall.commands.init", "toolwall.commands.test", "toolwall.commands.fuzz"],
    )

    def run(*argv: str) -> tuple[int, str, str]:
        status = cli.main(list(argv))
        out, err = capsys.readouterr()
        return status, out, err

    return run
