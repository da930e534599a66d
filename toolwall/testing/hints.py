"""What a policy talks about: its literals, per tool, to aim generated calls at its edges.

A rule like `unless path(args.path) under workspace` with `let workspace = "/srv/workspace"` is
wrong exactly at values near "/srv/workspace" (`/srv/workspace2/x`, `/srv/workspace/../etc`).
Random strings almost never land there, so the strategies mix in variants of the literals that
the rules covering a tool mention: strings, numbers (`args.limit > 100` -> 99, 100, 101),
regexes (`matches /rm -rf/` -> strings that match) and, through `let` names, the literals
those names are bound to.

The rule files are scanned with a small tokenizer, not the rule-language parser: hints only
bias generation, so a file the scanner misreads costs some aim, never a wrong verdict.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from toolwall.patterns import matches

_TOKEN = re.compile(
    r"""
      (?P<comment>\#[^\n]*)
    | (?P<string>"(?:[^"\\\n]|\\.)*")
    | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
    | (?P<name>[A-Za-z_*][A-Za-z0-9_.*-]*)
    | (?P<slash>/)
    | (?P<space>\s+)
    | (?P<other>.)
    """,
    re.VERBOSE,
)
_REGEX_BODY = re.compile(r"/((?:[^/\\\n]|\\.)+)/([a-z]*)")
_STATEMENTS = {"rule", "let", "taint", "assert"}
_CLAUSES = {"when", "unless", "block", "escalate", "rewrite", "drop", "because"}
# A `/` after one of these starts a regex literal; after a value it divides.
_VALUE_ENDS = {"number", "string", "name", "close"}
_OPERATOR_WORDS = {
    *_CLAUSES,
    *("matches", "in", "and", "or", "not", "startswith", "endswith", "contains", "under"),
}

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Hints:
    """Literals to aim generated values at. Empty hints leave generation unbiased."""

    strings: tuple[str, ...] = ()
    numbers: tuple[float, ...] = ()
    regexes: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    """Top-level argument names the rules read (`args.path` -> "path"): where to aim."""

    def __bool__(self) -> bool:
        return bool(self.strings or self.numbers or self.regexes)

    def __or__(self, other: Hints) -> Hints:
        return Hints(
            strings=_unique((*self.strings, *other.strings)),
            numbers=_unique((*self.numbers, *other.numbers)),
            regexes=_unique((*self.regexes, *other.regexes)),
            fields=_unique((*self.fields, *other.fields)),
        )

    @classmethod
    def of(cls, value: Hints | Iterable[str] | None) -> Hints:
        if value is None:
            return cls()
        if isinstance(value, Hints):
            return value
        return cls(strings=_unique(tuple(value)))


@dataclass(slots=True)
class _Statement:
    kind: str
    name: str | None = None
    patterns: list[str] = field(default_factory=list)
    hints: Hints = field(default_factory=Hints)
    names: set[str] = field(default_factory=set)
    counted: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PolicyHints:
    """The literals of a policy, by the tool patterns of the rules and assertions using them."""

    scoped: tuple[tuple[tuple[str, ...], Hints], ...] = ()
    everything: Hints = Hints()
    taint_sources: tuple[str, ...] = ()
    counted: tuple[str, ...] = ()

    def for_tool(self, tool: str) -> Hints:
        """The hints of the rules and assertions covering `tool`."""
        found = Hints()
        for patterns, hints in self.scoped:
            if any(matches(p, tool) for p in patterns):
                found = found | hints
        return found

    @classmethod
    def from_files(cls, paths: Iterable[str | Path]) -> PolicyHints:
        """Scan `.tw` files (folders are searched for `*.tw`)."""
        texts = []
        for raw in paths:
            path = Path(raw)
            files = sorted(path.rglob("*.tw")) if path.is_dir() else [path]
            for file in files:
                try:
                    texts.append(file.read_text(encoding="utf-8"))
                except (OSError, UnicodeDecodeError):
                    continue
        return cls.from_sources(texts)

    @classmethod
    def from_sources(cls, sources: Sequence[str]) -> PolicyHints:
        statements = [s for source in sources for s in _statements(source)]
        lets = {s.name: s for s in statements if s.kind == "let" and s.name}
        scoped = []
        everything = Hints()
        taints: list[str] = []
        counted: list[str] = []
        for statement in statements:
            hints = statement.hints
            for name in statement.names:
                if name in lets:
                    hints = hints | lets[name].hints
            everything = everything | hints
            counted.extend(statement.counted)
            if statement.kind == "taint":
                taints.extend(statement.patterns)
            elif statement.kind in ("rule", "assert") and statement.patterns:
                scoped.append((tuple(statement.patterns), hints))
        return cls(
            scoped=tuple(scoped),
            everything=everything,
            taint_sources=_unique(tuple(taints)),
            counted=_unique(tuple(counted)),
        )


def _tokens(source: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    previous = ""
    while position < len(source):
        if source[position] == "/" and previous not in _VALUE_ENDS:
            regex = _REGEX_BODY.match(source, position)
            if regex is not None:
                tokens.append(("regex", regex.group(1)))
                previous = "string"
                position = regex.end()
                continue
        match = _TOKEN.match(source, position)
        if match is None:  # unreachable: `other` matches any character
            break
        kind = match.lastgroup or "other"
        text = match.group()
        position = match.end()
        if kind in ("comment", "space"):
            continue
        if kind == "other" and text in ")]":
            kind = "close"
        tokens.append((kind, text))
        previous = "operator" if kind == "name" and text in _OPERATOR_WORDS else kind
    return tokens


def _statements(source: str) -> list[_Statement]:
    statements: list[_Statement] = []
    current: _Statement | None = None
    in_patterns = False
    skip_next_string = False
    tokens = _tokens(source)
    for index, (kind, text) in enumerate(tokens):
        if kind == "name" and text in _STATEMENTS:
            current = _Statement(kind=text)
            statements.append(current)
            in_patterns = text == "taint"
            continue
        if current is None:
            continue
        if kind == "name" and current.name is None and current.kind in ("rule", "let"):
            current.name = text
            continue
        if (kind == "name" and text == "on") or (
            current.kind == "assert" and kind == "name" and text == "never"
        ):
            in_patterns = True
            continue
        if kind == "name" and (text in _CLAUSES):
            in_patterns = False
            skip_next_string = text == "because"
            continue
        if in_patterns:
            if kind == "name" and text not in ("allow", "rewrite", "escalate", "block"):
                current.patterns.append(text)
            continue
        if kind == "string":
            value = _unquote(text)
            if skip_next_string:
                skip_next_string = False
                continue
            if _called_by(tokens, index, ("count", "called")):
                current.counted.append(value)
                continue
            current.hints = current.hints | Hints(strings=(value,))
        elif kind == "number":
            current.hints = current.hints | Hints(numbers=(float(text),))
        elif kind == "regex":
            current.hints = current.hints | Hints(regexes=(text,))
        elif kind == "name" and text.startswith("args."):
            field_name = text.split(".")[1]
            if field_name:
                current.hints = current.hints | Hints(fields=(field_name,))
        elif kind == "name":
            current.names.add(text)
    return statements


def _called_by(tokens: list[tuple[str, str]], index: int, functions: tuple[str, ...]) -> bool:
    return (
        index >= 2
        and tokens[index - 1] == ("other", "(")
        and tokens[index - 2][0] == "name"
        and tokens[index - 2][1] in functions
    )


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


def _unique(values: tuple[T, ...]) -> tuple[T, ...]:
    return tuple(dict.fromkeys(values))
