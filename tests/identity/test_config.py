"""`[identity]`: what the configuration refuses at load time, and `identity_warnings`."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from toolwall.config import Config, IdentityConfig
from toolwall.errors import ConfigError
from toolwall.identity import JWTVerifier, identity_warnings
from toolwall.identity.devkeys import mint_token

from .conftest import Family


def load(tmp_path: Path, identity: str) -> Config:
    (tmp_path / "toolwall.toml").write_text("[identity]\n" + identity)
    return Config.load(tmp_path / "toolwall.toml")


@pytest.mark.parametrize(
    ("identity", "message"),
    [
        (
            'audience = "toolwall"\nalgorithms = ["RS256", "HS256"]\npublic_key_file = "k.pem"\n',
            "HS256 needs hs256_secret_env",
        ),
        (
            'audience = "toolwall"\nalgorithms = ["HS256"]\njwks_url = "https://idp.test/jwks"\n',
            "HS256 needs hs256_secret_env",
        ),
        (
            'audience = "toolwall"\nalgorithms = ["HS256", "RS256"]\nhs256_secret_env = "S"\n',
            "cannot verify RS256",
        ),
        ('audience = "toolwall"\nalgorithms = ["none"]\npublic_key_file = "k"\n', '"none"'),
        ('audience = "toolwall"\nalgorithms = []\npublic_key_file = "k"\n', "at least one"),
        ('audience = "toolwall"\nalgorithms = ["XS256"]\npublic_key_file = "k"\n', "unknown"),
        ('audience = "toolwall"\nalgorithms = ["EdDSA"]\n', "exactly one key source"),
        (
            'audience = "toolwall"\nalgorithms = ["EdDSA"]\n'
            'jwks_file = "a"\npublic_key_file = "b"\n',
            "exactly one key source",
        ),
        (
            'audience = "toolwall"\nalgorithms = ["EdDSA"]\njwks_url = "http://idp.test/jwks"\n',
            "https",
        ),
        ('audience = ""\nalgorithms = ["EdDSA"]\npublic_key_file = "k"\n', "identity.audience"),
        ('algorithms = ["EdDSA"]\npublic_key_file = "k"\n', "identity.audience"),
        (
            'audience = "toolwall"\nalgorithms = ["EdDSA"]\npublic_key_file = "k"\nkid = "x"\n',
            "identity.kid: unknown key",
        ),
    ],
)
def test_refused_at_load(tmp_path: Path, identity: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(tmp_path, identity)


def write_public(tmp_path: Path, key: Any, name: str = "idp.pem") -> Path:
    path = tmp_path / name
    path.write_bytes(
        key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


@pytest.mark.parametrize(
    ("key", "algorithms", "message"),
    [
        (ec.generate_private_key(ec.SECP256R1()), ["ES384"], "ES384 cannot use"),
        (ed25519.Ed25519PrivateKey.generate(), ["RS256"], "RS256 cannot use"),
        (rsa.generate_private_key(65537, 1024), ["RS256"], "below the minimum"),
    ],
)
def test_key_must_fit_the_algorithms(
    tmp_path: Path, key: Any, algorithms: list[str], message: str
) -> None:
    write_public(tmp_path, key.public_key())
    cfg = IdentityConfig(
        audience="toolwall", algorithms=algorithms, public_key_file=Path("idp.pem")
    )
    with pytest.raises(ConfigError, match=message):
        JWTVerifier.from_config(cfg, tmp_path)


def test_public_key_file_problems(tmp_path: Path, ed_key: Family) -> None:
    cfg = IdentityConfig(audience="toolwall", algorithms=["EdDSA"], public_key_file=Path("k.pem"))
    with pytest.raises(ConfigError, match=r"k\.pem: no such file"):
        JWTVerifier.from_config(cfg, tmp_path)
    (tmp_path / "k.pem").write_bytes(
        ed_key.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(ConfigError, match="private key"):
        JWTVerifier.from_config(cfg, tmp_path)
    (tmp_path / "k.pem").write_text("hello")
    with pytest.raises(ConfigError, match="not a PEM public key"):
        JWTVerifier.from_config(cfg, tmp_path)


def test_certificate_as_public_key_file(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idp.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "idp.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    config = load(
        tmp_path, 'audience = "toolwall"\nalgorithms = ["ES256"]\npublic_key_file = "idp.crt"\n'
    )
    assert config.identity is not None
    verifier = JWTVerifier.from_config(config.identity, config.base_dir)
    token = mint_token(key, sub="svc", tools=["fs.read"], ttl_s=60, audience="toolwall")
    assert verifier.verify(token).sub == "svc"


def test_hs256_secret_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import jwt

    config = load(
        tmp_path, 'audience = "toolwall"\nalgorithms = ["HS256"]\nhs256_secret_env = "TW_SECRET"\n'
    )
    assert config.identity is not None
    monkeypatch.delenv("TW_SECRET", raising=False)
    with pytest.raises(ConfigError, match="TW_SECRET is not set"):
        JWTVerifier.from_config(config.identity, tmp_path)
    monkeypatch.setenv("TW_SECRET", "short")
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        JWTVerifier.from_config(config.identity, tmp_path)
    secret = "x" * 40
    monkeypatch.setenv("TW_SECRET", secret)
    verifier = JWTVerifier.from_config(config.identity, tmp_path)
    token = jwt.encode(
        {"sub": "dev", "aud": "toolwall", "exp": 4_000_000_000, "tools": ["*"]},
        secret,
        algorithm="HS256",
    )
    assert verifier.verify(token).tools == ("*",)
    # The secret as a PEM "public key" is refused outright.
    monkeypatch.setenv("TW_SECRET", "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END")
    with pytest.raises(ConfigError):
        JWTVerifier.from_config(config.identity, tmp_path)


def test_library_constructors_refuse_unsafe_combinations(ed_key: Family) -> None:
    with pytest.raises(ConfigError, match="none"):
        JWTVerifier.from_public_key(ed_key.public_pem, audience="toolwall", algorithms=["none"])
    with pytest.raises(ConfigError, match="HS256"):
        JWTVerifier.from_public_key(ed_key.public_pem, audience="toolwall", algorithms=["HS256"])
    with pytest.raises(ConfigError, match="HMAC secret"):
        JWTVerifier.from_hmac_secret(b"k" * 32, audience="toolwall", algorithms=["EdDSA"])
    with pytest.raises(ConfigError, match="audience"):
        JWTVerifier.from_public_key(ed_key.public_pem, audience="")


def test_identity_warnings() -> None:
    hs = IdentityConfig(audience="toolwall", algorithms=["HS256"], hs256_secret_env="S")
    assert any("hs256_secret_env" in w and "development" in w for w in identity_warnings(hs))
    clean = IdentityConfig(
        audience="toolwall",
        issuer="https://idp.test",
        algorithms=["RS256"],
        jwks_url="https://idp.test/jwks",
    )
    assert identity_warnings(clean) == []
    no_issuer = IdentityConfig(
        audience="toolwall", algorithms=["RS256"], jwks_url="https://idp.test/jwks"
    )
    assert any("issuer" in w for w in identity_warnings(no_issuer))
    assert (
        identity_warnings(
            IdentityConfig(audience="toolwall", algorithms=["EdDSA"], public_key_file=Path("k"))
        )
        == []
    )
