"""What values and operators mean at run time (`semantics`), directly and through compiled rules."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolwall import Caller, ReasonKind
from toolwall.policy import compile_text
from toolwall.policy.errors import RuleEvalError
from toolwall.policy.semantics import (
    ARITH,
    COMPARE,
    MISSING,
    an,
    equal,
    member,
    negate,
    require_bool,
    require_list,
    step,
    type_name,
)
from toolwall.schemas.registry import SchemaRegistry
from toolwall.state.memory import SessionState

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(-3, 3) | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner),
    max_leaves=8,
)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (1, 1.0, True),
        (True, 1, False),
        (False, 0, False),
        (None, None, True),
        ("1", 1, False),
        ([1, [2.0]], (1, [2]), True),
        ({"a": [1]}, {"a": [1.0]}, True),
        ({"a": 1}, {"a": 1, "b": 2}, False),
        ([True], [1], False),
    ],
)
def test_equal_is_json_equality(a: Any, b: Any, same: bool) -> None:
    assert equal(a, b) is same
    assert equal(b, a) is same
    assert COMPARE["!="](a, b) is not same


@settings(max_examples=200, deadline=None)
@given(json_values, json_values)
def test_equal_is_an_equivalence_that_never_raises(a: Any, b: Any) -> None:
    assert equal(a, a)
    assert equal(a, b) is equal(b, a)


def test_member_and_contains() -> None:
    assert member(1, [1.0]) and not member(True, [1])
    assert member("b", "abc") and member("k", {"k": 0}) and not member("z", {"k": 0})
    assert COMPARE["contains"]([1, 2], 2) and COMPARE["not in"](3, [1, 2])
    for item, container, message in [
        (1, "1", "`in` a string needs a string on the left, not an integer"),
        (1, {"1": 1}, "`in` an object needs a string key on the left, not an integer"),
        ("a", 1, "`in` needs a list, string or object on the right, not an integer"),
    ]:
        with pytest.raises(RuleEvalError, match=re.escape(message)):
            member(item, container)


def test_ordering_and_arithmetic_need_numbers_not_booleans() -> None:
    assert COMPARE["<"](1, 1.5) and COMPARE[">="](2, 2)
    assert ARITH["+"]("a", "b") == "ab" and ARITH["+"]([1], (2,)) == [1, 2]
    assert ARITH["/"](1, 2) == 0.5 and negate(2) == -2
    for failing, message in [
        (lambda: COMPARE["<"](True, 2), "`<` compares numbers, not a boolean with an integer"),
        (lambda: ARITH["-"]("a", 1), "`-` needs numbers, not a string and an integer"),
        (lambda: ARITH["+"](1, "a"), "`+` cannot combine an integer and a string"),
        (lambda: ARITH["/"](1, 0), "division by zero"),
        (lambda: negate(True), "unary `-` needs a number, not a boolean"),
        (lambda: COMPARE["under"]("/a", 1), "`under` needs two strings"),
        (lambda: COMPARE["under"]("/a\x00", "/a"), "`under`: path"),
    ]:
        with pytest.raises(RuleEvalError, match=re.escape(message)):
            failing()


def test_truth_and_lists_are_never_coerced() -> None:
    assert require_bool(False, "`when`") is False
    assert require_list((1,), "q") == (1,)
    with pytest.raises(
        RuleEvalError, match=re.escape("`when` needs true or false, not an integer")
    ):
        require_bool(1, "`when`")
    with pytest.raises(RuleEvalError, match=re.escape("q needs a list, not a string")):
        require_list("ab", "q")


def test_step_into_values() -> None:
    label = lambda: "args.a"  # noqa: E731
    assert step({"k": 1}, "k", label) == 1
    assert step({"k": 1}, "z", label) is MISSING
    assert (
        step([1, 2], 1, label) == 2
        and step([1], 5, label) is MISSING
        and step([1], -1, label) is MISSING
    )
    with pytest.raises(RuleEvalError, match=re.escape("args.a is a list, not an object")):
        step([1], "k", label)
    with pytest.raises(RuleEvalError, match=re.escape("args.a is an object, not a list")):
        step({}, 0, label)
    with pytest.raises(
        RuleEvalError, match=re.escape("a list index must be an integer, not a boolean")
    ):
        step([1], True, label)


def test_type_names_in_messages() -> None:
    names = [type_name(v) for v in (None, True, 1, 1.5, "s", [], (), {})]
    assert names == ["null", "boolean", "integer", "number", "string", "list", "list", "object"]
    assert an(1) == "an integer" and an("s") == "a string" and an({}) == "an object"


def test_runtime_type_rules(schemas: SchemaRegistry) -> None:
    open_schema = SchemaRegistry.from_dict({"t.run": {"type": "object"}})
    cases = {
        "args.x == 1": [({"x": 1.0}, True), ({"x": True}, False), ({"x": "1"}, False)],
        "args.x in args.y": [
            ({"x": "b", "y": "abc"}, True),
            ({"x": "k", "y": {"k": 1}}, True),
            ({"x": 1, "y": [1.0, 2]}, True),
            ({"x": 1, "y": "1"}, "error"),
            ({"x": 1, "y": 1}, "error"),
        ],
        "args.y contains args.x": [({"x": 2, "y": [1, 2]}, True), ({"x": 3, "y": [1]}, False)],
        "args.x > 1": [({"x": 2}, True), ({"x": "2"}, "error"), ({"x": True}, "error")],
        "args.x + args.y == 3": [({"x": 1, "y": 2}, True), ({"x": "a", "y": 1}, "error")],
        'args.x + args.y == "ab"': [({"x": "a", "y": "b"}, True)],
        "args.x / args.y > 0": [({"x": 1, "y": 0}, "error"), ({"x": 1, "y": 2}, True)],
        "args.x": [({"x": True}, True), ({"x": 1}, "error"), ({"x": "yes"}, "error")],
        "all v in args.x: v > 0": [
            ({"x": []}, True),
            ({"x": [1, -1]}, False),
            ({"x": "s"}, "error"),
        ],
        "any v in args.x: v > 0": [({"x": []}, False), ({"x": [-1, 1]}, True)],
        "args.x matches /^a/i": [({"x": "Abc"}, True), ({"x": 1}, "error")],
        'args.x startswith "a"': [({"x": "ab"}, True), ({"x": ["a"]}, "error")],
        'args.x under "/srv"': [({"x": "/srv"}, True), ({"x": "/srv2"}, False)],
        "len(args.x) == 2": [({"x": "ab"}, True), ({"x": [1, 2]}, True), ({"x": 5}, "error")],
        "args.l[1] == 2": [({"l": [1, 2]}, True), ({"l": [1]}, "error"), ({"l": "ab"}, "error")],
    }
    who, state = Caller(), SessionState()
    for condition, expectations in cases.items():
        policy = compile_text(f"rule r: on t.run when {condition} block", open_schema)
        for args, expected in expectations:
            verdict = policy.evaluate("t.run", args, who, state)
            outcome = verdict.trace[0].outcome
            if expected == "error":
                assert outcome == "error", (condition, args)
                assert verdict.reasons[0].kind is ReasonKind.RULE_ERROR
            else:
                assert outcome == ("fired" if expected else "not fired"), (condition, args)
