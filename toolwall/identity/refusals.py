"""Refusals: one exception class per way a token is refused, all under `TokenRefused`.

As in pyjwt, each failure has its own class; each also has a stable `code` (for programs) and a
`message` (for people and for the model) that says exactly why, and `reason()` turns it into the
one `Reason(IDENTITY, "token refused (<code>): <why>")` a decision carries. A refusal message
never contains the token: header and claim values are shown through `shown`, repr'd and cut
short.
"""

from __future__ import annotations

from typing import Any, ClassVar

from toolwall.errors import ToolwallError
from toolwall.model import Reason, ReasonKind


class TokenRefused(ToolwallError):
    """Base of every refusal: the token does not prove an identity.

    `code` names the kind of refusal (stable, for programs); `message` says exactly why, for
    people and for the model, and never contains the token.
    """

    code: ClassVar[str] = "refused"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def reason(self) -> Reason:
        return Reason(ReasonKind.IDENTITY, f"token refused ({self.code}): {self.message}")


class TokenTooLarge(TokenRefused):
    """Longer than `max_token_bytes`; refused before any parsing."""

    code = "too_large"


class TokenMalformed(TokenRefused):
    """Not a compact JWS: wrong segments, bad base64, a header or payload that is not JSON."""

    code = "malformed"


class AlgorithmNone(TokenRefused):
    """`alg: none`, an unsigned token. Never accepted, whatever the configuration."""

    code = "alg_none"


class AlgorithmNotAllowed(TokenRefused):
    """The header's `alg` is not in the configured allow-list, or the key cannot verify it."""

    code = "alg_not_allowed"


class KeyConfusion(AlgorithmNotAllowed):
    """An HMAC token presented to a verifier with public keys: the classic key-confusion attack
    (signing with the public key's bytes as the HMAC secret)."""

    code = "key_confusion"


class UnknownKeyId(TokenRefused):
    """The `kid` names no key of the configured key set (after a refresh, for a JWKS URL)."""

    code = "unknown_kid"


class KeySetUnavailable(TokenRefused):
    """The JWKS URL could not be fetched or holds no usable signing key."""

    code = "jwks_unreachable"


class BadSignature(TokenRefused):
    """The signature does not verify: the token was altered after signing (a tampered payload
    or header) or was signed by a key toolwall does not trust. The two are the same event
    cryptographically, so they share this refusal."""

    code = "bad_signature"


class TokenExpired(TokenRefused):
    """`exp` is past, beyond the leeway."""

    code = "expired"


class TokenNotYetValid(TokenRefused):
    """`nbf` (or `iat`) is in the future, beyond the leeway."""

    code = "not_yet_valid"


class WrongAudience(TokenRefused):
    """`aud` is not exactly the configured audience: the token was issued for someone else."""

    code = "wrong_audience"


class WrongIssuer(TokenRefused):
    """`iss` is missing or not the configured issuer."""

    code = "wrong_issuer"


class MissingClaim(TokenRefused):
    """A required claim (`sub`) is missing."""

    code = "missing_claim"


class MissingExpiry(MissingClaim):
    """No `exp`: a token that never expires is never accepted."""

    code = "missing_exp"


class InvalidClaim(TokenRefused):
    """A claim has the wrong type (e.g. `tools` not a list of strings): fail closed."""

    code = "invalid_claim"


def shown(value: Any, limit: int = 64) -> str:
    """A value from the token, safe to put in a message: repr'd (so control characters are
    escaped) and cut short. Only claim and header values are shown, never the token."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (at most 120 characters), for a refusal."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]
