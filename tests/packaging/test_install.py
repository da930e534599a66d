"""What an install of toolwall brings: the core carries no fuzzer, and the fuzzer says how to get
it when it is missing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from importlib import metadata

from packaging.requirements import Requirement

from tests.conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def closure(requirements: list[str]) -> set[str]:
    """Every distribution an install of `requirements` pulls in, as the installed versions
    declare their own requirements (extras and environment markers honoured)."""
    seen: set[str] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        requirement = todo.pop()
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        if name in seen:
            continue
        seen.add(name)
        for text in metadata.requires(requirement.name) or []:
            dependency = Requirement(text)
            markers = [{"extra": extra} for extra in (requirement.extras or {""})]
            if dependency.marker is None or any(dependency.marker.evaluate(m) for m in markers):
                todo.append(dependency)
    return seen


def test_the_core_install_does_not_carry_the_fuzzer() -> None:
    core = closure(PYPROJECT["project"]["dependencies"])
    assert "pyjwt" in core and "lark" in core  # the walk really follows the requirements
    assert "hypothesis" not in core and "hypothesis-jsonschema" not in core
    testing = closure(PYPROJECT["project"]["optional-dependencies"]["testing"])
    assert {"hypothesis", "hypothesis-jsonschema"} <= testing


def test_fuzz_without_hypothesis_says_how_to_install_it() -> None:
    program = (
        "import sys\n"
        "class NoHypothesis:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('hypothesis', 'hypothesis_jsonschema'):\n"
        "            raise ModuleNotFoundError(name=name.split('.')[0])\n"
        "sys.meta_path.insert(0, NoHypothesis())\n"
        "from toolwall.cli import main\n"
        "sys.exit(main(['fuzz', '--config', 'toolwall.toml']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "needs Hypothesis" in done.stderr and "toolwall[testing]" in done.stderr
