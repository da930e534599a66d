"""Redaction: sensitive argument values replaced with `"[redacted]"` before a record is written.

`redact_keys` match object keys at any depth, case-insensitively; `redact_paths` are JSON paths
from the top of the arguments (`$.card.number`, `$.items[*].secret`, `$.rows[0]`,
`$['odd-key']`, `.*`). A value redacted from the arguments is also scrubbed from the record's
reason messages, where a rule's `because` may have interpolated it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from toolwall.errors import ToolwallError

REDACTED = "[redacted]"
DEFAULT_REDACT_KEYS = ("password", "token", "secret")

_WILDCARD = object()
_PATH_TOKEN = re.compile(
    r"""\.(?P<name>[A-Za-z_$][\w$-]*)
      | \.\*
      | \[\s*(?:(?P<index>-?\d+)|(?P<star>\*)
              |'(?P<sq>(?:[^'\\]|\\.)*)'
              |"(?P<dq>(?:[^"\\]|\\.)*)")\s*\]
    """,
    re.VERBOSE,
)

PathSegment = str | int | object


class RedactPathError(ToolwallError, ValueError):
    """A `redact_paths` entry that is not a JSON path the redactor reads; says where."""


def parse_redact_path(path: str) -> tuple[PathSegment, ...]:
    """`$.card.number`, `$.items[*].secret`, `$.rows[0]`, `$['odd-key']` -> path segments.

    Raises `RedactPathError` saying where the path cannot be read.
    """
    text = path.strip()
    if not text.startswith("$"):
        raise RedactPathError(f"redact path {path!r} must start with $")
    segments: list[PathSegment] = []
    pos = 1
    while pos < len(text):
        match = _PATH_TOKEN.match(text, pos)
        if match is None:
            raise RedactPathError(
                f"redact path {path!r}: cannot read {text[pos:]!r} (column {pos + 1})"
            )
        if match.group("name") is not None:
            segments.append(match.group("name"))
        elif match.group("index") is not None:
            segments.append(int(match.group("index")))
        elif match.group("star") is not None or match.group(0) == ".*":
            segments.append(_WILDCARD)
        else:
            quoted = match.group("sq") if match.group("sq") is not None else match.group("dq")
            segments.append(re.sub(r"\\(.)", r"\1", quoted))
        pos = match.end()
    return tuple(segments)


class Redactor:
    """Replaces sensitive values in arguments with `"[redacted]"`, copying only what changes.

    `keys` match object keys at any depth, case-insensitively; `paths` are JSON paths from the
    top of the arguments (`$.card.number`, `$.items[*].secret`). Arguments without a sensitive
    field are returned as the very same object.
    """

    __slots__ = ("_screen", "keys", "paths")

    def __init__(self, keys: Iterable[str] = DEFAULT_REDACT_KEYS, paths: Iterable[str] = ()):
        self.keys = frozenset(k.lower() for k in keys)
        self.paths = tuple(parse_redact_path(p) for p in paths)
        # Keys that JSON writes as themselves can be looked for in the encoded arguments.
        plain = all(_written_as_is(k) for k in self.keys)
        self._screen = tuple(sorted(self.keys)) if plain else None

    def __call__(self, value: Any, encoded: str | None = None) -> Any:
        """`value` with sensitive fields redacted.

        `encoded` may be the ASCII canonical JSON of `value` when it has no `\\u` escape: then
        a key that does not occur in it at all cannot match, and the walk is skipped.
        """
        if self.keys:
            screen = self._screen
            if encoded is None or screen is None:
                value = self._by_key(value)
            else:
                lowered = encoded.lower()
                for key in screen:  # a loop, not any(): no generator on every call
                    if key in lowered:
                        value = self._by_key(value)
                        break
        for path in self.paths:
            value = _redact_path(value, path, 0)
        return value

    def _by_key(self, value: Any) -> Any:
        if isinstance(value, dict):
            out: dict[str, Any] | None = None
            keys = self.keys
            for key, item in value.items():
                new = REDACTED if key.lower() in keys else self._by_key(item)
                if new is not item:
                    if out is None:
                        out = dict(value)
                    out[key] = new
            return value if out is None else out
        if isinstance(value, list):
            copy: list[Any] | None = None
            for i, item in enumerate(value):
                new = self._by_key(item)
                if new is not item:
                    if copy is None:
                        copy = list(value)
                    copy[i] = new
            return value if copy is None else copy
        return value


def _written_as_is(key: str) -> bool:
    """Whether canonical ASCII JSON writes `key` unchanged (no escapes)."""
    return key.isascii() and key.isprintable() and '"' not in key and "\\" not in key


def _redact_path(value: Any, path: tuple[PathSegment, ...], depth: int) -> Any:
    if depth == len(path):
        return REDACTED
    segment = path[depth]
    if isinstance(value, dict):
        if segment is _WILDCARD:
            keys: Iterable[Any] = list(value)
        elif isinstance(segment, str) and segment in value:
            keys = (segment,)
        else:
            return value
        out: dict[str, Any] | None = None
        for key in keys:
            new = _redact_path(value[key], path, depth + 1)
            if new is not value[key]:
                if out is None:
                    out = dict(value)
                out[key] = new
        return value if out is None else out
    if isinstance(value, list):
        if segment is _WILDCARD:
            indexes: Iterable[int] = range(len(value))
        elif isinstance(segment, int) and -len(value) <= segment < len(value):
            indexes = (segment % len(value),)
        else:
            return value
        copy: list[Any] | None = None
        for i in indexes:
            new = _redact_path(value[i], path, depth + 1)
            if new is not value[i]:
                if copy is None:
                    copy = list(value)
                copy[i] = new
        return value if copy is None else copy
    return value


def redacted_strings(original: Any, redacted: Any, out: list[str]) -> None:
    """Add to `out` the string values redaction removed from `original` (to scrub them from
    reason messages too)."""
    if redacted is original:
        return
    if isinstance(redacted, str) and redacted == REDACTED:
        _strings(original, out)
    elif isinstance(original, dict) and isinstance(redacted, dict):
        for key, item in original.items():
            redacted_strings(item, redacted.get(key), out)
    elif isinstance(original, list) and isinstance(redacted, list):
        for a, b in zip(original, redacted, strict=False):
            redacted_strings(a, b, out)


def _strings(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        if len(value) >= 4:  # shorter values would scrub ordinary words from messages
            out.append(value)
    elif isinstance(value, dict):
        for item in value.values():
            _strings(item, out)
    elif isinstance(value, list):
        for item in value:
            _strings(item, out)


def scrub(reason: dict[str, Any], secrets: Sequence[str]) -> dict[str, Any]:
    """`reason` (as a dict) with every secret in its message replaced by `[redacted]`."""
    message = reason["message"]
    for secret in secrets:
        if secret in message:
            message = message.replace(secret, REDACTED)
    return reason if message == reason["message"] else {**reason, "message": message}
