"""The first stage: turn whatever the model proposed into checked, plain JSON arguments.

Raw argument text is parsed strictly (no duplicate keys, no NaN/Infinity, nothing after the
value, an object at the top) and every argument, raw or already decoded, is checked against the
configured limits before any later stage touches it. Problems raise `InputRejected`, which the
engine turns into a `block` with the reason and the JSON path.
"""

from __future__ import annotations

import json
import math
from typing import Any

from toolwall.config import Limits
from toolwall.errors import InputRejected


def parse_arguments(raw: str | bytes, limits: Limits) -> dict[str, Any]:
    """Parse raw JSON argument text strictly and check it against `limits`."""
    if isinstance(raw, bytes):
        if len(raw) > limits.max_arg_bytes:
            raise _too_big(len(raw), limits)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputRejected(f"arguments are not valid UTF-8 (byte {exc.start})") from None
    else:
        text = raw
        # UTF-8 never has fewer bytes than characters, so the cheap test comes first.
        if len(text) > limits.max_arg_bytes:
            raise _too_big(len(text), limits)
        if not text.isascii():
            try:
                size = len(text.encode("utf-8"))
            except UnicodeEncodeError:
                raise InputRejected(
                    "arguments contain a lone surrogate (not valid Unicode)"
                ) from None
            if size > limits.max_arg_bytes:
                raise _too_big(size, limits)
    try:
        value = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constants)
    except InputRejected:
        raise
    except RecursionError:
        raise InputRejected(
            f"arguments are nested deeper than max_depth ({limits.max_depth})"
        ) from None
    except json.JSONDecodeError as exc:
        what = "trailing data after the JSON value" if exc.msg == "Extra data" else exc.msg.lower()
        raise InputRejected(
            f"arguments are not valid JSON: {what} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except ValueError as exc:  # e.g. an integer with more digits than Python will convert
        raise InputRejected(f"arguments are not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InputRejected(f"arguments must be a JSON object, not {_json_type(value)}")
    check_arguments(value, limits, measure_size=False)
    return value


def check_arguments(args: Any, limits: Limits, *, measure_size: bool = True) -> dict[str, Any]:
    """Check decoded arguments: JSON types only, finite numbers, valid Unicode, within limits.

    For arguments that arrived decoded, `measure_size` estimates their compact JSON size (string
    lengths plus punctuation, escapes not counted) and holds it to `max_arg_bytes`.
    """
    checked, _ = checked_arguments(args, limits, measure_size=measure_size)
    return checked


def checked_arguments(
    args: Any, limits: Limits, *, measure_size: bool = True
) -> tuple[dict[str, Any], bool]:
    """`check_arguments`, and whether the arguments are made of exactly the types JSON decodes
    to (no subclasses), which lets the schema stage take its compiled fast path."""
    if not isinstance(args, dict):
        raise InputRejected(f"arguments must be a JSON object, not {_json_type(args)}")
    plain = True
    try:
        size = _quick_walk(args, 1, limits.max_depth, limits.max_string_length)
    except _Slow:
        # Something to report, or a type the quick walk does not know: the full walk finds the
        # problem and its JSON path (or accepts, with the same size).
        plain = False
        size = _walk(args, "$", 1, limits)
    if measure_size and size > limits.max_arg_bytes:
        raise _too_big(size, limits)
    return args, plain


class _Slow(Exception):
    """The quick walk met something only the full walk can judge or describe."""


_BIG = 10**19


def _quick_walk(value: Any, depth: int, max_depth: int, max_string: int) -> int:
    """`_walk` for the common case, without building JSON paths: exact JSON types only, no
    problem found. Returns the same size; raises `_Slow` for anything else."""
    kind = type(value)
    if kind is str:
        if len(value) > max_string:
            raise _Slow
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise _Slow from None
        return len(value) + 2
    if kind is int:
        return 20 if -_BIG < value < _BIG else len(str(value))
    if kind is bool or value is None:
        return 5
    if kind is float:
        if not math.isfinite(value):
            raise _Slow
        return 24
    if depth > max_depth:
        raise _Slow
    if kind is dict:
        size = 2
        for key, item in value.items():
            if type(key) is not str or len(key) > max_string:
                raise _Slow
            if not key.isascii():
                try:
                    key.encode("utf-8")
                except UnicodeEncodeError:
                    raise _Slow from None
            size += len(key) + 4 + _quick_walk(item, depth + 1, max_depth, max_string)
        return size
    if kind is list:
        size = 2
        for item in value:
            size += 1 + _quick_walk(item, depth + 1, max_depth, max_string)
        return size
    raise _Slow


def _walk(value: Any, path: str, depth: int, limits: Limits) -> int:
    """Check one value and everything inside it; return its approximate JSON size."""
    if isinstance(value, str):
        _check_string(value, path, limits)
        return len(value) + 2
    if value is None or value is True or value is False:
        return 5
    if isinstance(value, int):
        return 20 if -(10**19) < value < 10**19 else len(str(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputRejected(f"{value} is not a JSON number", path)
        return 24
    if depth > limits.max_depth:
        raise InputRejected(
            f"arguments are nested deeper than max_depth ({limits.max_depth})", path
        )
    if isinstance(value, dict):
        size = 2
        for key, item in value.items():
            if not isinstance(key, str):
                raise InputRejected(f"object key {key!r} is not a string", path)
            _check_string(key, path, limits)
            child = f"{path}.{key}" if key.isidentifier() else f"{path}[{json.dumps(key)}]"
            size += len(key) + 4 + _walk(item, child, depth + 1, limits)
        return size
    if isinstance(value, list):
        size = 2
        for index, item in enumerate(value):
            size += 1 + _walk(item, f"{path}[{index}]", depth + 1, limits)
        return size
    raise InputRejected(f"{type(value).__name__} is not a JSON value", path)


def _check_string(value: str, path: str, limits: Limits) -> None:
    if len(value) > limits.max_string_length:
        raise InputRejected(
            f"a string of {len(value)} characters is longer than max_string_length "
            f"({limits.max_string_length})",
            path,
        )
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InputRejected(
                "string contains a lone surrogate (not valid Unicode)", path
            ) from None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise InputRejected(f"duplicate key {json.dumps(key)} in arguments")
            seen.add(key)
    return result


def _no_constants(name: str) -> Any:
    raise InputRejected(f"{name} is not valid JSON (NaN and Infinity are refused)")


def _too_big(size: int, limits: Limits) -> InputRejected:
    return InputRejected(
        f"arguments are {size} bytes, more than max_arg_bytes ({limits.max_arg_bytes})"
    )


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return type(value).__name__
