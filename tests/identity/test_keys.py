"""`toolwall.identity.keys`: a static JWKS file, and a JWKS URL served from 127.0.0.1 (rotation,
caching, outages, and independence from pyjwt's private names)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from toolwall import Action, ToolCall
from toolwall.config import Config, IdentityConfig
from toolwall.errors import ConfigError
from toolwall.identity import JWTVerifier, KeySetUnavailable, UnknownKeyId
from toolwall.identity.keys import RemoteJWKS

from .conftest import NOW, Clock, claims, firewall
from .test_refusals import assert_refused


def jwk(private: Any, kid: str, **extra: Any) -> dict[str, Any]:
    public = private.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        data = jwt.algorithms.RSAAlgorithm.to_jwk(public, as_dict=True)
    elif isinstance(public, ec.EllipticCurvePublicKey):
        data = jwt.algorithms.ECAlgorithm.to_jwk(public, as_dict=True)
    else:
        data = jwt.algorithms.OKPAlgorithm.to_jwk(public, as_dict=True)
    return {**data, "kid": kid, **extra}


def token(private: Any, alg: str, kid: str | None, **overrides: Any) -> str:
    headers = {"kid": kid} if kid is not None else None
    return jwt.encode(claims(iss=None, **overrides), private, algorithm=alg, headers=headers)


class JWKSServer:
    """Serves `self.jwks` on http://127.0.0.1:<port>/jwks and counts the requests."""

    def __init__(self) -> None:
        self.jwks: Any = {"keys": []}
        self.status = 200
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests += 1
                jwks = server.jwks
                body = jwks if isinstance(jwks, bytes) else json.dumps(jwks).encode()
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> JWKSServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def server() -> Iterator[JWKSServer]:
    with JWKSServer() as running:
        yield running


def remote(url: str, clock: Clock, **options: Any) -> JWTVerifier:
    options.setdefault("refresh_cooldown_s", 0)
    return JWTVerifier.from_jwks_url(
        url,
        audience="toolwall",
        algorithms=options.pop("algorithms", ["EdDSA"]),
        clock=clock,
        **options,
    )


def test_rotation_picks_up_a_new_kid(server: JWKSServer, clock: Clock) -> None:
    old, new = ed25519.Ed25519PrivateKey.generate(), ed25519.Ed25519PrivateKey.generate()
    server.jwks = {"keys": [jwk(old, "2026-01")]}
    verifier = remote(server.url, clock)
    assert verifier.verify(token(old, "EdDSA", "2026-01")).sub == "alice"
    assert verifier.verify(token(old, "EdDSA", "2026-01", sub="bob")).sub == "bob"
    assert server.requests == 1  # the key set is cached

    # The provider rotates: the new key is published, the old one withdrawn.
    server.jwks = {"keys": [jwk(new, "2026-02")]}
    assert verifier.verify(token(new, "EdDSA", "2026-02")).sub == "alice"
    assert server.requests == 2  # the unknown kid forced one refetch
    assert verifier.verify(token(new, "EdDSA", "2026-02", sub="carol")).sub == "carol"
    assert server.requests == 2

    # A new token under the withdrawn key is now refused, and the call blocked.
    assert_refused(
        verifier, token(old, "EdDSA", "2026-01", sub="dave"), "unknown_kid", UnknownKeyId
    )


def test_refresh_cooldown_limits_refetches(server: JWKSServer, clock: Clock) -> None:
    key, other = ed25519.Ed25519PrivateKey.generate(), ed25519.Ed25519PrivateKey.generate()
    server.jwks = {"keys": [jwk(key, "a")]}
    verifier = remote(server.url, clock, refresh_cooldown_s=3600)
    verifier.verify(token(key, "EdDSA", "a"))
    server.jwks = {"keys": [jwk(key, "a"), jwk(other, "b")]}
    for made_up in ("x1", "x2", "b"):
        _, reason = verifier.caller_for(token(other, "EdDSA", made_up))
        assert reason is not None and "(unknown_kid)" in reason.message
    assert server.requests == 1


def test_token_without_kid_is_refused_for_a_jwks_url(server: JWKSServer, clock: Clock) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    server.jwks = {"keys": [jwk(key, "a")]}
    reason = assert_refused(
        remote(server.url, clock), token(key, "EdDSA", None), "unknown_kid", UnknownKeyId
    )
    assert "no kid" in reason.message


