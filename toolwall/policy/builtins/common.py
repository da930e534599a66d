"""What every builtin function shares: argument checks, how values appear in messages, caching.

Every builtin is pure, total on `str` (it returns a value or raises `BuiltinError`, nothing
else), runs in time linear in its input, and never touches the network or the file system.
"""

from __future__ import annotations

from typing import Final

from toolwall.policy.errors import BuiltinError

# Inputs up to this many characters are cached; longer ones (rare, and expensive to keep) are
# computed each time. The caches are bounded, so memory stays bounded whatever callers send.
CACHE_INPUT_LIMIT: Final = 2048
CACHE_SIZE: Final = 4096

DEC_DIGITS: Final = frozenset("0123456789")


def expect_str(value: object, function: str, what: str = "a string") -> str:
    """`value` when it is a string, else `BuiltinError` naming the function and what it wants."""
    if not isinstance(value, str):
        raise BuiltinError(f"{function}() expects {what}, not {type(value).__name__}")
    return value


def show(value: str, limit: int = 60) -> str:
    """`value` for an error message: repr'd (so control characters are visible) and shortened."""
    if len(value) > limit:
        return repr(value[:limit]) + "..."
    return repr(value)
