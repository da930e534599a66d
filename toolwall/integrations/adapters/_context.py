"""Who is calling, read from the application's run context, never from the model's messages.

Frameworks hand every tool hook an object the application chose: the Agents SDK's
`RunContextWrapper.context`, Pydantic AI's `RunContext.deps`. toolwall reads three names from it,
as attributes or as mapping keys:

- `toolwall_caller`: a `Caller` the application built itself, or
- `toolwall_token`: a JWT for the firewall's `[identity]` verifier (one of the two, not both);
- `toolwall_session`: the session id (a run, thread or conversation id).

An object that has none of the three leaves the identity to `Firewall.acting_as(...)` around the
run, or to nobody (the anonymous caller, granted nothing). A value of the wrong type is a
programming error in the application and raises `TypeError`; it never widens what is allowed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import toolwall.context as context
from toolwall.context import Identity
from toolwall.model import Caller

CALLER = "toolwall_caller"
TOKEN = "toolwall_token"
SESSION = "toolwall_session"
_MISSING = object()

IdentitySource = Callable[[Any], object]
"""Builds, from the framework's run context, an object with the names above (or a mapping)."""

ToolNames = Mapping[str, str] | Callable[[str], str] | None
"""How a framework's tool name becomes toolwall's: a mapping (unlisted names stay as they are),
a function, or None for the same name. Provider APIs refuse dots in tool names, so `email_send`
on the wire is typically `email.send` in the policy."""


def identity_of(source: object) -> Identity:
    """The caller, token and session that `source` carries (see the module docstring)."""
    caller = _read(source, CALLER)
    token = _read(source, TOKEN)
    session = _read(source, SESSION)
    if caller is _MISSING and token is _MISSING and session is _MISSING:
        return context.current()
    caller = None if caller is _MISSING else caller
    token = None if token is _MISSING else token
    session = None if session is _MISSING else session
    if caller is not None and not isinstance(caller, Caller):
        raise TypeError(f"{CALLER} must be a toolwall.Caller, not {type(caller).__name__}")
    if token is not None and not isinstance(token, str):
        raise TypeError(f"{TOKEN} must be a str (a JWT), not {type(token).__name__}")
    if session is not None and not isinstance(session, str):
        raise TypeError(f"{SESSION} must be a str, not {type(session).__name__}")
    return Identity(caller=caller, token=token, session=session)


def name_mapper(names: ToolNames) -> Callable[[str], str]:
    if names is None:
        return _same
    if isinstance(names, Mapping):
        table = dict(names)
        return lambda name: table.get(name, name)
    return names


def _same(name: str) -> str:
    return name


def _read(source: object, name: str) -> Any:
    if source is None:
        return _MISSING
    if isinstance(source, Mapping):
        return source.get(name, _MISSING)
    return getattr(source, name, _MISSING)
