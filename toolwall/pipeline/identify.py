"""The identify stage: who is asking, from what the application vouches for.

A caller is either given directly by the application (a `Caller` it built) or proven by a token
for toolwall's audience, verified by the configured `TokenVerifier` (`toolwall.identity`). No or
a bad identity is the anonymous caller, granted nothing, with the reason kept for the audit.
"""

from __future__ import annotations

from typing import Protocol

from toolwall.model import Caller, Reason, ReasonKind


class TokenVerifier(Protocol):
    """Turns a bearer token into a `Caller` (see `toolwall.identity`)."""

    def caller_for(self, token: str) -> tuple[Caller, Reason | None]:
        """The verified caller, or the anonymous caller and the reason the token was refused."""
        ...


BOTH_GIVEN = Reason(ReasonKind.IDENTITY, "both a caller and a token were given; pass one")
NO_VERIFIER = Reason(
    ReasonKind.IDENTITY, "a token was given but no [identity] is configured to verify it"
)


def identify(
    verifier: TokenVerifier | None, caller: Caller | None, token: str | None
) -> tuple[Caller, Reason | None]:
    """The caller a decision is made for, and why an offered identity was refused (or None)."""
    if caller is not None and token is not None:
        return Caller.anonymous(), BOTH_GIVEN
    if caller is not None:
        return caller, None
    if token is None:
        return Caller.anonymous(), None
    if verifier is None:
        return Caller.anonymous(), NO_VERIFIER
    return verifier.caller_for(token)
