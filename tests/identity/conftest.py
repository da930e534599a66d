"""Real keys of every family, generated once per test session, and helpers to forge tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from toolwall import Firewall, SchemaRegistry
from toolwall.identity import JWTVerifier

AUDIENCE = "toolwall"
ISSUER = "https://idp.test"
NOW = 1_800_000_000.0  # a fixed "now" for tokens checked with a controllable clock

SCHEMAS = {
    "email.send": {"type": "object", "properties": {"to": {"type": "string"}}},
    "emailx.send": {"type": "object", "properties": {"to": {"type": "string"}}},
    "email.read": {"type": "object"},
    "fs.read": {"type": "object", "properties": {"path": {"type": "string"}}},
}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Family:
    name: str
    private: Any
    algorithm: str
    public_pem: bytes


def _pem(key: Any) -> bytes:
    return bytes(
        key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


@pytest.fixture(scope="session")
def rsa_key() -> Family:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return Family("rsa", key, "RS256", _pem(key.public_key()))


@pytest.fixture(scope="session")
def ec_key() -> Family:
    key = ec.generate_private_key(ec.SECP256R1())
    return Family("ec", key, "ES256", _pem(key.public_key()))


@pytest.fixture(scope="session")
def ed_key() -> Family:
    key = ed25519.Ed25519PrivateKey.generate()
    return Family("ed25519", key, "EdDSA", _pem(key.public_key()))


@pytest.fixture(scope="session")
def other_ed_key() -> Family:
    key = ed25519.Ed25519PrivateKey.generate()
    return Family("ed25519-other", key, "EdDSA", _pem(key.public_key()))


HMAC_SECRET = b"a-development-secret-of-at-least-32-bytes!"


@pytest.fixture(scope="session")
def hs_key() -> Family:
    return Family("hs256", HMAC_SECRET, "HS256", b"")


@pytest.fixture(params=["rsa", "ec", "ed25519", "hs256"])
def family(request: pytest.FixtureRequest) -> Family:
    """Each algorithm family in turn."""
    name = {"rsa": "rsa_key", "ec": "ec_key", "ed25519": "ed_key", "hs256": "hs_key"}
    result: Family = request.getfixturevalue(name[request.param])
    return result


def claims(**overrides: Any) -> dict[str, Any]:
    """A valid payload at NOW; `None` values remove the claim."""
    base: dict[str, Any] = {
        "sub": "alice",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": int(NOW),
        "nbf": int(NOW),
        "exp": int(NOW) + 900,
        "tools": ["email.*", "fs.read"],
        "groups": ["eng"],
        "sid": "session-1",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(family: Family, payload: dict[str, Any], **headers: Any) -> str:
    """Signed as is: pyjwt's JWS layer, so claims of any type can be put in a token."""
    return jwt.PyJWS().encode(
        json.dumps(payload).encode(),
        family.private,
        algorithm=family.algorithm,
        headers=headers or None,
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    """A token with any header, payload and signature bytes."""
    head = b64(json.dumps(header).encode())
    body = b64(json.dumps(payload).encode())
    return f"{head}.{body}.{b64(signature)}"


def hmac_with(secret: bytes, header: dict[str, Any], payload: dict[str, Any]) -> str:
    """An HS256 token signed with `secret` (pyjwt itself refuses a PEM as an HMAC secret)."""
    head = b64(json.dumps(header).encode())
    body = b64(json.dumps(payload).encode())
    mac = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(mac)}"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def verifier_for(clock: Clock) -> Callable[..., JWTVerifier]:
    def make(family: Family, **options: Any) -> JWTVerifier:
        options.setdefault("issuer", ISSUER)
        options.setdefault("clock", clock)
        if family.name == "hs256":
            return JWTVerifier.from_hmac_secret(
                family.private,
                audience=AUDIENCE,
                algorithms=options.pop("algorithms", ["HS256"]),
                **options,
            )
        return JWTVerifier.from_public_key(
            family.public_pem,
            audience=AUDIENCE,
            algorithms=options.pop("algorithms", [family.algorithm]),
            **options,
        )

    return make


def firewall(verifier: JWTVerifier) -> Firewall:
    return Firewall(schemas=SchemaRegistry.from_dict(SCHEMAS), identity=verifier)
