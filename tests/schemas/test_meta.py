"""`toolwall.schemas.meta`: jsonschema-rs says yes, or jsonschema decides (and explains)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from jsonschema.validators import validator_for

from tests.schemas.helpers import write
from toolwall import SchemaLoadError
from toolwall.schemas import SchemaRegistry
from toolwall.schemas.meta import meta_valid_fast

KEYWORDS = [
    "type", "properties", "items", "prefixItems", "required", "additionalProperties", "enum",
    "const", "minimum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "pattern", "format",
    "allOf", "anyOf", "oneOf", "not", "$ref", "$defs", "definitions", "$id", "$schema",
    "patternProperties", "minItems", "uniqueItems", "dependentRequired", "dependencies", "if",
    "then", "contains", "propertyNames", "unevaluatedProperties", "multipleOf", "$anchor",
    "$dynamicRef", "default",
]  # fmt: skip


WORDS = [
    "string", "object", "array", "integer", "number", "null", "boolean", "x", "#", "#/$defs/a",
    "a[", "^a$", "a\\z", "(?P<n>a)", "email", "https://json-schema.org/draft/2020-12/schema",
    "http://json-schema.org/draft-07/schema#", "http://json-schema.org/draft-04/schema#",
]  # fmt: skip


schema_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(WORDS),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEYWORDS) | st.text(max_size=3), inner, max_size=4)
    ),
    max_leaves=12,
)


schemas_ = st.dictionaries(st.sampled_from(KEYWORDS), schema_like, max_size=5)


patterns = st.sampled_from(WORDS) | st.text(max_size=4)


# Patterns are where the two checks differ most (formats): put them where the metaschema looks.
schema_with_patterns = st.one_of(
    schemas_,
    st.builds(lambda p, rest: {**rest, "pattern": p}, patterns, schemas_),
    st.builds(lambda p, rest: {**rest, "patternProperties": {p: rest}}, patterns, schemas_),
    st.builds(lambda p: {"properties": {"a": {"items": {"pattern": p}}}}, patterns),
)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema_with_patterns)
def test_the_fast_metaschema_check_never_accepts_what_jsonschema_refuses(
    schema: dict[str, Any],
) -> None:
    if not meta_valid_fast(schema):
        return  # jsonschema decides, as it always did
    cls = validator_for(schema, default=Draft202012Validator)
    cls.check_schema(schema)  # raises SchemaError if the fast yes was wrong


def test_the_fast_metaschema_check_says_yes_to_ordinary_schemas(
    demo_schemas: SchemaRegistry,
) -> None:
    for name in demo_schemas.names():
        tool = demo_schemas.get(name)
        assert tool is not None and meta_valid_fast(tool.schema), name


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "strin"}, "is not valid under any of the given schemas"),
        ({"properties": {"a": {"minLength": -1}}}, "at properties/a/minLength"),
        # RE2 compiles `\z`, Python's `re` does not: jsonschema's format check still refuses it.
        ({"pattern": "a\\z"}, "is not a 'regex'"),
        ({"$schema": []}, "at $schema: [] is not a metaschema URI"),
    ],
)
def test_schemas_the_metaschema_refuses_are_load_errors_with_jsonschemas_reason(
    tmp_path: Path, schema: dict[str, Any], expected: str
) -> None:
    write(tmp_path, "t.json", schema)
    with pytest.raises(SchemaLoadError) as info:
        SchemaRegistry.load(tmp_path)
    assert expected in str(info.value)
    assert "t.json" in str(info.value)
