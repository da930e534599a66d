"""Every exception of the rule language is a `ToolwallError`; what each one says is unchanged."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import toolwall.policy
from toolwall.errors import ToolwallError
from toolwall.policy import ParseError, parse_text
from toolwall.policy.builtins import host
from toolwall.policy.errors import BuiltinError, CompileError, RuleEvalError
from toolwall.policy.parser import ast


def _exceptions() -> list[type[BaseException]]:
    found = []
    for info in pkgutil.walk_packages(toolwall.policy.__path__, "toolwall.policy."):
        module = importlib.import_module(info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == module.__name__:
                found.append(value)
    return found


def test_every_exception_of_the_package_is_a_toolwall_error() -> None:
    exceptions = _exceptions()
    assert {ParseError, CompileError, RuleEvalError, BuiltinError} <= set(exceptions)
    for exception in exceptions:
        assert issubclass(exception, ToolwallError), exception


def test_a_builtin_error_is_also_a_value_error() -> None:
    with pytest.raises(ValueError, match="has no host"):
        host("file:///etc/passwd")


def test_what_the_exceptions_say() -> None:
    with pytest.raises(ParseError) as info:
        parse_text("rule r on a block", "p.tw")
    assert str(info.value) == "\n".join(d.render() for d in info.value.diagnostics)
    assert str(info.value).startswith("p.tw:1:8: error: ")
    loc = ast.Loc("p.tw", 2, 3)
    assert str(CompileError(loc, "bad call of x()")) == "p.tw:2:3: bad call of x()"
    assert RuleEvalError("missing field args.a").message == "missing field args.a"
