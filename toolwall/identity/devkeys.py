"""Development keys and tokens: what `toolwall init` and `toolwall token mint` use.

In production an identity provider signs the tokens and toolwall only holds its public keys.
For local development, demos and policy tests, toolwall can play that provider itself:

    private = generate_private_key()                      # Ed25519, in memory
    verifier = JWTVerifier.from_public_key(private.public_key(), audience="toolwall")
    token = mint_token(private, sub="alice", tools=["email.*"], groups=["eng"], ttl_s=900,
                       audience="toolwall")
    firewall = Firewall(identity=verifier, ...); firewall.decide(call, token=token)
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from toolwall.config import ClaimNames
from toolwall.errors import ToolwallError

__all__ = [
    "KeyPair",
    "generate_keypair",
    "generate_private_key",
    "load_private_key",
    "mint_token",
    "parse_ttl",
]

PRIVATE_KEY_NAME = "toolwall-dev.key"
PUBLIC_KEY_NAME = "toolwall-dev.pub"

# Claims the minting options set; `claims=` cannot override them (a typo would silently
# mint a token with other grants or another audience than the one asked for).
_REGISTERED = ("sub", "aud", "iss", "exp", "iat", "nbf", "jti")

SigningKey = ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class KeyPair:
    """Where `generate_keypair` wrote the keys."""

    private_key: Path
    public_key: Path


def generate_private_key(kind: Literal["ed25519", "rsa", "ec"] = "ed25519") -> SigningKey:
    """A fresh signing key in memory: Ed25519 (EdDSA), RSA 2048 (RS256) or EC P-256 (ES256)."""
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(f"unknown key kind {kind!r} (ed25519, rsa or ec)")


def generate_keypair(directory: str | Path, name: str = "toolwall-dev") -> KeyPair:
    """Write a new Ed25519 key pair as PEM: `<name>.key` (PKCS#8, mode 0600) and `<name>.pub`.

    The folder is created (mode 0700) if needed. Existing files are never overwritten: a
    `ToolwallError` names them instead.
    """
    folder = Path(directory)
    private_path = folder / f"{name}.key"
    public_path = folder / f"{name}.pub"
    existing = [str(p) for p in (private_path, public_path) if p.exists()]
    if existing:
        raise ToolwallError(f"refusing to overwrite {', '.join(existing)}")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = ed25519.Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _write_new(private_path, private_pem, 0o600)
    _write_new(public_path, public_pem, 0o644)
    return KeyPair(private_key=private_path, public_key=public_path)


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create `path` with `mode` from the start (no window where a private key is readable by
    others), failing if it exists."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise ToolwallError(f"refusing to overwrite {path}") from None
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(path, mode)  # the umask may have narrowed it; make it exactly `mode`


def load_private_key(source: str | Path | bytes) -> SigningKey:
    """A signing key from a PEM file (a path) or PEM bytes."""
    if isinstance(source, bytes):
        data, where = source, "private key"
    else:
        path = Path(source)
        where = str(path)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ToolwallError(f"{path}: no such private key file") from None
        except OSError as exc:
            raise ToolwallError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        key: PrivateKeyTypes = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ToolwallError(f"{where}: not an unencrypted PEM private key ({exc})") from None
    if not isinstance(
        key, ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    ):
        raise ToolwallError(f"{where}: unsupported key type {type(key).__name__}")
    return key


def algorithm_for(key: SigningKey) -> str:
    """The JWS algorithm a key signs with: EdDSA, RS256, or ES256/384/512 by curve."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "EdDSA"
    if isinstance(key, rsa.RSAPrivateKey):
        return "RS256"
    by_curve = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
    if key.curve.name not in by_curve:
        raise ToolwallError(f"no JWS algorithm for the curve {key.curve.name}")
    return by_curve[key.curve.name]


def mint_token(
    private_key: SigningKey | str | Path | bytes,
    *,
    sub: str,
    tools: Iterable[str],
    groups: Iterable[str] = (),
    ttl_s: float,
    audience: str,
    issuer: str | None = None,
    kid: str | None = None,
    session: str | None = None,
    claims: Mapping[str, Any] | None = None,
    claim_names: ClaimNames | None = None,
    algorithm: str | None = None,
    now: float | None = None,
) -> str:
    """Sign a development token for `sub` granting `tools` (patterns), valid for `ttl_s` seconds.

    `private_key` is a key object, a PEM file path or PEM bytes. `claims` adds claims (it cannot
    replace sub, aud, iss, exp, iat, nbf, jti or the grant claims). `claim_names` follows a
    configuration that renamed the grant claims. `now` fixes the issue time (tests).
    """
    key = (
        load_private_key(private_key)
        if isinstance(private_key, str | Path | bytes)
        else private_key
    )
    if not sub:
        raise ToolwallError("a token needs a subject (sub)")
    if ttl_s <= 0:
        raise ToolwallError("the time to live must be positive")
    names = claim_names or ClaimNames()
    issued = int(time.time() if now is None else now)
    payload: dict[str, Any] = {}
    reserved = {*_REGISTERED, names.tools, names.groups, names.session}
    for name, value in (claims or {}).items():
        if name in reserved:
            raise ToolwallError(f"claim {name!r} is set by the minting options, not by claims")
        payload[name] = value
    payload.update(
        {
            "sub": sub,
            "aud": audience,
            "iat": issued,
            "nbf": issued,
            "exp": issued + int(ttl_s),
            "jti": uuid.uuid4().hex,
            names.tools: list(tools),
            names.groups: list(groups),
        }
    )
    if issuer is not None:
        payload["iss"] = issuer
    if session is not None:
        payload[names.session] = session
    headers = {"kid": kid} if kid is not None else None
    return jwt.encode(payload, key, algorithm=algorithm or algorithm_for(key), headers=headers)


_TTL = re.compile(r"(\d+)([smhd])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_ttl(text: str) -> int:
    """`30s`, `15m`, `12h`, `7d` (or a sum such as `1h30m`) in seconds."""
    spec = text.strip().lower()
    parts = _TTL.findall(spec)
    if not parts or "".join(n + u for n, u in parts) != spec:
        raise ToolwallError(f"invalid duration {text!r}: use a number with s, m, h or d (15m)")
    seconds = sum(int(n) * _UNIT[u] for n, u in parts)
    if seconds <= 0:
        raise ToolwallError(f"invalid duration {text!r}: it must be positive")
    return seconds
