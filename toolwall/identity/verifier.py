"""Identity: a signed JWT, whose audience is toolwall, turned into a `Caller` with grants.

The right to call a tool is granted to a caller separately from the model's credentials. The
grant travels in a JWT that an identity provider signed for toolwall (`aud` = the configured
audience); `JWTVerifier` checks it and turns its claims into a `Caller`:

    too large?  -> parse the header -> alg allowed? -> key (kid) -> signature (pyjwt)
                -> exp / nbf / iat / aud / iss / sub -> claims to grants

Every way a token can be refused has its own exception class under `TokenRefused` (as pyjwt
does), and `caller_for` maps it to one `Reason` that says exactly why, never echoing the token.
The algorithm comes from the configured allow-list: the token's header only selects among the
allowed ones, `none` is never accepted, and an HMAC algorithm is never tried with a public key.

Verified tokens are cached by their SHA-256 (bounded, never served outside [nbf, exp)), so a
caller making many calls pays for the signature check once.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol, cast

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from cryptography.x509 import load_pem_x509_certificate
from jwt.algorithms import get_default_algorithms

from toolwall.config import (
    HMAC_ALGORITHMS,
    JWS_ALGORITHMS,
    ClaimNames,
    IdentityConfig,
)
from toolwall.errors import ConfigError
from toolwall.model import Caller, Reason, ReasonKind

Clock = Callable[[], float]

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

# -- refusals -----------------------------------------------------------------------------------


class TokenRefused(Exception):
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
    code = "expired"


class TokenNotYetValid(TokenRefused):
    """`nbf` (or `iat`) is in the future, beyond the leeway."""

    code = "not_yet_valid"


class WrongAudience(TokenRefused):
    """`aud` is not exactly the configured audience: the token was issued for someone else."""

    code = "wrong_audience"


class WrongIssuer(TokenRefused):
    code = "wrong_issuer"


class MissingClaim(TokenRefused):
    code = "missing_claim"


class MissingExpiry(MissingClaim):
    """No `exp`: a token that never expires is never accepted."""

    code = "missing_exp"


class InvalidClaim(TokenRefused):
    """A claim has the wrong type (e.g. `tools` not a list of strings): fail closed."""

    code = "invalid_claim"


# -- key sources --------------------------------------------------------------------------------


class KeySource(Protocol):
    """Where verification keys come from. `key_for` raises a `TokenRefused` when there is none."""

    def key_for(self, kid: str | None, alg: str) -> Any: ...


def _kind_of(key: Any) -> str:
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA public key"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name} public key"
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return "Ed25519/Ed448 public key"
    return type(key).__name__


def default_algorithms(key: PublicKeyTypes) -> list[str]:
    """The usual algorithm for a public key: RS256, ES256/384/512 by curve, or EdDSA."""
    if isinstance(key, rsa.RSAPublicKey):
        return ["RS256"]
    if isinstance(key, ec.EllipticCurvePublicKey):
        by_curve = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
        by_curve["secp256k1"] = "ES256K"
        if key.curve.name in by_curve:
            return [by_curve[key.curve.name]]
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return ["EdDSA"]
    raise ConfigError(f"no JWS algorithm fits a {_kind_of(key)}")


class StaticKey:
    """One key: a public key (PEM file, in memory) or, for local development, an HMAC secret.

    Every allowed algorithm is prepared against the key up front, so a mismatch (an ES384
    allow-list with a P-256 key, HS256 with a public key) is a load error, not a refusal later.
    The token's `kid`, if any, is ignored: there is only one key.
    """

    def __init__(self, key: PublicKeyTypes | bytes, algorithms: Sequence[str]) -> None:
        implementations = get_default_algorithms()
        self._prepared: dict[str, Any] = {}
        self.is_hmac = isinstance(key, bytes)
        for alg in algorithms:
            if self.is_hmac != (alg in HMAC_ALGORITHMS):
                what = "HMAC secret" if self.is_hmac else _kind_of(key)
                raise ConfigError(f"algorithm {alg} cannot be used with an {what}")
            try:
                prepared = implementations[alg].prepare_key(key)
            except (jwt.InvalidKeyError, TypeError, ValueError) as exc:
                what = "HMAC secret" if self.is_hmac else _kind_of(key)
                raise ConfigError(f"algorithm {alg} cannot use this {what}: {exc}") from None
            weak = implementations[alg].check_key_length(prepared)
            if weak:
                raise ConfigError(f"{alg}: {weak}")
            self._prepared[alg] = prepared

    def key_for(self, kid: str | None, alg: str) -> Any:
        return self._prepared[alg]


# Which JWK key types can verify which algorithm family. "oct" (a symmetric key) never can:
# a JWKS is public, so an HMAC key published in it would be a secret anyone can read.
_KTY_FOR = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}


def _jwk_for(data: Mapping[str, Any], alg: str) -> jwt.PyJWK:
    """The PyJWK that verifies `alg` with the JWK `data`, or `AlgorithmNotAllowed`."""
    kid = data.get("kid")
    if data.get("kty") != _KTY_FOR.get(alg[:2]):
        raise AlgorithmNotAllowed(
            f"key {_shown(kid)} is of type {_shown(data.get('kty'))} and cannot verify {alg}"
        )
    declared = data.get("alg")
    if declared is not None and declared != alg:
        raise AlgorithmNotAllowed(f"key {_shown(kid)} is for {_shown(declared)}, not {alg}")
    try:
        key = jwt.PyJWK(dict(data), algorithm=alg)
        # Fails here, not at verification, for a curve that does not fit the algorithm.
        prepared = key.Algorithm.prepare_key(key.key)
    except (jwt.PyJWTError, TypeError, ValueError) as exc:
        raise AlgorithmNotAllowed(f"key {_shown(kid)} cannot verify {alg}: {exc}") from None
    weak = key.Algorithm.check_key_length(prepared)
    if weak:
        raise AlgorithmNotAllowed(f"key {_shown(kid)} is refused for {alg}: {weak}")
    return key


def _signing_jwks(keys: Iterable[Any]) -> dict[str, Mapping[str, Any]]:
    """The usable signing keys of a JWKS by kid: asymmetric, `use` sig or absent, with a kid."""
    out: dict[str, Mapping[str, Any]] = {}
    for data in keys:
        if not isinstance(data, Mapping) or data.get("kty") not in ("RSA", "EC", "OKP"):
            continue
        if data.get("use", "sig") != "sig" or not isinstance(data.get("kid"), str):
            continue
        out[data["kid"]] = data
    return out


class JWKSet:
    """A static JWK Set (`jwks_file`, or a dict). Tokens must name their key with `kid`, unless
    the set holds a single key."""

    def __init__(self, jwks: Mapping[str, Any], algorithms: Sequence[str]) -> None:
        keys = jwks.get("keys")
        if not isinstance(keys, list):
            raise ConfigError('a JWKS is a JSON object with a "keys" list')
        self._data = _signing_jwks(keys)
        if not self._data:
            raise ConfigError(
                "the JWKS holds no usable signing key (RSA, EC or OKP keys with a kid; "
                'symmetric "oct" keys are never used)'
            )
        self._keys: dict[tuple[str, str], jwt.PyJWK] = {}
        for kid, data in self._data.items():
            for alg in algorithms:
                try:
                    self._keys[kid, alg] = _jwk_for(data, alg)
                except AlgorithmNotAllowed:
                    continue
        if not self._keys:
            raise ConfigError(
                f"no key of the JWKS can verify any of the algorithms {', '.join(algorithms)}"
            )

    def key_for(self, kid: str | None, alg: str) -> Any:
        if kid is None:
            if len(self._data) != 1:
                raise UnknownKeyId("the token has no kid header and the key set has several keys")
            kid = next(iter(self._data))
        data = self._data.get(kid)
        if data is None:
            raise UnknownKeyId(f"no key with kid {_shown(kid)} in the key set")
        key = self._keys.get((kid, alg))
        if key is None:
            _jwk_for(data, alg)  # raises the precise mismatch
            raise AlgorithmNotAllowed(f"key {_shown(kid)} cannot verify {alg}")
        return key


class RemoteJWKS:
    """A JWKS URL, fetched with pyjwt's `PyJWKClient`: the set is cached for `cache_s`, refetched
    when a token names an unknown `kid` (at most once per `refresh_cooldown_s`), and every fetch
    has a timeout. A fetch happens on the deciding thread, so the timeout bounds a decision."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 5.0,
        cache_s: float = 300.0,
        refresh_cooldown_s: float = 30.0,
    ) -> None:
        self.url = url
        try:
            self._client = jwt.PyJWKClient(
                url,
                cache_keys=False,
                cache_jwk_set=cache_s > 0,
                lifespan=cache_s if cache_s > 0 else 1,
                timeout=timeout_s,
                cooldown_duration=refresh_cooldown_s,
            )
        except jwt.PyJWKClientError as exc:
            raise ConfigError(f"jwks_url: {exc}") from None
        self._lock = threading.Lock()
        self._built: dict[tuple[str, str, str], jwt.PyJWK] = {}

    def key_for(self, kid: str | None, alg: str) -> Any:
        if kid is None:
            raise UnknownKeyId("the token has no kid header; keys from a JWKS URL need one")
        try:
            found = self._client.get_signing_key(kid)
        except jwt.PyJWKClientConnectionError as exc:
            raise KeySetUnavailable(
                f"cannot fetch the JWKS from {self.url}: {_cause(exc)}"
            ) from None
        except jwt.PyJWKClientError as exc:
            if "Unable to find a signing key" in str(exc):
                raise UnknownKeyId(f"no key with kid {_shown(kid)} at {self.url}") from None
            raise KeySetUnavailable(f"the JWKS at {self.url} is unusable: {exc}") from None
        except (jwt.PyJWKSetError, jwt.PyJWKError, ValueError) as exc:
            raise KeySetUnavailable(f"the JWKS at {self.url} is unusable: {exc}") from None
        # PyJWK has no public accessor for the JWK it was built from; it is needed to rebuild
        # the key for the token's algorithm when the JWK does not pin one with "alg".
        data: Mapping[str, Any] = found._jwk_data
        # The key object is rebuilt only when the JWK itself changes (rotation reuses no kid).
        fingerprint = json.dumps(data, sort_keys=True, default=str)
        with self._lock:
            key = self._built.get((kid, alg, fingerprint))
        if key is None:
            if data.get("kty") not in ("RSA", "EC", "OKP") or data.get("use", "sig") != "sig":
                raise UnknownKeyId(f"key {_shown(kid)} at {self.url} is not a signing key")
            key = _jwk_for(data, alg)
            with self._lock:
                if len(self._built) > 256:
                    self._built.clear()
                self._built[kid, alg, fingerprint] = key
        return key


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__
    if cause is None:
        return str(exc)
    reason = getattr(cause, "reason", None)
    return str(reason if reason is not None else cause)


