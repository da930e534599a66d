"""`toolwall.schemas.regexes`: `pattern` and `patternProperties` match with RE2."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.schemas.helpers import write
from toolwall import SchemaLoadError
from toolwall.schemas import SchemaRegistry


def test_patterns_match_with_re2_semantics(tmp_path: Path) -> None:
    # Python's `re` lets `$` match before a final newline; JSON Schema (ECMA-262) and RE2 do not.
    write(tmp_path, "t.json", {"type": "object", "properties": {"id": {"pattern": "^[A-Z]+$"}}})
    schema = SchemaRegistry.load(tmp_path).get("t")
    assert schema is not None
    assert schema.is_valid({"id": "ABC"})
    assert schema.violation({"id": "ABC"}) is None
    violation = schema.violation({"id": "ABC\n"})
    assert violation is not None and violation.json_path == "$.id"
    assert "does not match" in violation.message


def test_a_backtracking_pattern_stays_linear_on_hostile_input(tmp_path: Path) -> None:
    write(tmp_path, "t.json", {"type": "object", "properties": {"s": {"pattern": "^(a+)+$"}}})
    schema = SchemaRegistry.load(tmp_path).get("t")
    assert schema is not None
    # With Python's `re` this input takes exponential time; RE2 answers at once.
    assert schema.violation({"s": "a" * 5000 + "!"}) is not None


def test_pattern_properties_use_re2(tmp_path: Path) -> None:
    data = {
        "type": "object",
        "patternProperties": {"^x_[a-z]+$": {"type": "integer"}},
    }
    write(tmp_path, "t.json", data)
    schema = SchemaRegistry.load(tmp_path).get("t")
    assert schema is not None
    assert schema.violation({"x_ok": 1}) is None
    bad = schema.violation({"x_ok": "one"})
    assert bad is not None and bad.json_path == "$.x_ok"
    assert schema.violation({"x_ok\n": "one"}) is None  # the key does not match the pattern


@pytest.mark.parametrize("pattern", ["^(?=a)a$", "(a)\\1"])
def test_a_pattern_re2_cannot_compile_is_a_load_error(tmp_path: Path, pattern: str) -> None:
    write(tmp_path, "t.json", {"type": "object", "properties": {"s": {"pattern": pattern}}})
    with pytest.raises(SchemaLoadError, match="has a pattern RE2 cannot compile"):
        SchemaRegistry.load(tmp_path)


def test_a_property_named_pattern_is_not_a_regex(tmp_path: Path) -> None:
    data = {"type": "object", "properties": {"pattern": {"type": "string", "enum": ["(?=x)"]}}}
    write(tmp_path, "t.json", data)
    schema = SchemaRegistry.load(tmp_path).get("t")
    assert schema is not None and schema.violation({"pattern": "(?=x)"}) is None
