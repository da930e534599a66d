"""`toolwall.schemas.fast`: the compiled fast path takes schemas with a pattern only once a probe
proved that fastjsonschema's generated code matches them with RE2; else (or switched off) those
schemas are validated by jsonschema, with the same answers."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import fastjsonschema
import pytest

from tests.conftest import ROOT
from toolwall.regex import DISABLE_ENV
from toolwall.schemas import ToolSchema, fast
from toolwall.schemas.regexes import schema_patterns

IBAN = {
    "type": "object",
    "properties": {"iban": {"type": "string", "pattern": "^[A-Z]{2}[0-9]{2}[A-Z0-9]{10,30}$"}},
    "required": ["iban"],
}
NO_PATTERN = {"type": "object", "properties": {"n": {"type": "integer", "maximum": 5}}}


def with_python_regexes(definition: dict[str, Any], **options: Any) -> Callable[[Any], Any]:
    """fastjsonschema as a release could reshape it: the generated code keeps its compiled
    Python regexes to itself, and the `REGEX_PATTERNS` toolwall swaps is only a copy."""
    validator = fastjsonschema.compile(definition, **options)
    copy = dict(validator.__globals__["REGEX_PATTERNS"])  # type: ignore[attr-defined]
    namespace: dict[str, Any] = {"REGEX_PATTERNS": copy, "generated": validator}
    exec("def validate(data):\n    return generated(data)\n", namespace)
    return namespace["validate"]  # type: ignore[no-any-return]


def without_regex_table(definition: dict[str, Any], **options: Any) -> Callable[[Any], Any]:
    """A compiled validator with no `REGEX_PATTERNS` to swap at all."""
    validator = fastjsonschema.compile(definition, **options)
    return lambda data: validator(data)


def test_the_installed_fastjsonschema_matches_patterns_with_re2() -> None:
    # If this fails, a fastjsonschema release stopped consulting REGEX_PATTERNS at call time:
    # schemas with a pattern (correctly) lose their fast path.
    assert fast.re2_patterns_take_effect(fastjsonschema.compile)
    assert fast.re2_patterns_in_use()
    assert ToolSchema("t", IBAN, "<test>").compiled


@pytest.mark.parametrize("compile", [with_python_regexes, without_regex_table])
def test_a_swap_that_does_not_take_effect_fails_the_self_test(
    compile: Callable[..., Callable[[Any], Any]],
) -> None:
    assert not fast.re2_patterns_take_effect(compile)


def test_the_probe_tells_re2_from_pythons_re_in_both_directions() -> None:
    """Without the swap, fastjsonschema's answers are `re`'s: the probe refuses it on a case
    `re` accepts and RE2 refuses (a fail-open) and on one RE2 accepts and `re` refuses."""
    python_only = fast.compile_with_re2(fast._PROBE_SCHEMA, set(), fastjsonschema.compile)
    assert python_only is not None
    swapped = fast.compile_with_re2(
        fast._PROBE_SCHEMA,
        set(schema_patterns(fast._PROBE_SCHEMA)),
        fastjsonschema.compile,
    )
    assert swapped is not None

    def valid(validator: Callable[[Any], Any], arguments: Any) -> bool:
        try:
            validator(arguments)
            return True
        except fastjsonschema.JsonSchemaValueException:
            return False

    differing = [
        arguments
        for arguments, expected in fast._PROBE_CASES
        if valid(python_only, arguments) is not expected
    ]
    assert {"digit": "\u0661"} in differing  # re says valid: what the self-test guards against
    assert {"braces": ["a{,3}"]} in differing  # re says invalid: RE2 must be the one consulted
    assert all(valid(swapped, a) is expected for a, expected in fast._PROBE_CASES)


def test_without_the_proof_schemas_with_a_pattern_use_jsonschema(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fast, "re2_patterns_in_use", lambda: False)
    iban = ToolSchema("t", IBAN, "<test>")
    assert not iban.compiled and iban.fast_valid({"iban": "x"}) is None
    assert iban.violation({"iban": "DE44500105175407324931"}, plain=True) is None
    refused = iban.violation({"iban": "DE44500105175407324931\n"}, plain=True)
    assert refused is not None and refused.json_path == "$.iban"
    # Schemas without a pattern keep their fast path.
    assert ToolSchema("n", NO_PATTERN, "<test>").compiled


def test_the_switch_turns_the_swap_off() -> None:
    probe = (
        "from toolwall.schemas import SchemaRegistry\n"
        "from toolwall.schemas import fast\n"
        "demo = SchemaRegistry.load('schemas')\n"
        "print(fast.re2_patterns_in_use(), sorted(s.name for s in demo if not s.compiled))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), DISABLE_ENV: "fastjsonschema_re2"}
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    # bank.transfer is the demo's one schema with a pattern.
    assert out.stdout == "False ['bank.transfer']\n"


@pytest.mark.parametrize(
    ("value", "plain"),
    [
        ({"a": [1, "x", None, True, 1.5, {"b": []}]}, True),
        ({"a": (1, 2)}, False),
        ({"a": float("nan")}, False),
        ({1: "x"}, False),
        ({"a": {"b": {1, 2}}}, False),
    ],
)
def test_only_plain_json_values_take_the_fast_path(value: Any, plain: bool) -> None:
    assert fast.is_plain(value) is plain
