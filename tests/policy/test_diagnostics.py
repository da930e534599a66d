"""Diagnostics rendered like a compiler's, and the findings a check collects."""

from __future__ import annotations

from toolwall.policy.ast import Loc
from toolwall.policy.diagnostics import Diagnostic, Findings, summary


def test_a_diagnostic_points_under_the_spot_with_tabs_kept() -> None:
    source = "rule r:\n\ton t when x block\n"
    diagnostic = Diagnostic.at("error", Loc("p.tw", 2, 11, 2, 12), "unknown name `x`", source)
    assert diagnostic.render() == (
        "p.tw:2:11: error: unknown name `x`\n   2 | \ton t when x block\n     | \t         ^"
    )


def test_a_long_line_is_shown_as_an_excerpt_around_the_spot() -> None:
    source = "let x = [" + "1, " * 1000 + "@]"
    col = source.index("@") + 1
    diagnostic = Diagnostic.at("error", Loc("p.tw", 1, col), "unexpected `@`", source)
    assert len(diagnostic.source_line) < 200 and diagnostic.source_line.startswith("…")
    assert diagnostic.source_line[diagnostic.caret().index("^")] == "@"


def test_findings_count_errors_and_keep_warnings() -> None:
    findings = Findings({"p.tw": "let a = 1\n"})
    findings.warning(Loc("p.tw", 1, 5), "a warning")
    findings.error(Loc("p.tw", 1, 9), "an error")
    assert findings.errors == 1
    assert [d.severity for d in findings.diagnostics] == ["warning", "error"]
    assert findings.diagnostics[1].source_line == "let a = 1"
    assert summary(findings.diagnostics, more_warnings=1) == "1 error, 2 warnings"
