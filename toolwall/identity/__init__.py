"""Identity: a signed JWT, whose audience is toolwall, turned into a `Caller` with grants.

verifier   JWTVerifier: size, header, algorithm, key, signature, claims; the token cache;
           built from `[identity]` (`from_config`) or from keys
claims     the registered claims checked, the rest mapped to a Caller's grants
keys       key sources: a public key or HMAC secret, a JWK Set, a JWKS URL
refusals   TokenRefused and one subclass per way a token is refused
devkeys    development keys and `toolwall token mint`
"""

from toolwall.identity.refusals import (
    AlgorithmNone,
    AlgorithmNotAllowed,
    BadSignature,
    InvalidClaim,
    KeyConfusion,
    KeySetUnavailable,
    MissingClaim,
    MissingExpiry,
    TokenExpired,
    TokenMalformed,
    TokenNotYetValid,
    TokenRefused,
    TokenTooLarge,
    UnknownKeyId,
    WrongAudience,
    WrongIssuer,
)
from toolwall.identity.verifier import JWTVerifier, identity_warnings

__all__ = [
    "AlgorithmNone",
    "AlgorithmNotAllowed",
    "BadSignature",
    "InvalidClaim",
    "JWTVerifier",
    "KeyConfusion",
    "KeySetUnavailable",
    "MissingClaim",
    "MissingExpiry",
    "TokenExpired",
    "TokenMalformed",
    "TokenNotYetValid",
    "TokenRefused",
    "TokenTooLarge",
    "UnknownKeyId",
    "WrongAudience",
    "WrongIssuer",
    "identity_warnings",
]