_PRIVATE_KEY_TYPES = (
    rsa.RSAPrivateKey,
    ec.EllipticCurvePrivateKey,
    ed25519.Ed25519PrivateKey,
    ed448.Ed448PrivateKey,
)

# -- the verifier -------------------------------------------------------------------------------


class _Entry:
    __slots__ = ("caller", "expires", "not_before")

    def __init__(self, caller: Caller, not_before: float, expires: float) -> None:
        self.caller = caller
        self.not_before = not_before
        self.expires = expires


class JWTVerifier:
    """Verifies JWTs and turns them into `Caller`s (the engine's `TokenVerifier`).

    Build it from `[identity]` with `from_config`, or from keys for library use:
    `from_public_key`, `from_jwks`, `from_jwks_url`, `from_hmac_secret`. `verify(token)` returns
    the caller or raises a `TokenRefused`; `caller_for(token)` never raises.
    """

    def __init__(
        self,
        keys: KeySource,
        *,
        audience: str,
        algorithms: Sequence[str],
        issuer: str | None = None,
        leeway_s: float = 30,
        max_token_bytes: int = 8192,
        cache_size: int = 1024,
        claims: ClaimNames | None = None,
        clock: Clock = time.time,
        asymmetric: bool = True,
    ) -> None:
        if not audience:
            raise ConfigError("identity: an audience is required")
        if not algorithms:
            raise ConfigError("identity: list at least one algorithm")
        for alg in algorithms:
            if alg.lower() == "none":
                raise ConfigError('identity: "none" is never accepted')
            if alg not in JWS_ALGORITHMS:
                raise ConfigError(f"identity: unknown algorithm {alg}")
            if asymmetric == (alg in HMAC_ALGORITHMS):
                raise ConfigError(
                    f"identity: {alg} cannot be used with "
                    + ("public keys" if asymmetric else "an HMAC secret")
                )
        self.keys = keys
        self.audience = audience
        self.algorithms = frozenset(algorithms)
        self.issuer = issuer
        self.leeway_s = float(leeway_s)
        self.max_token_bytes = max_token_bytes
        self.claim_names = claims or ClaimNames()
        self.clock = clock
        self.asymmetric = asymmetric
        self._cache_size = cache_size
        self._cache: OrderedDict[bytes, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._jws = jwt.PyJWS()

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def from_public_key(
        cls,
        key: PublicKeyTypes | PrivateKeyTypes | str | bytes,
        *,
        audience: str,
        algorithms: Sequence[str] | None = None,
        **options: Any,
    ) -> JWTVerifier:
        """A verifier for one public key: a key object, or PEM text (a key or certificate).
        Given a private key object, it keeps only the public half.

        `algorithms` defaults to the key's usual one (RS256, ES256..., EdDSA).
        """
        public: PublicKeyTypes
        if isinstance(key, str | bytes):
            public = load_public_key(key)
        elif isinstance(key, _PRIVATE_KEY_TYPES):
            public = key.public_key()  # keep only what verifying needs
        else:
            public = cast("PublicKeyTypes", key)
        algs = list(algorithms) if algorithms is not None else default_algorithms(public)
        return cls(StaticKey(public, algs), audience=audience, algorithms=algs, **options)

    @classmethod
    def from_jwks(
        cls,
        jwks: Mapping[str, Any],
        *,
        audience: str,
        algorithms: Sequence[str],
        **options: Any,
    ) -> JWTVerifier:
        """A verifier for a static JWK Set (`{"keys": [...]}`)."""
        return cls(JWKSet(jwks, algorithms), audience=audience, algorithms=algorithms, **options)

    @classmethod
    def from_jwks_url(
        cls,
        url: str,
        *,
        audience: str,
        algorithms: Sequence[str],
        timeout_s: float = 5.0,
        cache_s: float = 300.0,
        refresh_cooldown_s: float = 30.0,
        **options: Any,
    ) -> JWTVerifier:
        """A verifier for an identity provider's JWKS endpoint."""
        source = RemoteJWKS(
            url, timeout_s=timeout_s, cache_s=cache_s, refresh_cooldown_s=refresh_cooldown_s
        )
        return cls(source, audience=audience, algorithms=algorithms, **options)

    @classmethod
    def from_hmac_secret(
        cls,
        secret: str | bytes,
        *,
        audience: str,
        algorithms: Sequence[str] = ("HS256",),
        **options: Any,
    ) -> JWTVerifier:
        """A verifier for a shared HMAC secret: local development only (whoever verifies can also
        sign). The secret must be at least 32 bytes and must not be a PEM key."""
        raw = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
        if len(raw) < 32:
            raise ConfigError("identity: an HMAC secret must be at least 32 bytes")
        if b"-----BEGIN" in raw or raw.lstrip().startswith((b"ssh-", b"ecdsa-sha2-", b"{")):
            # A published key used as the shared secret lets anyone who has it sign tokens.
            raise ConfigError("identity: the HMAC secret looks like a key (PEM, SSH or JWK)")
        return cls(
            StaticKey(raw, algorithms),
            audience=audience,
            algorithms=algorithms,
            asymmetric=False,
            **options,
        )

    @classmethod
    def from_config(
        cls, cfg: IdentityConfig, base_dir: Path, *, clock: Clock | None = None
    ) -> JWTVerifier:
        """The verifier `[identity]` describes; paths resolve against `base_dir`.

        Raises `ConfigError` naming the key at fault (unreadable key file, bad JWKS, unset
        secret variable, an algorithm the key cannot verify).
        """
        options: dict[str, Any] = {
            "audience": cfg.audience,
            "algorithms": cfg.algorithms,
            "issuer": cfg.issuer,
            "leeway_s": cfg.leeway_s,
            "max_token_bytes": cfg.max_token_bytes,
            "cache_size": cfg.cache_size,
            "claims": cfg.claims,
        }
        if clock is not None:
            options["clock"] = clock

        def resolve(path: Path) -> Path:
            return path if path.is_absolute() else base_dir / path

        try:
            if cfg.public_key_file is not None:
                file = resolve(cfg.public_key_file)
                try:
                    return cls.from_public_key(_read(file), **options)
                except ConfigError as exc:
                    raise ConfigError(f"{file}: {exc}") from None
            if cfg.jwks_file is not None:
                file = resolve(cfg.jwks_file)
                try:
                    jwks = json.loads(_read(file))
                except (ValueError, UnicodeDecodeError) as exc:
                    raise ConfigError(f"{file}: not a JSON key set: {exc}") from None
                if not isinstance(jwks, dict):
                    raise ConfigError(f'{file}: a JWKS is a JSON object with a "keys" list')
                try:
                    return cls.from_jwks(jwks, **options)
                except ConfigError as exc:
                    raise ConfigError(f"{file}: {exc}") from None
            if cfg.jwks_url is not None:
                return cls.from_jwks_url(
                    cfg.jwks_url,
                    timeout_s=cfg.jwks_timeout_s,
                    cache_s=cfg.jwks_cache_s,
                    refresh_cooldown_s=cfg.jwks_refresh_cooldown_s,
                    **options,
                )
            assert cfg.hs256_secret_env is not None  # the config allows exactly one source
            secret = os.environ.get(cfg.hs256_secret_env)
            if not secret:
                raise ConfigError(
                    f"hs256_secret_env: the environment variable {cfg.hs256_secret_env} is not set"
                )
            return cls.from_hmac_secret(secret, **options)
        except ConfigError as exc:
            message = str(exc)
            prefix = "" if message.startswith("identity") else "identity: "
            raise ConfigError(prefix + message) from None

    # -- verification ---------------------------------------------------------------------------

    def caller_for(self, token: str) -> tuple[Caller, Reason | None]:
        """The verified caller, or the anonymous caller and the reason the token was refused.

        Never raises: whatever is wrong with the token (or with the key source) is a refusal.
        """
        try:
            return self.verify(token), None
        except TokenRefused as refused:
            return Caller.anonymous(), refused.reason()
        except Exception as exc:  # fail closed; the message names the error type, not the token
            return Caller.anonymous(), Reason(
                ReasonKind.IDENTITY,
                f"token refused (internal_error): verification failed with {type(exc).__name__}",
            )

    def verify(self, token: str) -> Caller:
        """The caller a token proves. Raises a `TokenRefused` subclass saying exactly why not."""
        if not isinstance(token, str):
            raise TokenMalformed(f"a token is a string, not {type(token).__name__}")
        # Size first, before hashing or parsing anything the sender controls.
        if len(token) > self.max_token_bytes:
            raise TokenTooLarge(self._too_large())
        try:
            raw = token.encode()
        except UnicodeEncodeError:
            raise TokenMalformed("not a JWT: the token is not valid Unicode text") from None
        if len(raw) > self.max_token_bytes:
            raise TokenTooLarge(self._too_large())
        now = self.clock()
        digest = hashlib.sha256(raw).digest()
        if self._cache_size:
            with self._lock:
                entry = self._cache.get(digest)
                if entry is not None:
                    if entry.not_before <= now < entry.expires:
                        self._cache.move_to_end(digest)
                        return entry.caller
                    del self._cache[digest]
        caller, not_before, expires = self._verify(token, now)
        if self._cache_size and not_before <= now < expires:
            with self._lock:
                self._cache[digest] = _Entry(caller, not_before, expires)
                self._cache.move_to_end(digest)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return caller

    def _too_large(self) -> str:
        return f"the token is larger than max_token_bytes ({self.max_token_bytes})"

    def _verify(self, token: str, now: float) -> tuple[Caller, float, float]:
        header = self._header(token)
        alg = self._algorithm(header)
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise TokenMalformed("the kid header is not a string")
        key = self.keys.key_for(kid, alg)
        try:
            decoded = self._jws.decode_complete(token, key=key, algorithms=[alg])
        except jwt.InvalidSignatureError:
            raise BadSignature(
                "the signature does not verify (the token was altered after signing, "
                "or signed by a key toolwall does not trust)"
            ) from None
        except jwt.InvalidAlgorithmError as exc:
            raise AlgorithmNotAllowed(str(exc)) from None
        except jwt.InvalidKeyError as exc:
            raise AlgorithmNotAllowed(f"the key cannot verify {alg}: {exc}") from None
        except jwt.PyJWTError as exc:
            raise TokenMalformed(f"not a valid JWS: {exc}") from None
        try:
            payload = json.loads(decoded["payload"])
        except (ValueError, RecursionError):
            raise TokenMalformed("the signed payload is not JSON") from None
        if not isinstance(payload, dict):
            raise TokenMalformed("the signed payload is not a JSON object")
        not_before, expires = self._check_claims(payload, now)
        return self._caller(payload), not_before, expires

    def _header(self, token: str) -> dict[str, Any]:
        if token.count(".") != 2:
            raise TokenMalformed("not a JWT: a JWT has three dot-separated parts")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenMalformed(f"not a JWT: {_first_line(exc)}") from None
        except (ValueError, TypeError, RecursionError):
            raise TokenMalformed("not a JWT: undecodable header") from None
        return header

    def _algorithm(self, header: Mapping[str, Any]) -> str:
        alg = header.get("alg")
        if alg is None:
            raise TokenMalformed("the header has no alg")
        if not isinstance(alg, str):
            raise TokenMalformed("the header's alg is not a string")
        if alg.lower() == "none":
            raise AlgorithmNone('alg "none" (an unsigned token) is never accepted')
        if alg in self.algorithms:
            return alg
        allowed = ", ".join(sorted(self.algorithms))
        if self.asymmetric and alg in HMAC_ALGORITHMS:
            raise KeyConfusion(
                f"alg {alg} is an HMAC algorithm and toolwall verifies with public keys "
                f"(allowed: {allowed}); a public key is never used as an HMAC secret"
            )
        raise AlgorithmNotAllowed(f"alg {_shown(alg)} is not allowed (allowed: {allowed})")

    def _check_claims(self, payload: Mapping[str, Any], now: float) -> tuple[float, float]:
        """exp (required), nbf and iat with leeway, aud, iss, sub. Returns the window
        [not_before, expires) in which the token is valid, for the cache."""
        leeway = self.leeway_s
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
                raise TokenNotYetValid(
                    f"not valid before {_when(value)} ({name}; leeway {leeway:g} s)"
                )
            not_before = max(not_before, value - leeway)
        aud = payload.get("aud")
        if aud is None:
            raise WrongAudience(f"the token has no aud claim; it must be {self.audience!r}")
        if aud != self.audience:
            # A list, even one that contains our audience, is refused: such a token is also
            # meant for another service, which could replay it here.
            if isinstance(aud, list) and self.audience in aud:
                raise WrongAudience(
                    f"the token is for several audiences {_shown(aud)}; toolwall accepts only "
                    f"tokens issued for {self.audience!r} alone"
                )
            raise WrongAudience(f"the token is for audience {_shown(aud)}, not {self.audience!r}")
        iss = payload.get("iss")
        if iss is not None and not isinstance(iss, str):
            raise InvalidClaim("iss is not a string")
        if self.issuer is not None:
            if iss is None:
                raise WrongIssuer(f"the token has no iss claim; it must be {self.issuer!r}")
            if iss != self.issuer:
                raise WrongIssuer(f"issued by {_shown(iss)}, not {self.issuer!r}")
        sub = payload.get("sub")
        if sub is None:
            raise MissingClaim("the token has no sub claim: whom it identifies is unknown")
        if not isinstance(sub, str) or not sub:
            raise InvalidClaim("sub is not a non-empty string")
        # The cache serves the token only before its exp, never into the leeway after it.
        return not_before, exp

    def _caller(self, payload: dict[str, Any]) -> Caller:
        names = self.claim_names
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

    def clear_cache(self) -> None:
        """Forget every verified token (after rotating keys out, for instance)."""
        with self._lock:
            self._cache.clear()


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


def _shown(value: Any, limit: int = 64) -> str:
    """A value from the token, safe to put in a message: repr'd (so control characters are
    escaped) and cut short. Only claim and header values are shown, never the token."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _first_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]


def _read(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such file") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc.strerror or exc}") from None


def load_public_key(pem: str | bytes) -> PublicKeyTypes:
    """A public key from PEM text: a public key or an X.509 certificate. A private key is refused:
    toolwall only verifies, so it has no business holding a signing key."""
    data = pem.encode() if isinstance(pem, str) else pem
    if b"PRIVATE KEY-----" in data:
        raise ConfigError("this is a private key; give toolwall the public key only")
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            return load_pem_x509_certificate(data).public_key()
        return serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"not a PEM public key or certificate: {_first_line(exc)}") from None


def identity_warnings(cfg: IdentityConfig) -> list[str]:
    """What `toolwall check` should warn about in `[identity]` (none of it is an error)."""
    warnings: list[str] = []
    if cfg.hs256_secret_env is not None:
        warnings.append(
            "identity: hs256_secret_env is for local development only: whoever can verify "
            "an HMAC token can also mint one; use public_key_file, jwks_file or jwks_url"
        )
    if cfg.issuer is None and (cfg.jwks_url is not None or cfg.jwks_file is not None):
        warnings.append(
            "identity: no issuer is configured, so any issuer whose tokens these keys sign is "
            "accepted; set issuer to your identity provider's"
        )
    if cfg.jwks_url is not None and cfg.jwks_url.startswith("http://"):
        warnings.append("identity: jwks_url uses plain http (acceptable only on this machine)")
    if cfg.leeway_s > 120:
        warnings.append(
            f"identity: leeway_s = {cfg.leeway_s} accepts tokens long after they expired"
        )
    if cfg.cache_size == 0:
        warnings.append("identity: cache_size = 0 verifies the signature on every call")
    return warnings
