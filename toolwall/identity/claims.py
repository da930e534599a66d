"""The claims of a verified token: the registered ones checked, the rest mapped to a `Caller`.

    exp (required) / nbf / iat with leeway -> aud (exactly the configured audience) -> iss
    -> sub (required) -> groups, tools and `scope` `tool:` entries, session (names configurable)

Claims fail closed: `tools`/`groups` must be lists of non-empty strings, `scope` a string or a
list of strings, the session a non-empty string; anything else refuses the whole token.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from toolwall.config import ClaimNames
from toolwall.identity.refusals import (
    InvalidClaim,
    MissingClaim,
    MissingExpiry,
    TokenExpired,
    TokenNotYetValid,
    WrongAudience,
    WrongIssuer,
    shown,
)
from toolwall.model import Caller


def check_registered_claims(
    payload: Mapping[str, Any], now: float, *, leeway: float, audience: str, issuer: str | None
) -> tuple[float, float]:
    """exp (required), nbf and iat with `leeway` seconds, aud, iss, sub. Returns the window
    [not_before, expires) in which the token is valid, for the cache."""
    if payload.get("exp") is None:
        raise MissingExpiry("the token has no exp claim; tokens that never expire are refused")
    exp = _numeric(payload, "exp")
    if exp <= now - leeway:
        raise TokenExpired(f"expired at {_when(exp)} (leeway {leeway:g} s)")
    not_before = -math.inf
    for name in ("nbf", "iat"):
        if payload.get(name) is None:
            continue
        value = _numeric(payload, name)
        if value > now + leeway:
            raise TokenNotYetValid(f"not valid before {_when(value)} ({name}; leeway {leeway:g} s)")
        not_before = max(not_before, value - leeway)
    aud = payload.get("aud")
    if aud is None:
        raise WrongAudience(f"the token has no aud claim; it must be {audience!r}")
    if aud != audience:
        # A list, even one that contains our audience, is refused: such a token is also
        # meant for another service, which could replay it here.
        if isinstance(aud, list) and audience in aud:
            raise WrongAudience(
                f"the token is for several audiences {shown(aud)}; toolwall accepts only "
                f"tokens issued for {audience!r} alone"
            )
        raise WrongAudience(f"the token is for audience {shown(aud)}, not {audience!r}")
    iss = payload.get("iss")
    if iss is not None and not isinstance(iss, str):
        raise InvalidClaim("iss is not a string")
    if issuer is not None:
        if iss is None:
            raise WrongIssuer(f"the token has no iss claim; it must be {issuer!r}")
        if iss != issuer:
            raise WrongIssuer(f"issued by {shown(iss)}, not {issuer!r}")
    sub = payload.get("sub")
    if sub is None:
        raise MissingClaim("the token has no sub claim: whom it identifies is unknown")
    if not isinstance(sub, str) or not sub:
        raise InvalidClaim("sub is not a non-empty string")
    # The cache serves the token only before its exp, never into the leeway after it.
    return not_before, exp


def caller_from_claims(payload: dict[str, Any], names: ClaimNames) -> Caller:
    """The caller a verified payload describes: `sub`, `iss`, groups, tool grants (`tools` and
    `tool:` entries of `scope`), session, and every claim as `claims`. Fails closed: a claim of
    the wrong type refuses the whole token."""
    groups = _strings(payload, names.groups)
    tools = list(_strings(payload, names.tools))
    scope = payload.get(names.scope)
    if scope is not None:
        if isinstance(scope, str):
            entries: Sequence[Any] = scope.split()
        elif isinstance(scope, list):
            entries = scope
        else:
            raise InvalidClaim(f"{names.scope} is neither a string nor a list of strings")
        for entry in entries:
            if not isinstance(entry, str):
                raise InvalidClaim(f"{names.scope} holds a {type(entry).__name__}")
            if entry.startswith("tool:"):
                pattern = entry[len("tool:") :]
                if not pattern:
                    raise InvalidClaim(f'{names.scope} has an empty "tool:" entry')
                tools.append(pattern)
    session = payload.get(names.session)
    if session is not None and (not isinstance(session, str) or not session):
        raise InvalidClaim(f"{names.session} (the session id) is not a non-empty string")
    return Caller(
        sub=payload["sub"],
        iss=payload.get("iss"),
        groups=groups,
        tools=tuple(dict.fromkeys(tools)),
        claims=payload,
        authenticated=True,
        session=session,
    )


def _strings(payload: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = payload.get(name)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InvalidClaim(f"{name} is not a list of non-empty strings")
    return tuple(value)


def _numeric(payload: Mapping[str, Any], name: str) -> float:
    value = payload[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidClaim(f"{name} is not a number of seconds since the epoch")
    return float(value)


def _when(timestamp: float) -> str:
    try:
        return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return f"{timestamp:g}"
