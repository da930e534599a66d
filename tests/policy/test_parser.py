"""Text to syntax tree: the parser raises only `ParseError`, whatever the text."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from tests.policy.strategies import source_text
from toolwall.policy import ParseError, parse_text

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(source_text)
def test_the_parser_raises_only_its_own_error(text: str) -> None:
    try:
        module = parse_text(text, "fuzz.tw")
    except ParseError as exc:
        assert exc.diagnostics
        for diagnostic in exc.diagnostics:
            assert diagnostic.line >= 1 and diagnostic.col >= 1
            assert diagnostic.render().startswith("fuzz.tw:")
    else:
        assert module.file == "fuzz.tw"


def test_deep_nesting_is_handled() -> None:
    for text in ("let x = " + "(" * 5000 + "1" + ")" * 5000, "let x = " + "-" * 20000 + "1"):
        with pytest.raises(ParseError, match="expression nested too deeply") as info:
            parse_text(text, "deep.tw")
        assert len(info.value.diagnostics[0].source_line) < 200  # an excerpt, not the line
