"""Argument text as providers send it, often malformed on purpose."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from toolwall.testing.strategies.common import HintsLike, SchemaLike
from toolwall.testing.strategies.tricks import tricky_strings
from toolwall.testing.strategies.valid import arguments, json_values

# -- raw JSON text -------------------------------------------------------------------------------


def raw_json_arguments(
    schema: SchemaLike | None = None, *, hints: HintsLike = None
) -> st.SearchStrategy[str]:
    """Argument text as a provider sends it: valid JSON of valid arguments, and malformed or
    ambiguous text (duplicate keys, NaN, trailing data, truncation, non-objects, deep nesting,
    lone surrogates, numbers too long to convert)."""
    base: st.SearchStrategy[dict[str, Any]] = (
        arguments(schema, hints=hints)
        if schema is not None
        else st.dictionaries(st.text(max_size=6), json_values(6), max_size=3)
    )
    fixed = st.sampled_from(
        [
            "",
            " ",
            "null",
            "[]",
            '"{}"',
            "{",
            "{}}",
            "{} {}",
            "{'a': 1}",
            '{"a": 1,}',
            '{"a": NaN}',
            '{"a": Infinity}',
            '{"a": -Infinity}',
            '{"a": 1e999}',
            '{"a": ' + "1" * 5000 + "}",
            '{"a": "\\ud800"}',
            '{"a": "\x01"}',
            "\ufeff{}",
            '{"a": 1} // comment',
            "[" * 2000 + "]" * 2000,
            '{"a":' * 200 + "1" + "}" * 200,
        ]
    )

    @st.composite
    def from_args(draw: st.DrawFn) -> str:
        args = draw(base)
        text = json.dumps(args, ensure_ascii=draw(st.booleans()))
        how = draw(st.sampled_from(["as is", "duplicate", "truncate", "trailing", "nan"]))
        if how == "as is" or not args:
            return text
        key = draw(st.sampled_from(sorted(args)))
        if how == "duplicate":
            other = draw(st.sampled_from([None, "x", 0, True]) | tricky_strings(hints))
            return text[:-1] + ", " + json.dumps(key) + ": " + json.dumps(other) + "}"
        if how == "truncate":
            return text[: draw(st.integers(0, max(len(text) - 1, 0)))]
        if how == "trailing":
            return text + draw(st.sampled_from([" x", "{}", ",", "\x00", "]"]))
        return text[:-1] + ", " + json.dumps(key + "_") + ": NaN}"

    return st.one_of(from_args(), fixed)
