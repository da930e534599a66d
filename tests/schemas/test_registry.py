"""`toolwall.schemas.registry`: the tools, their violations with JSON paths, the draft a schema
names, and tools defined twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.schemas.helpers import ARGS, write
from toolwall import SchemaLoadError
from toolwall.schemas import SchemaRegistry


def test_the_demo_schemas_load(demo_schemas: SchemaRegistry) -> None:
    assert demo_schemas.names() == [
        "bank.transfer",
        "db.query",
        "email.read",
        "email.send",
        "fs.read",
        "fs.write",
        "rag.search",
        "shell.run",
        "web.fetch",
    ]


def test_violations_carry_the_json_path(demo_schemas: SchemaRegistry) -> None:
    schema = demo_schemas.get("email.send")
    assert schema is not None
    violation = schema.violation({"to": ["a@acme.test", 7], "subject": "s", "body": "b"})
    assert violation is not None
    assert violation.json_path == "$.to[1]"
    assert "is not of type 'string'" in violation.message
    missing = schema.violation({"to": ["a@acme.test"], "subject": "s"})
    assert missing is not None and "'body' is a required property" in missing.message


def test_a_tool_defined_twice_is_a_load_error(tmp_path: Path) -> None:
    write(tmp_path, "a.json", [{"name": "x", "parameters": ARGS}])
    write(tmp_path, "x.json", ARGS)
    with pytest.raises(SchemaLoadError, match="'x' is already defined in"):
        SchemaRegistry.load(tmp_path)


def test_schema_draft_follows_dollar_schema(tmp_path: Path) -> None:
    # Draft 4 spells exclusiveMaximum as a boolean; 2020-12 would reject that schema.
    draft4 = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "object",
        "properties": {"n": {"type": "number", "maximum": 5, "exclusiveMaximum": True}},
    }
    write(tmp_path, "old.json", draft4)
    schema = SchemaRegistry.load(tmp_path).get("old")
    assert schema is not None and schema.is_valid({"n": 4}) and not schema.is_valid({"n": 5})


def test_a_missing_folder_is_a_load_error(tmp_path: Path) -> None:
    with pytest.raises(SchemaLoadError, match="schema folder does not exist"):
        SchemaRegistry.load(tmp_path / "nope")
