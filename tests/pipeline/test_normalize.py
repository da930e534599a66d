"""Strict input: every way raw or decoded arguments are refused, each with its own reason."""

from __future__ import annotations

import json

import pytest

from toolwall import Action, Caller, Firewall, ReasonKind, ToolCall
from toolwall.config import Limits
from toolwall.errors import InputRejected
from toolwall.patterns import check_tool_name
from toolwall.pipeline.normalize import check_arguments, parse_arguments
from toolwall.schemas.registry import SchemaRegistry

LIMITS = Limits(max_arg_bytes=1000, max_depth=4, max_string_length=50)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"a": 1, "a": 2}', 'duplicate key "a"'),
        ('{"x": {"b": 1, "b": 1}}', 'duplicate key "b"'),
        ('{"a": NaN}', "NaN is not valid JSON"),
        ('{"a": Infinity}', "Infinity is not valid JSON"),
        ('{"a": -Infinity}', "-Infinity is not valid JSON"),
        ('{"a": 1} {"b": 2}', "trailing data after the JSON value"),
        ('{"a": 1},', "trailing data after the JSON value"),
        ("[1, 2]", "must be a JSON object, not an array"),
        ('"text"', "must be a JSON object, not a string"),
        ("42", "must be a JSON object, not a number"),
        ("null", "must be a JSON object, not null"),
        ("", "not valid JSON"),
        ("{'a': 1}", "not valid JSON"),
        ('{"a": [[[[1]]]]}', "nested deeper than max_depth (4)"),
        ("[" * 5000 + "]" * 5000, "more than max_arg_bytes"),
        ('{"a": "' + "x" * 51 + '"}', "longer than max_string_length (50)"),
        ('{"' + "k" * 51 + '": 1}', "longer than max_string_length (50)"),
        ('{"a": "' + "x" * 1000 + '"}', "more than max_arg_bytes (1000)"),
        ('{"a": "\\ud800"}', "lone surrogate"),
    ],
)
def test_raw_arguments_are_parsed_strictly(raw: str, expected: str) -> None:
    with pytest.raises(InputRejected) as info:
        parse_arguments(raw, LIMITS)
    assert expected in info.value.message


def test_deep_nesting_beyond_the_parser_recursion_limit_is_refused_not_crashing() -> None:
    limits = Limits(max_arg_bytes=100_000, max_depth=32)
    with pytest.raises(InputRejected, match="nested deeper than max_depth"):
        parse_arguments('{"a":' + "[" * 20000 + "]" * 20000 + "}", limits)


def test_size_counts_utf8_bytes_not_characters() -> None:
    # 400 three-byte characters: 400 characters, 1200 bytes.
    raw = json.dumps({"a": "€" * 40}, ensure_ascii=False)
    limits = Limits(max_arg_bytes=len(raw) + 10, max_string_length=100)
    with pytest.raises(InputRejected, match="more than max_arg_bytes"):
        parse_arguments(raw, limits)


def test_bytes_input_must_be_utf8() -> None:
    with pytest.raises(InputRejected, match="not valid UTF-8"):
        parse_arguments(b'{"a": "\xff"}', LIMITS)


def test_valid_raw_arguments_parse() -> None:
    assert parse_arguments('{"a": [1, {"b": null}], "c": "é"}', LIMITS) == {
        "a": [1, {"b": None}],
        "c": "é",
    }


@pytest.mark.parametrize(
    ("args", "expected", "path"),
    [
        ({"a": float("nan")}, "nan is not a JSON number", "$.a"),
        ({"a": float("inf")}, "inf is not a JSON number", "$.a"),
        ({"a": {1: "x"}}, "object key 1 is not a string", "$.a"),
        ({"a": [1, object()]}, "object is not a JSON value", "$.a[1]"),
        ({"a": ("t",)}, "tuple is not a JSON value", "$.a"),
        ({"a": {"b": {"c": {"d": {}}}}}, "nested deeper than max_depth", "$.a.b.c.d"),
        ({"odd key": "x" * 60}, "longer than max_string_length", '$["odd key"]'),
        ({"a": "\udc80"}, "lone surrogate", "$.a"),
        ({"a": ["x" * 45] * 30}, "more than max_arg_bytes", None),
    ],
)
def test_decoded_arguments_are_checked(args: object, expected: str, path: str | None) -> None:
    with pytest.raises(InputRejected) as info:
        check_arguments(args, LIMITS)
    assert expected in info.value.message
    assert info.value.path == path


@pytest.mark.parametrize(
    ("tool", "expected"),
    [
        (None, "must be a string"),
        (3, "must be a string"),
        ("", "empty"),
        ("x" * 257, "longer than 256"),
        ("fs.read\n", "whitespace or control"),
        ("fs read", "whitespace or control"),
        ("fs.read\u202e", "whitespace or control"),
    ],
)
def test_tool_names_are_plain_strings(tool: object, expected: str) -> None:
    with pytest.raises(InputRejected, match=expected):
        check_tool_name(tool)


def test_every_strict_input_rejection_blocks_through_the_engine(
    demo_schemas: SchemaRegistry,
) -> None:
    firewall = Firewall(schemas=demo_schemas, limits=LIMITS)
    caller = Caller(sub="a", tools=("*",))
    for raw in ['{"path": "a", "path": "b"}', '{"path": NaN}', '{"path": "a"} x', "[]"]:
        decision = firewall.decide(ToolCall(tool="fs.read", args=raw), caller=caller)
        assert decision.action is Action.BLOCK
        assert decision.reasons[0].kind is ReasonKind.STRICT_INPUT
        assert decision.args is None


def test_tool_names_are_matched_exactly(demo_schemas: SchemaRegistry) -> None:
    firewall = Firewall(schemas=demo_schemas)
    caller = Caller(sub="a", tools=("*",))
    # Case, full-width and compatibility forms are different tools, and unknown ones.
    for name in ["FS.read", "fs.READ", "ｆｓ.read", "fs\u2024read", "fs.read "]:
        decision = firewall.decide({"tool": name, "args": {"path": "/srv/workspace/a"}}, caller)
        assert decision.action is Action.BLOCK, name
    ok = firewall.decide({"tool": "fs.read", "args": {"path": "/srv/workspace/a"}}, caller)
    assert ok.action is Action.ALLOW
