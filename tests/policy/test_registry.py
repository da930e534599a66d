"""The builtin registry: each declaration says what its implementation does, and declaring a
builtin is all it takes for the checker, the constant folder and the compiler to know it."""

from __future__ import annotations

from typing import Any

import pytest

from toolwall import Action, Caller
from toolwall.errors import PolicyError
from toolwall.policy import compile_text, registry
from toolwall.policy.builtins.regexes import compile_regex
from toolwall.policy.errors import RuleEvalError
from toolwall.policy.registry import BUILTINS, Builtin, Param
from toolwall.policy.semantics import MISSING
from toolwall.policy.static_types import BOOLEAN, STRING, static_type
from toolwall.schemas.registry import SchemaRegistry
from toolwall.state.memory import SessionState

# One value of every static type a value parameter can be given.
SAMPLES: dict[str, Any] = {
    "string": "mail@acme.test",
    "number": 3,
    "boolean": True,
    "null": None,
    "list": ["a"],
    "object": {"k": "v"},
}
OPEN = SchemaRegistry.from_dict({"t.run": {"type": "object"}})


def _needed(builtin: Builtin) -> list[Any]:
    given = {"session": SessionState(), "caller": Caller(sub="a", groups=("g",))}
    return [given[need] for need in builtin.needs]


def _argument(param: Param, value: Any) -> Any:
    if param.form == "regex":
        return compile_regex("a")
    return value


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_an_argument_outside_the_declared_types_is_a_rule_error(name: str) -> None:
    """What the checker lets through is what the implementation accepts, and vice versa."""
    builtin = BUILTINS[name]
    for index, param in enumerate(builtin.params):
        if param.form != "value" or param.types is None:
            continue
        for kind, sample in SAMPLES.items():
            args = [_argument(p, SAMPLES["string"]) for p in builtin.params]
            args[index] = sample
            if kind in param.types:
                try:
                    result = builtin.implementation(*_needed(builtin), *args)
                except RuleEvalError:
                    continue  # a value of the right type that the builtin refuses (a bad URL)
                assert builtin.result is not None
                assert static_type(result) in builtin.result, (name, sample, result)
            else:
                with pytest.raises(RuleEvalError, match=rf"^{name}\(\)"):
                    builtin.implementation(*_needed(builtin), *args)


def test_a_reference_argument_is_the_value_or_missing() -> None:
    assert BUILTINS["has"].implementation(None) is True
    assert BUILTINS["has"].implementation(MISSING) is False


def test_a_builtin_is_constant_when_it_reads_nothing_of_the_call() -> None:
    not_constant = {name for name, builtin in BUILTINS.items() if not builtin.constant}
    reading_the_session = {"count", "called", "count_within", "caller_count_within"}
    assert not_constant == {"has", *reading_the_session}
    assert all(BUILTINS[name].needs == ("session",) for name in reading_the_session)


def test_a_name_is_declared_once() -> None:
    lower = BUILTINS["lower"]
    with pytest.raises(ValueError, match="declared twice"):
        registry.declare(lower, lower)


def _in_group(caller: Caller, group: Any) -> bool:
    if not isinstance(group, str):
        raise RuleEvalError("in_group() needs a string")
    return group in caller.groups


def test_declaring_a_builtin_is_all_the_checker_folder_and_compiler_need(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(
        BUILTINS,  # type: ignore[arg-type]
        "shout",
        Builtin("shout", (Param("s", STRING),), STRING, lambda s: s.upper() + "!", "louder"),
    )
    monkeypatch.setitem(
        BUILTINS,  # type: ignore[arg-type]
        "in_group",
        Builtin(
            "in_group", (Param("g", STRING),), BOOLEAN, _in_group, "caller's group", ("caller",)
        ),
    )
    policy = compile_text(
        'let loud = shout("hi")\n'
        'rule r: on t.run when args.a == loud and in_group("ops") block because "{shout(tool)}"',
        OPEN,
    )
    ops, dev = Caller(groups=("ops",)), Caller(groups=("dev",))
    assert policy.lets["loud"] == "HI!"
    verdict = policy.evaluate("t.run", {"a": "HI!"}, ops, SessionState())
    assert verdict.action is Action.BLOCK
    assert verdict.reasons[0].message == "T.RUN!"
    assert policy.evaluate("t.run", {"a": "HI!"}, dev, SessionState()).action is Action.ALLOW
    with pytest.raises(PolicyError) as info:
        compile_text('let who = in_group("ops")\nrule r: on t.run when shout(1) == "" block', OPEN)
    message = str(info.value)
    assert "in_group() cannot be used in a `let` value" in message
    assert "shout() needs a string, but this is a number" in message
