"""Testing policies like code: policy test files, Hypothesis strategies and the fuzzer.

- `toolwall.testing.load_test_file` / `PolicyTestRunner`: the YAML policy tests that
  `toolwall test` and the pytest plugin (`toolwall.testing.pytest_plugin`) run;
- `toolwall.testing.strategies`: Hypothesis strategies for tool calls, near-valid calls,
  callers, session histories and raw JSON arguments;
- `toolwall.testing.fuzz`: what `toolwall fuzz` runs.

Names load on first use, so importing the package (as the pytest plugin does) stays cheap. The
strategies and the fuzzer need Hypothesis, which is not part of the core install: it comes with
the `testing` extra (`TESTING_EXTRA`). Policy test files need only the core.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from toolwall.testing.cases import (
        Expectation,
        HistoryStep,
        PolicyTestCase,
        PolicyTestError,
        PolicyTestFile,
        TokenSpec,
        discover,
        load_test_file,
    )
    from toolwall.testing.runner import CaseResult, Mismatch, PolicyTestRunner, policy_firewall

DEFAULT_FUZZ_EXAMPLES = 100
"""Examples per tool that `toolwall fuzz` generates unless told otherwise."""

TESTING_EXTRA = "pip install 'toolwall[testing]'"
"""How to install what the strategies and the fuzzer need (Hypothesis)."""

_EXPORTS = {
    "CaseResult": "toolwall.testing.runner",
    "Expectation": "toolwall.testing.cases",
    "HistoryStep": "toolwall.testing.cases",
    "Mismatch": "toolwall.testing.runner",
    "PolicyTestCase": "toolwall.testing.cases",
    "PolicyTestError": "toolwall.testing.cases",
    "PolicyTestFile": "toolwall.testing.cases",
    "PolicyTestRunner": "toolwall.testing.runner",
    "TokenSpec": "toolwall.testing.cases",
    "discover": "toolwall.testing.cases",
    "load_test_file": "toolwall.testing.cases",
    "policy_firewall": "toolwall.testing.runner",
}

__all__ = [
    "CaseResult",
    "Expectation",
    "HistoryStep",
    "Mismatch",
    "PolicyTestCase",
    "PolicyTestError",
    "PolicyTestFile",
    "PolicyTestRunner",
    "TokenSpec",
    "discover",
    "load_test_file",
    "policy_firewall",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'toolwall.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
