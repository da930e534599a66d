"""The identity and session that guarded code runs under, set by the application.

Adapters and `Firewall.guard` read it from here, never from what the model wrote.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from toolwall.model import Caller


@dataclass(frozen=True, slots=True)
class Identity:
    caller: Caller | None = None
    token: str | None = None
    session: str | None = None


_NOBODY = Identity()
_current: ContextVar[Identity | None] = ContextVar("toolwall_identity", default=None)


def current() -> Identity:
    return _current.get() or _NOBODY


@contextmanager
def identity(
    caller: Caller | None = None, token: str | None = None, session: str | None = None
) -> Iterator[Identity]:
    value = Identity(caller=caller, token=token, session=session)
    reset = _current.set(value)
    try:
        yield value
    finally:
        _current.reset(reset)
