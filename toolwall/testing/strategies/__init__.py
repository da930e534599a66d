"""Hypothesis strategies for testing policies and code that uses toolwall.

    from hypothesis import given
    from toolwall.testing import strategies as tws

    @given(call=tws.near_valid_calls(schemas.get("fs.read")), caller=tws.callers(["fs.*"]))
    def test_never_reads_outside_the_workspace(call, caller): ...

- `arguments` / `tool_calls`: calls that satisfy the tool's JSON Schema (hypothesis-jsonschema,
  with a fallback for schemas it cannot handle);
- `near_valid_arguments` / `near_valid_calls`: one field mutated (wrong type, boundary numbers,
  extra or missing keys, huge or deeply nested values, Unicode confusables, bidi and control
  characters, NUL, path traversal and URL tricks), so they probe the edges of schema and rules;
- `raw_json_arguments`: argument text as providers send it, often malformed on purpose;
- `callers`: callers with random grants (exact names and globs) and groups;
- `session_histories`: earlier calls of a session, with results for taint sources;
- `tricky_strings`: the string mutations on their own.

Every strategy takes optional `hints` (a `Hints`, or literal strings): values the policy
mentions, which generated strings and numbers are aimed at (see `toolwall.testing.hints`).
"""

from toolwall.testing.hints import Hints
from toolwall.testing.strategies.near_valid import near_valid_arguments, near_valid_calls
from toolwall.testing.strategies.raw import raw_json_arguments
from toolwall.testing.strategies.sessions import callers, grant_patterns, session_histories
from toolwall.testing.strategies.tricks import hint_variants, tricky_strings
from toolwall.testing.strategies.valid import arguments, json_values, tool_calls

__all__ = [
    "Hints",
    "arguments",
    "callers",
    "grant_patterns",
    "hint_variants",
    "json_values",
    "near_valid_arguments",
    "near_valid_calls",
    "raw_json_arguments",
    "session_histories",
    "tool_calls",
    "tricky_strings",
]
