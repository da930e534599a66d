"""pytest plugin: policy test files run as ordinary tests in a project's own `pytest` run.

Registered through the `pytest11` entry point, or loaded explicitly with
`-p toolwall.testing.pytest_plugin`. It collects YAML files matching the `toolwall_policy_tests`
ini globs (default `tests/policy/*.yaml`, relative to the rootdir); each case becomes one test
item. The policy is the `toolwall_config` ini option (default `toolwall.toml` in the rootdir),
`--toolwall-config`, or the `config:` a test file names.

Importing this module is cheap (toolwall's test machinery loads when a file is collected), and a
project without a toolwall configuration is left alone: matching YAML files are only collected
when a configuration exists or the file names one.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from toolwall.firewall import Firewall
    from toolwall.testing.cases import PolicyTestCase
    from toolwall.testing.runner import CaseResult

DEFAULT_GLOBS = ["tests/policy/*.yaml", "tests/policy/*.yml"]
DEFAULT_CONFIG = "toolwall.toml"
_NAMES_OWN_CONFIG = re.compile(r"^config\s*:", re.MULTILINE)
_FIREWALLS = pytest.StashKey[dict[Path, "Firewall | Exception"]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "toolwall_policy_tests",
        type="linelist",
        default=DEFAULT_GLOBS,
        help="globs (relative to the rootdir) of toolwall policy test files",
    )
    parser.addini(
        "toolwall_config",
        default=DEFAULT_CONFIG,
        help="toolwall.toml the policy tests run against (relative to the rootdir)",
    )
    parser.getgroup("toolwall").addoption(
        "--toolwall-config",
        dest="toolwall_config",
        default=None,
        help="toolwall.toml the policy tests run against (overrides the ini option)",
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    config = parent.config
    if not _matches(file_path, config):
        return None
    if not _default_config(config).is_file() and not _names_own_config(file_path):
        return None
    file: PolicyTestFile = PolicyTestFile.from_parent(parent, path=file_path)
    return file


def _matches(path: Path, config: pytest.Config) -> bool:
    root = config.rootpath
    try:
        relative = path.relative_to(root).as_posix()
    except ValueError:
        relative = path.as_posix()
    globs: list[str] = config.getini("toolwall_policy_tests")
    return any(fnmatch.fnmatch(relative, glob) for glob in globs)


def _default_config(config: pytest.Config) -> Path:
    option: str | None = config.getoption("toolwall_config")
    value = option if option is not None else str(config.getini("toolwall_config"))
    path = Path(value)
    return path if path.is_absolute() else config.rootpath / path


def _names_own_config(path: Path) -> bool:
    try:
        return _NAMES_OWN_CONFIG.search(path.read_text(encoding="utf-8")) is not None
    except (OSError, UnicodeDecodeError):
        return False


class PolicyTestFile(pytest.File):
    """One YAML file of policy test cases."""

    def collect(self) -> Iterator[pytest.Item]:
        from toolwall.testing.cases import PolicyTestError, load_test_file

        try:
            loaded = load_test_file(self.path)
        except PolicyTestError as exc:
            raise self.CollectError(str(exc)) from None
        config = loaded.config or _default_config(self.config)
        for case in loaded.cases:
            yield PolicyTestItem.from_parent(
                self, name=case.name, case=case, policy=config, key=loaded.key
            )


class PolicyTestFailed(AssertionError):
    """A case's decision differs from what it expects (or the case could not run)."""

    def __init__(self, result: CaseResult) -> None:
        super().__init__(result.case.name)
        self.result = result


class PolicyLoadFailed(Exception):
    """The policy under test does not load; every case that needs it fails with the reason."""


class PolicyTestItem(pytest.Item):
    """One policy test case."""

    def __init__(
        self, *, case: PolicyTestCase, policy: Path, key: Path | None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.policy = policy.resolve()
        self.key = key

    def runtest(self) -> None:
        from toolwall.testing.runner import PolicyTestRunner

        result = PolicyTestRunner(self._firewall()).run(self.case, key=self.key)
        if not result.passed:
            raise PolicyTestFailed(result)

    def _firewall(self) -> Firewall:
        from toolwall.errors import ToolwallError
        from toolwall.testing.runner import policy_firewall

        cache = self.config.stash.setdefault(_FIREWALLS, {})
        if self.policy not in cache:
            try:
                cache[self.policy] = policy_firewall(self.policy)
            except ToolwallError as exc:
                cache[self.policy] = PolicyLoadFailed(f"the policy does not load: {exc}")
        firewall = cache[self.policy]
        if isinstance(firewall, Exception):
            raise firewall
        return firewall

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str | Any:
        if isinstance(excinfo.value, PolicyTestFailed):
            from toolwall.testing.report import failure_text

            return failure_text(excinfo.value.result)
        if isinstance(excinfo.value, PolicyLoadFailed):
            return f"{self.case.location}: {excinfo.value}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, max(self.case.line - 1, 0), f"policy test: {self.case.name}"
