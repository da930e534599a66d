"""Golden files: each broken rule file in `golden/` and the exact diagnostics it must produce.

Regenerate after an intended change with `python tests/policy/golden_tool.py` and review the diff.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.policy.golden_tool import GOLDEN, ROOT, demo_schemas, render
from toolwall import cli
from toolwall.errors import PolicyError
from toolwall.policy import load_policy

NAMES = sorted(p.stem for p in GOLDEN.glob("*.tw"))
SCHEMAS = demo_schemas()


def test_there_are_at_least_thirty_golden_files() -> None:
    assert len(NAMES) >= 30
    for name in NAMES:
        assert (GOLDEN / f"{name}.expected").is_file(), name


@pytest.mark.parametrize("name", NAMES)
def test_diagnostics_match_the_golden_file(name: str) -> None:
    expected = (GOLDEN / f"{name}.expected").read_text(encoding="utf-8")
    assert render(name, SCHEMAS) == expected


@pytest.mark.parametrize("name", NAMES)
def test_every_diagnostic_has_location_and_caret(name: str) -> None:
    for block in render(name, SCHEMAS).strip().split(f"\n{name}.tw:"):
        lines = block.splitlines()
        assert len(lines) == 3, block
        assert lines[0].split(":")[1].isdigit()
        assert lines[2].rstrip().endswith("^")


def _errors(name: str) -> bool:
    return ": error: " in (GOLDEN / f"{name}.expected").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", [n for n in NAMES if _errors(n)])
def test_load_policy_refuses_broken_files(name: str) -> None:
    with pytest.raises(PolicyError) as info:
        load_policy([GOLDEN / f"{name}.tw"], SCHEMAS)
    assert info.value.diagnostics
    assert all(getattr(d, "file", "").endswith(f"{name}.tw") for d in info.value.diagnostics)


def _config(tmp_path: Path, rules: str) -> Path:
    config = tmp_path / "toolwall.toml"
    schemas = (ROOT / "schemas").as_posix()
    config.write_text(f'[policy]\nschemas = "{schemas}"\nrules = "{rules}"\n', encoding="utf-8")
    return config


@pytest.mark.parametrize("name", NAMES)
def test_toolwall_check_exit_status_on_each_golden_file(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(GOLDEN / f"{name}.tw", tmp_path / f"{name}.tw")
    code = cli.main(["check", "--config", str(_config(tmp_path, f"{name}.tw"))])
    out = capsys.readouterr().out.replace(f"{tmp_path}/", "")
    head = render(name, SCHEMAS).splitlines()[0]  # NAME.tw:L:C: error: message
    assert head in out
    assert code == (1 if _errors(name) else 0)


def test_toolwall_check_on_the_demo_policy_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check", "--config", str(ROOT / "toolwall.toml")]) == 0
    assert "0 errors, 0 warnings" in capsys.readouterr().out


def test_toolwall_check_exit_2_on_a_broken_config(tmp_path: Path) -> None:
    config = tmp_path / "toolwall.toml"
    config.write_text("[policy]\nschemas = 3\n", encoding="utf-8")
    assert cli.main(["check", "--config", str(config)]) == 2


def test_toolwall_check_shows_identity_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "r.tw").write_text("rule r: on db.query block\n", encoding="utf-8")
    config = _config(tmp_path, "r.tw")
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text + '[identity]\naudience = "toolwall"\nhs256_secret_env = "TW_SECRET"\n'
        'algorithms = ["HS256"]\n',
        encoding="utf-8",
    )
    assert cli.main(["check", "--config", str(config)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "warning: identity: hs256_secret_env is for local development only" in out
    assert "0 errors, 1 warning" in out