def test_jwks_unreachable(clock: Clock) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port any more: connection refused.
    verifier = remote(f"http://127.0.0.1:{port}/jwks", clock)
    key = ed25519.Ed25519PrivateKey.generate()
    reason = assert_refused(
        verifier, token(key, "EdDSA", "a"), "jwks_unreachable", KeySetUnavailable
    )
    assert f"127.0.0.1:{port}" in reason.message


def test_jwks_timeout(clock: Clock) -> None:
    # A server that accepts the connection and never answers: the fetch times out.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        verifier = remote(f"http://127.0.0.1:{silent.getsockname()[1]}/jwks", clock, timeout_s=0.3)
        key = ed25519.Ed25519PrivateKey.generate()
        assert_refused(verifier, token(key, "EdDSA", "a"), "jwks_unreachable", KeySetUnavailable)


@pytest.mark.parametrize(
    ("status", "body"),
    [(500, {"keys": []}), (200, b"<html>not json</html>"), (200, {"keys": []}), (200, [1, 2])],
)
def test_jwks_unusable(server: JWKSServer, clock: Clock, status: int, body: Any) -> None:
    server.status, server.jwks = status, body
    key = ed25519.Ed25519PrivateKey.generate()
    verifier = remote(server.url, clock)
    assert_refused(verifier, token(key, "EdDSA", "a"), "jwks_unreachable", KeySetUnavailable)


def test_symmetric_key_in_a_jwks_is_never_used(server: JWKSServer, clock: Clock) -> None:
    secret = b"s" * 32
    oct_key = {"kty": "oct", "k": jwt.utils.base64url_encode(secret).decode(), "kid": "sym"}
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    server.jwks = {"keys": [oct_key, jwk(rsa_key, "r")]}
    verifier = remote(server.url, clock, algorithms=["RS256"])
    assert verifier.verify(token(rsa_key, "RS256", "r")).sub == "alice"
    forged = jwt.encode(claims(iss=None), secret, algorithm="HS256", headers={"kid": "sym"})
    _, reason = verifier.caller_for(forged)
    assert reason is not None and "(key_confusion)" in reason.message
    # Even with an allowed alg in the header, the symmetric key is not a signing key here.
    head = jwt.utils.base64url_encode(json.dumps({"alg": "RS256", "kid": "sym"}).encode())
    _, body, sig = forged.split(".")
    _, reason = verifier.caller_for(f"{head.decode()}.{body}.{sig}")
    assert reason is not None and "(unknown_kid)" in reason.message


