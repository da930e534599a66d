"""Findings about rule files, rendered like a compiler's: location, source line, caret, message."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from toolwall.policy.ast import Loc

Severity = Literal["error", "warning"]

_MAX_SHOWN = 160


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding: an error stops the policy from loading, a warning does not."""

    severity: Severity
    file: str
    line: int
    col: int
    message: str
    source_line: str = ""
    width: int = 1
    caret_col: int = 0  # the column within `source_line` when it is an excerpt; 0: `col`

    @classmethod
    def at(cls, severity: Severity, loc: Loc, message: str, source: str) -> Diagnostic:
        """A diagnostic at `loc`, taking the source line from `source` (the whole file text)."""
        lines = source.splitlines()
        text = lines[loc.line - 1] if 0 < loc.line <= len(lines) else ""
        width = 1
        if loc.end_line == loc.line and loc.end_col > loc.col:
            width = loc.end_col - loc.col
        caret_col = 0
        if len(text) > _MAX_SHOWN:
            # Show an excerpt around the spot: a generated one-line policy can be megabytes.
            start = max(0, loc.col - 1 - _MAX_SHOWN // 2)
            excerpt = text[start : start + _MAX_SHOWN]
            caret_col = loc.col - start
            if start > 0:
                excerpt, caret_col = "…" + excerpt, caret_col + 1
            if start + _MAX_SHOWN < len(text):
                excerpt += "…"
            text = excerpt
        return cls(severity, loc.file, loc.line, loc.col, message, text, width, caret_col)

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def caret(self) -> str:
        """Spaces up to the column, then `^` under the spot (tabs kept, so it lines up)."""
        col = self.caret_col or self.col
        prefix = "".join("\t" if ch == "\t" else " " for ch in self.source_line[: col - 1])
        width = max(1, min(self.width, len(self.source_line) - col + 1))
        return prefix + "^" * width

    def render(self) -> str:
        """`file:line:col: error: message`, the source line and a caret under the spot."""
        head = f"{self.location}: {self.severity}: {self.message}"
        if not self.source_line and self.line == 0:
            return head
        gutter = f"{self.line:>4} | "
        blank = " " * (len(gutter) - 2) + "| "
        return f"{head}\n{gutter}{self.source_line}\n{blank}{self.caret()}"

    def __str__(self) -> str:
        return self.render()


@dataclass
class Findings:
    """The diagnostics a check collects, each with its line of `sources` (file name -> text)."""

    sources: Mapping[str, str]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    errors: int = 0

    def error(self, loc: Loc, message: str) -> None:
        self.errors += 1
        self.diagnostics.append(
            Diagnostic.at("error", loc, message, self.sources.get(loc.file, ""))
        )

    def warning(self, loc: Loc, message: str) -> None:
        self.diagnostics.append(
            Diagnostic.at("warning", loc, message, self.sources.get(loc.file, ""))
        )


def sort_key(diagnostic: Diagnostic) -> tuple[str, int, int, str]:
    return (diagnostic.file, diagnostic.line, diagnostic.col, diagnostic.message)


def summary(diagnostics: list[Diagnostic], more_warnings: int = 0) -> str:
    errors = sum(1 for d in diagnostics if d.is_error)
    warnings = len(diagnostics) - errors + more_warnings
    return f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
