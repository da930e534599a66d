"""The verifier: a signed JWT, whose audience is toolwall, turned into a `Caller` with grants.

The right to call a tool is granted to a caller separately from the model's credentials. The
grant travels in a JWT that an identity provider signed for toolwall (`aud` = the configured
audience); `JWTVerifier` checks it and turns its claims into a `Caller`:

    too large?  -> parse the header -> alg allowed? -> key (kid) -> signature (pyjwt)
                -> exp / nbf / iat / aud / iss / sub -> claims to grants

Every way a token can be refused has its own exception class under `TokenRefused`
(`toolwall.identity.refusals`), and `caller_for` maps it to one `Reason` that says exactly why,
never echoing the token. The algorithm comes from the configured allow-list: the token's header
only selects among the allowed ones, `none` is never accepted, and an HMAC algorithm is never
tried with a public key. Keys come from a key source (`toolwall.identity.keys`).

Verified tokens are cached by their SHA-256 (bounded, never served outside [nbf, exp)), so a
caller making many calls pays for the signature check once.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import jwt
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes

from toolwall.config import (
    HMAC_ALGORITHMS,
    JWS_ALGORITHMS,
    ClaimNames,
    IdentityConfig,
)
from toolwall.errors import ConfigError
from toolwall.identity.claims import caller_from_claims, check_registered_claims
from toolwall.identity.keys import (
    PRIVATE_KEY_TYPES,
    JWKSet,
    KeySource,
    RemoteJWKS,
    StaticKey,
    default_algorithms,
    load_public_key,
    read_key_file,
)
from toolwall.identity.refusals import (
    AlgorithmNone,
    AlgorithmNotAllowed,
    BadSignature,
    KeyConfusion,
    TokenMalformed,
    TokenRefused,
    TokenTooLarge,
    first_line,
    shown,
)
from toolwall.model import Caller, Reason, ReasonKind

Clock = Callable[[], float]

__all__ = ["Clock", "JWTVerifier", "identity_warnings"]


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
        elif isinstance(key, PRIVATE_KEY_TYPES):
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
                    return cls.from_public_key(read_key_file(file), **options)
                except ConfigError as exc:
                    raise ConfigError(f"{file}: {exc}") from None
            if cfg.jwks_file is not None:
                file = resolve(cfg.jwks_file)
                try:
                    jwks = json.loads(read_key_file(file))
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
        not_before, expires = check_registered_claims(
            payload, now, leeway=self.leeway_s, audience=self.audience, issuer=self.issuer
        )
        return caller_from_claims(payload, self.claim_names), not_before, expires

    def _header(self, token: str) -> dict[str, Any]:
        if token.count(".") != 2:
            raise TokenMalformed("not a JWT: a JWT has three dot-separated parts")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenMalformed(f"not a JWT: {first_line(exc)}") from None
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
        raise AlgorithmNotAllowed(f"alg {shown(alg)} is not allowed (allowed: {allowed})")

    def clear_cache(self) -> None:
        """Forget every verified token (after rotating keys out, for instance)."""
        with self._lock:
            self._cache.clear()


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