def test_jwk_without_alg_verifies_every_allowed_algorithm_of_its_type(
    server: JWKSServer, clock: Clock
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    server.jwks = {"keys": [jwk(key, "r")]}
    verifier = remote(server.url, clock, algorithms=["RS256", "PS256"])
    assert verifier.verify(token(key, "PS256", "r")).sub == "alice"
    assert verifier.verify(token(key, "RS256", "r", sub="bob")).sub == "bob"
    # A JWK that declares its alg is used for that alg only.
    server.jwks = {"keys": [jwk(key, "r2", alg="RS256")]}
    _, reason = verifier.caller_for(token(key, "PS256", "r2"))
    assert reason is not None and "(alg_not_allowed)" in reason.message


class Monotonic:
    """A monotonic clock the test moves by hand (the key set cache's clock)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_key_set_is_cached_for_cache_s(server: JWKSServer) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    server.jwks = {"keys": [jwk(key, "a")]}
    monotonic = Monotonic()
    source = RemoteJWKS(server.url, cache_s=60, refresh_cooldown_s=30, clock=monotonic)
    source.key_for("a", "EdDSA")
    monotonic.now += 60
    source.key_for("a", "EdDSA")
    assert server.requests == 1  # still fresh at exactly cache_s
    monotonic.now += 0.5
    source.key_for("a", "EdDSA")
    assert server.requests == 2  # expired: fetched again


def test_without_a_cache_every_lookup_fetches_and_no_cooldown_applies(
    server: JWKSServer,
) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    server.jwks = {"keys": [jwk(key, "a")]}
    source = RemoteJWKS(server.url, cache_s=0, refresh_cooldown_s=3600, clock=Monotonic())
    source.key_for("a", "EdDSA")
    source.key_for("a", "EdDSA")
    assert server.requests == 2
    with pytest.raises(UnknownKeyId):
        source.key_for("missing", "EdDSA")
    assert server.requests == 4  # the lookup, then the refetch an unknown kid asks for


def test_an_unknown_kid_refetches_once_the_cooldown_is_over(server: JWKSServer) -> None:
    old, new = ed25519.Ed25519PrivateKey.generate(), ed25519.Ed25519PrivateKey.generate()
    server.jwks = {"keys": [jwk(old, "old")]}
    monotonic = Monotonic()
    source = RemoteJWKS(server.url, cache_s=300, refresh_cooldown_s=30, clock=monotonic)
    source.key_for("old", "EdDSA")
    server.jwks = {"keys": [jwk(new, "new")]}
    monotonic.now += 29
    with pytest.raises(UnknownKeyId):  # the set was fetched 29 s ago: no refetch yet
        source.key_for("new", "EdDSA")
    assert server.requests == 1
    monotonic.now += 1
    assert source.key_for("new", "EdDSA") is not None
    assert server.requests == 2


def test_a_set_without_signing_keys_is_refused_as_before(server: JWKSServer, clock: Clock) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    server.jwks = {"keys": [jwk(key, "enc", use="enc"), {**jwk(key, "x"), "kid": None}]}
    reason = assert_refused(
        remote(server.url, clock), token(key, "EdDSA", "enc"), "jwks_unreachable", KeySetUnavailable
    )
    assert reason.message == (
        f"token refused (jwks_unreachable): the JWKS at {server.url} is unusable: "
        "The JWKS endpoint did not contain any signing keys"
    )


def test_the_first_key_of_a_kid_that_pyjwt_can_read_is_the_one_used(
    server: JWKSServer, clock: Clock
) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    unreadable = {"kty": "OKP", "crv": "X9999", "x": "AAAA", "kid": "k"}
    server.jwks = {"keys": [unreadable, jwk(key, "k")]}
    assert remote(server.url, clock).verify(token(key, "EdDSA", "k")).sub == "alice"


class PyJWKWithRenamedInternals(jwt.PyJWK):
    """pyjwt's PyJWK as a release could reshape it: the JWK it was built from kept under another
    private name. Its public API is unchanged."""

    def __init__(self, jwk_data: dict[str, Any], algorithm: str | None = None) -> None:
        super().__init__(jwk_data, algorithm)
        self._renamed = self.__dict__.pop("_jwk_data")

    def __getattr__(self, name: str) -> Any:
        if name == "_jwk_data":
            raise AttributeError("'PyJWK' object has no attribute '_jwk_data'")
        raise AttributeError(name)

    @property
    def key_type(self) -> str | None:
        return self._renamed.get("kty")  # type: ignore[no-any-return]

    @property
    def key_id(self) -> str | None:
        return self._renamed.get("kid")  # type: ignore[no-any-return]

    @property
    def public_key_use(self) -> str | None:
        return self._renamed.get("use")  # type: ignore[no-any-return]


def test_tokens_from_a_jwks_url_verify_whatever_pyjwk_keeps_privately(
    server: JWKSServer, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jwt, "PyJWK", PyJWKWithRenamedInternals)
    monkeypatch.setattr(jwt.api_jwk, "PyJWK", PyJWKWithRenamedInternals)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    server.jwks = {"keys": [jwk(rsa_key, "r")]}
    verifier = remote(server.url, clock, algorithms=["RS256", "PS256"])
    # PS256 needs the key rebuilt for the token's algorithm from the JWK itself.
    assert verifier.verify(token(rsa_key, "PS256", "r")).sub == "alice"
    assert verifier.verify(token(rsa_key, "RS256", "r", sub="bob")).sub == "bob"


def test_a_refresh_cooldown_that_is_not_a_finite_duration_is_a_load_error() -> None:
    for cooldown in (-1.0, float("inf"), float("nan")):
        with pytest.raises(ConfigError, match="refresh cooldown"):
            RemoteJWKS("https://idp.test/jwks", refresh_cooldown_s=cooldown)
    with pytest.raises(ConfigError, match="jwks_url: Invalid JWKS URI scheme"):
        RemoteJWKS("file:///etc/jwks.json")


# -- jwks_file ----------------------------------------------------------------------------------


def write_jwks(tmp_path: Path, keys: list[dict[str, Any]]) -> Path:
    path = tmp_path / "keys" / "jwks.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({"keys": keys}))
    return path


def test_jwks_file_from_config(tmp_path: Path, clock: Clock) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    write_jwks(tmp_path, [jwk(rsa_key, "r"), jwk(ec_key, "e"), {"kty": "oct", "k": "c2VjcmV0"}])
    cfg = IdentityConfig(
        audience="toolwall", algorithms=["RS256", "ES256"], jwks_file=Path("keys/jwks.json")
    )
    verifier = JWTVerifier.from_config(cfg, tmp_path, clock=clock)
    assert verifier.verify(token(rsa_key, "RS256", "r")).sub == "alice"
    assert verifier.verify(token(ec_key, "ES256", "e")).sub == "alice"
    # The EC key cannot verify RS256, whatever the header says.
    _, reason = verifier.caller_for(token(rsa_key, "RS256", "e"))
    assert reason is not None and "(alg_not_allowed)" in reason.message
    decision = firewall(verifier).decide(
        ToolCall(tool="email.send", args={}), token=token(ec_key, "ES256", "e", exp=int(NOW) - 99)
    )
    assert decision.action is Action.BLOCK and "(expired)" in decision.reason


def test_jwks_file_single_key_needs_no_kid(tmp_path: Path, clock: Clock) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    write_jwks(tmp_path, [jwk(key, "only")])
    cfg = IdentityConfig(
        audience="toolwall", algorithms=["EdDSA"], jwks_file=Path("keys/jwks.json")
    )
    verifier = JWTVerifier.from_config(cfg, tmp_path, clock=clock)
    assert verifier.verify(token(key, "EdDSA", None)).sub == "alice"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not a JSON key set"),
        ('{"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "s"}]}', "no usable signing key"),
        ('{"nokeys": 1}', '"keys" list'),
        ("[1]", '"keys" list'),
    ],
)
def test_bad_jwks_file_is_a_load_error(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "jwks.json").write_text(content)
    cfg = IdentityConfig(audience="toolwall", algorithms=["EdDSA"], jwks_file=Path("jwks.json"))
    with pytest.raises(ConfigError, match=message):
        JWTVerifier.from_config(cfg, tmp_path)


def test_jwks_url_from_config(server: JWKSServer, tmp_path: Path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    server.jwks = {"keys": [jwk(key, "k")]}
    (tmp_path / "toolwall.toml").write_text(
        f'[identity]\naudience = "toolwall"\nalgorithms = ["EdDSA"]\njwks_url = "{server.url}"\n'
        "jwks_timeout_s = 2\njwks_cache_s = 60\njwks_refresh_cooldown_s = 0\n"
    )
    config = Config.load(tmp_path / "toolwall.toml")
    assert config.identity is not None
    verifier = JWTVerifier.from_config(config.identity, config.base_dir)
    live = jwt.encode(
        {"sub": "alice", "aud": "toolwall", "exp": 4_000_000_000, "tools": ["fs.read"]},
        key,
        algorithm="EdDSA",
        headers={"kid": "k"},
    )
    assert verifier.verify(live).tools == ("fs.read",)


@pytest.mark.filterwarnings(
    "ignore::jwt.warnings.InsecureKeyLengthWarning"
)  # signing the test token
def test_jwks_keys_that_do_not_fit_are_refused(server: JWKSServer, clock: Clock) -> None:
    p384 = ec.generate_private_key(ec.SECP384R1())
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    server.jwks = {"keys": [jwk(p384, "p384"), jwk(weak, "weak")]}
    verifier = remote(server.url, clock, algorithms=["ES256", "RS256"])
    # A P-384 key presented for ES256 (pyjwt would otherwise infer ES384 from the curve).
    forged_header = jwt.encode(claims(iss=None), p384, algorithm="ES384", headers={"kid": "p384"})
    head = jwt.utils.base64url_encode(json.dumps({"alg": "ES256", "kid": "p384"}).encode())
    _, body, sig = forged_header.split(".")
    _, reason = verifier.caller_for(f"{head.decode()}.{body}.{sig}")
    assert reason is not None and "(alg_not_allowed)" in reason.message
    _, reason = verifier.caller_for(token(weak, "RS256", "weak"))
    assert reason is not None and "(alg_not_allowed)" in reason.message and "1024" in reason.message
