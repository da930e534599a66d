"""The public strategies: what they promise, checked with Hypothesis itself."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

import pytest
from hypothesis import Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from tests.conftest import ROOT
from toolwall import Caller, ToolCall
from toolwall.patterns import covered
from toolwall.schemas.registry import SchemaRegistry
from toolwall.testing import strategies as tws
from toolwall.testing.cases import HistoryStep
from toolwall.testing.hints import Hints, PolicyHints

SCHEMAS = SchemaRegistry.load(ROOT / "schemas")
TOOLS = SCHEMAS.names()
HINTS = PolicyHints.from_files([ROOT / "rules"])


class _Reached(Exception):
    pass


def find(strategy: st.SearchStrategy[Any], condition: Any, budget: int = 300) -> Any:
    """The first value `strategy` generates that meets `condition` (no shrinking: the point is
    that the strategy reaches such values within a modest budget)."""
    found: list[Any] = []

    @seed(0)
    @settings(max_examples=budget, phases=[Phase.generate], database=None, deadline=None)
    @given(strategy)
    def probe(value: Any) -> None:
        if condition(value):
            found.append(value)
            raise _Reached

    try:
        probe()
    except _Reached:
        return found[0]
    raise AssertionError(f"{budget} examples and none met the condition")


@given(data=st.data())
def test_tool_calls_always_satisfy_the_schema(data: st.DataObject) -> None:
    tool = data.draw(st.sampled_from(TOOLS))
    schema = SCHEMAS.get(tool)
    assert schema is not None
    call = data.draw(tws.tool_calls(schema, hints=HINTS.for_tool(tool)))
    assert isinstance(call, ToolCall) and call.tool == tool
    assert schema.is_valid(call.args), schema.violation(call.args)


def test_hinted_calls_reach_the_edges_of_the_policy() -> None:
    schema = SCHEMAS.get("fs.write")
    assert schema is not None
    found = find(
        tws.tool_calls(schema, hints=HINTS.for_tool("fs.write")),
        lambda c: c.args["path"].startswith("/srv/workspace2"),
    )
    assert found.args["path"].startswith("/srv/workspace2")
    limit = find(
        tws.arguments(SCHEMAS.get("db.query"), hints=Hints(numbers=(100,), fields=("limit",))),  # type: ignore[arg-type]
        lambda a: a["limit"] == 101,
    )
    assert limit["limit"] == 101


SCHEMAS_HYPOTHESIS_JSONSCHEMA_CANNOT_BUILD_HERE: list[dict[str, Any]] = [
    # patternProperties, minProperties and nested arrays of objects: not "simple" objects.
    {
        "type": "object",
        "properties": {"name": {"type": "string", "minLength": 2}},
        "patternProperties": {"^x-": {"type": "integer"}},
        "required": ["name"],
        "minProperties": 1,
    },
    {
        "type": "object",
        "properties": {
            "rows": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"id": {"type": "integer", "minimum": 1}},
                    "required": ["id"],
                },
                "minItems": 1,
            }
        },
        "required": ["rows"],
        "additionalProperties": False,
    },
]


@pytest.mark.parametrize("schema", SCHEMAS_HYPOTHESIS_JSONSCHEMA_CANNOT_BUILD_HERE)
@given(data=st.data())
@settings(max_examples=30)
def test_other_schemas_still_give_valid_arguments(
    schema: dict[str, Any], data: st.DataObject
) -> None:
    args = data.draw(tws.arguments(schema))
    from jsonschema import Draft202012Validator

    assert Draft202012Validator(schema).is_valid(args)


def test_a_plain_schema_needs_a_tool_name() -> None:
    with pytest.raises(InvalidArgument, match="tool="):
        tws.tool_calls({"type": "object"})
    call = find(tws.tool_calls({"type": "object"}, tool="x.y"), lambda c: True)
    assert call == ToolCall(tool="x.y", args={})


@given(data=st.data())
def test_near_valid_calls_are_json_objects_of_the_tool(data: st.DataObject) -> None:
    tool = data.draw(st.sampled_from(TOOLS))
    schema = SCHEMAS.get(tool)
    assert schema is not None
    call = data.draw(tws.near_valid_calls(schema, hints=HINTS.for_tool(tool)))
    assert call.tool == tool and isinstance(call.args, dict)
    json.dumps(call.args)  # JSON values only


@pytest.mark.parametrize(
    ("what", "condition"),
    [
        ("schema-invalid", lambda s, a: not s.is_valid(a)),
        (
            "valid but changed",
            lambda s, a: s.is_valid(a) and "\u202e" in json.dumps(a, ensure_ascii=False),
        ),
        ("missing required", lambda s, a: "path" not in a),
        ("extra key", lambda s, a: set(a) - {"path", "content"}),
        ("traversal", lambda s, a: "../" in str(a.get("path", ""))),
        (
            "confusable",
            lambda s, a: any(
                unicodedata.name(ch, "").startswith("CYRILLIC") for ch in str(a.get("path", ""))
            ),
        ),
        ("huge", lambda s, a: len(json.dumps(a)) > 16384),
        ("deep", lambda s, a: json.dumps(a).count("[") > 30),
    ],
)
@pytest.mark.filterwarnings("ignore:Generating overly large repr")
def test_near_valid_arguments_cover_each_kind_of_mutation(what: str, condition: Any) -> None:
    schema = SCHEMAS.get("fs.write")
    assert schema is not None
    find(tws.near_valid_arguments(schema), lambda a: bool(condition(schema, a)))


def test_boundary_numbers_come_from_the_schema() -> None:
    schema = SCHEMAS.get("db.query")
    assert schema is not None
    for edge in (0, 10001, 1e308, -0.0):
        find(tws.near_valid_arguments(schema), lambda a, e=edge: a.get("limit") == e)


def test_url_tricks_are_generated() -> None:
    found = find(tws.tricky_strings(), lambda s: "2130706433" in s or "0x7f" in s)
    assert "http" in found


@pytest.mark.parametrize(
    "condition",
    [
        lambda text: _parse(text) == "duplicate",
        lambda text: _parse(text) == "nan",
        lambda text: _parse(text) == "invalid",
        lambda text: _parse(text) == "not an object",
        lambda text: _parse(text) == "ok",
    ],
)
def test_raw_json_arguments_cover_valid_and_malformed_text(condition: Any) -> None:
    find(tws.raw_json_arguments(SCHEMAS.get("fs.read")), condition)


def _parse(text: str) -> str:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        if len({k for k, _ in pairs}) != len(pairs):
            raise KeyError("duplicate")
        return dict(pairs)

    def no_constants(name: str) -> Any:
        raise OverflowError(name)

    try:
        value = json.loads(text, object_pairs_hook=no_duplicates, parse_constant=no_constants)
    except KeyError:
        return "duplicate"
    except OverflowError:
        return "nan"
    except (ValueError, RecursionError):
        return "invalid"
    return "ok" if isinstance(value, dict) else "not an object"


@given(caller=tws.callers(TOOLS, groups=["hr"], granted="fs.read"))
def test_callers_are_callers_with_patterns_from_the_tools(caller: Caller) -> None:
    assert isinstance(caller, Caller)
    assert all(isinstance(p, str) and p for p in caller.tools)


def test_callers_granted_a_tool_mostly_cover_it_but_not_always() -> None:
    strategy = tws.callers(TOOLS, granted="fs.read")
    find(strategy, lambda c: covered(c.tools, "fs.read") and any("*" in p for p in c.tools))
    find(strategy, lambda c: not covered(c.tools, "fs.read"))
    find(strategy, lambda c: "hr" in c.groups and not c.authenticated)


@given(history=tws.session_histories(SCHEMAS, taint_sources=["web.*", "email.read"]))
def test_histories_are_valid_calls_and_taint_sources_carry_results(
    history: list[HistoryStep],
) -> None:
    for step in history:
        schema = SCHEMAS.get(step.call.tool)
        assert schema is not None and schema.is_valid(step.call.args)
        assert step.has_result == (step.call.tool in ("web.fetch", "email.read"))
        assert step.repeat >= 1


def test_histories_repeat_around_the_numbers_the_policy_counts_to() -> None:
    strategy = tws.session_histories(SCHEMAS, tools=["email.send"], hints=Hints(numbers=(5,)))
    find(strategy, lambda h: any(s.repeat == 5 for s in h))
    find(strategy, lambda h: any(s.repeat == 6 for s in h))


def test_hint_variants_straddle_the_literal() -> None:
    variants = tws.hint_variants("/srv/workspace")
    assert {"/srv/workspace", "/srv/workspace2/x", "/srv/workspace/../etc/passwd"} <= set(variants)
    assert "user@acme.test.evil.test" in tws.hint_variants("acme.test")
