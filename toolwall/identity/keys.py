"""Key sources: where the keys that verify a token's signature come from.

    StaticKey    one public key (PEM file, key object) or, for local development, an HMAC secret
    JWKSet       a static JWK Set (`jwks_file`, or a dict)
    RemoteJWKS   a JWKS URL, cached, refetched on an unknown `kid`

Each has `key_for(kid, alg)`, which returns the key prepared for the token's algorithm or raises
the `TokenRefused` that says why there is none. Every key is checked against every allowed
algorithm it may verify (a P-256 key is refused for ES384, a 1024-bit RSA key for RS256), so a
mismatch is a load error for static keys and a precise refusal for fetched ones.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509 import load_pem_x509_certificate
from jwt.algorithms import get_default_algorithms

from toolwall.config import HMAC_ALGORITHMS
from toolwall.errors import ConfigError
from toolwall.identity.refusals import (
    AlgorithmNotAllowed,
    KeySetUnavailable,
    UnknownKeyId,
    first_line,
    shown,
)


class KeySource(Protocol):
    """Where verification keys come from. `key_for` raises a `TokenRefused` when there is none."""

    def key_for(self, kid: str | None, alg: str) -> Any: ...


PRIVATE_KEY_TYPES = (
    rsa.RSAPrivateKey,
    ec.EllipticCurvePrivateKey,
    ed25519.Ed25519PrivateKey,
    ed448.Ed448PrivateKey,
)


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
        raise ConfigError(f"not a PEM public key or certificate: {first_line(exc)}") from None


def read_key_file(file: Path) -> bytes:
    """The bytes of a key file, or a `ConfigError` naming it."""
    try:
        return file.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such file") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc.strerror or exc}") from None


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


def jwk_for_algorithm(data: Mapping[str, Any], alg: str) -> jwt.PyJWK:
    """The PyJWK that verifies `alg` with the JWK `data`, or `AlgorithmNotAllowed`.

    A JWK without `alg` verifies every allowed algorithm of its key type; one with `alg`, that
    algorithm only.
    """
    kid = data.get("kid")
    if data.get("kty") != _KTY_FOR.get(alg[:2]):
        raise AlgorithmNotAllowed(
            f"key {shown(kid)} is of type {shown(data.get('kty'))} and cannot verify {alg}"
        )
    declared = data.get("alg")
    if declared is not None and declared != alg:
        raise AlgorithmNotAllowed(f"key {shown(kid)} is for {shown(declared)}, not {alg}")
    try:
        key = jwt.PyJWK(dict(data), algorithm=alg)
        # Fails here, not at verification, for a curve that does not fit the algorithm.
        prepared = key.Algorithm.prepare_key(key.key)
    except (jwt.PyJWTError, TypeError, ValueError) as exc:
        raise AlgorithmNotAllowed(f"key {shown(kid)} cannot verify {alg}: {exc}") from None
    weak = key.Algorithm.check_key_length(prepared)
    if weak:
        raise AlgorithmNotAllowed(f"key {shown(kid)} is refused for {alg}: {weak}")
    return key


def _is_signing_jwk(data: Mapping[str, Any]) -> bool:
    """An asymmetric key whose `use` is "sig" or absent."""
    return data.get("kty") in ("RSA", "EC", "OKP") and data.get("use", "sig") == "sig"


def _signing_jwks(keys: Iterable[Any]) -> dict[str, Mapping[str, Any]]:
    """The usable signing keys of a JWKS by kid: asymmetric, `use` sig or absent, with a kid."""
    out: dict[str, Mapping[str, Any]] = {}
    for data in keys:
        if not isinstance(data, Mapping) or not _is_signing_jwk(data):
            continue
        if not isinstance(data.get("kid"), str):
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
                    self._keys[kid, alg] = jwk_for_algorithm(data, alg)
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
            raise UnknownKeyId(f"no key with kid {shown(kid)} in the key set")
        key = self._keys.get((kid, alg))
        if key is None:
            jwk_for_algorithm(data, alg)  # raises the precise mismatch
            raise AlgorithmNotAllowed(f"key {shown(kid)} cannot verify {alg}")
        return key


# pyjwt's words for a set without signing keys, kept so that the refusal reads as it always has.
_NO_SIGNING_KEYS = "The JWKS endpoint did not contain any signing keys"


@dataclass
class _FetchedSet:
    """One fetch of a JWKS URL: its signing JWKs by kid, and the keys built from them so far."""

    at: float
    jwks: dict[str, Mapping[str, Any]]
    has_signing_keys: bool
    keys: dict[tuple[str, str], jwt.PyJWK] = field(default_factory=dict)


def _fetched_set(payload: dict[str, Any], at: float) -> _FetchedSet:
    """The signing JWKs of a fetched set, chosen as pyjwt's `PyJWKClient` chooses them: the keys
    pyjwt can read, whose `use` is "sig" or absent and that have a `kid` (the first of a kid)."""
    jwt.PyJWKSet.from_dict(payload)  # refuses a set with no usable key, in pyjwt's words
    jwks: dict[str, Mapping[str, Any]] = {}
    has_signing_keys = False
    for data in payload["keys"]:
        if not isinstance(data, dict):
            continue
        try:
            jwk = jwt.PyJWK(data)
        except jwt.PyJWTError:  # a key pyjwt cannot read is skipped, as PyJWKSet skips it
            continue
        if jwk.public_key_use in ("sig", None) and jwk.key_id:
            has_signing_keys = True
            if isinstance(jwk.key_id, str):
                jwks.setdefault(jwk.key_id, data)
    return _FetchedSet(at, jwks, has_signing_keys)


class RemoteJWKS:
    """A JWKS URL. The set is fetched with pyjwt's `PyJWKClient.fetch_data` (http(s) only, no
    redirects, a timeout) and kept here, with the JWKs themselves: a key is built for the
    token's algorithm from its JWK (`jwk_for_algorithm`), which pyjwt's `PyJWK` does not expose.

    The set is cached for `cache_s` (0: fetched for every lookup) and fetched again when a token
    names an unknown `kid`, unless the last fetch is less than `refresh_cooldown_s` old, so
    tokens with made-up key ids cannot make toolwall hammer the identity provider. A fetch
    happens on the deciding thread, one at a time, so the timeout bounds a decision. `clock` is
    monotonic seconds (injectable for tests).
    """

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 5.0,
        cache_s: float = 300.0,
        refresh_cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not (math.isfinite(refresh_cooldown_s) and refresh_cooldown_s >= 0):
            raise ConfigError(
                "jwks_url: the refresh cooldown must be a finite number of seconds >= 0, "
                f"not {refresh_cooldown_s!r}"
            )
        self.url = url
        try:
            self._client = jwt.PyJWKClient(
                url, cache_keys=False, cache_jwk_set=False, timeout=timeout_s
            )
        except jwt.PyJWKClientError as exc:
            raise ConfigError(f"jwks_url: {exc}") from None
        self.cache_s = cache_s
        self.refresh_cooldown_s = refresh_cooldown_s
        self._clock = clock
        self._lock = threading.Lock()
        self._fetched: _FetchedSet | None = None

    def key_for(self, kid: str | None, alg: str) -> Any:
        if kid is None:
            raise UnknownKeyId("the token has no kid header; keys from a JWKS URL need one")
        try:
            with self._lock:
                return self._key_for(kid, alg)
        except jwt.PyJWKClientConnectionError as exc:
            raise KeySetUnavailable(
                f"cannot fetch the JWKS from {self.url}: {_cause(exc)}"
            ) from None
        except (jwt.PyJWKClientError, jwt.PyJWKSetError, jwt.PyJWKError, ValueError) as exc:
            raise KeySetUnavailable(f"the JWKS at {self.url} is unusable: {exc}") from None

    def _key_for(self, kid: str, alg: str) -> jwt.PyJWK:
        fetched = self._current()
        data = fetched.jwks.get(kid)
        if data is None and fetched.has_signing_keys and not self._cooling_down(fetched):
            fetched = self._fetch()  # the provider may have rotated its keys
            data = fetched.jwks.get(kid)
        if not fetched.has_signing_keys:
            raise KeySetUnavailable(f"the JWKS at {self.url} is unusable: {_NO_SIGNING_KEYS}")
        if data is None:
            raise UnknownKeyId(f"no key with kid {shown(kid)} at {self.url}")
        key = fetched.keys.get((kid, alg))
        if key is None:
            if not _is_signing_jwk(data):
                raise UnknownKeyId(f"key {shown(kid)} at {self.url} is not a signing key")
            key = fetched.keys[kid, alg] = jwk_for_algorithm(data, alg)
        return key

    def _current(self) -> _FetchedSet:
        """The cached set while it is fresh, else a new fetch."""
        fetched = self._fetched
        if fetched is None or self.cache_s <= 0 or self._clock() > fetched.at + self.cache_s:
            return self._fetch()
        return fetched

    def _cooling_down(self, fetched: _FetchedSet) -> bool:
        # Without a cache every lookup fetches anyway: no cooldown applies.
        return self.cache_s > 0 and self._clock() - fetched.at < self.refresh_cooldown_s

    def _fetch(self) -> _FetchedSet:
        payload = self._client.fetch_data()
        self._fetched = _fetched_set(payload, self._clock())
        return self._fetched


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__
    if cause is None:
        return str(exc)
    reason = getattr(cause, "reason", None)
    return str(reason if reason is not None else cause)
