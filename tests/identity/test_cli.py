"""`toolwall init`, `toolwall token mint` and `toolwall token inspect`, through the CLI entry."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import jwt
import pytest

from toolwall import Action, Firewall, SchemaRegistry, ToolCall, cli
from toolwall.config import Config
from toolwall.identity import JWTVerifier


@pytest.fixture(autouse=True)
def identity_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    # Only the commands this branch provides and needs; others (demo, ...) land with their
    # own branches and must not be required to test these.
    monkeypatch.setattr(cli, "COMMANDS", ["toolwall.commands.init", "toolwall.commands.token"])


@pytest.fixture
def policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    assert cli.main(["init"]) == 0
    return tmp_path


def mint(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert cli.main(["token", "mint", *args]) == 0
    out = capsys.readouterr().out.strip()
    assert out.count(".") == 2 and "\n" not in out
    return out


def test_init_scaffolds_a_policy(policy: Path) -> None:
    private = policy / ".toolwall" / "keys" / "toolwall-dev.key"
    public = policy / ".toolwall" / "keys" / "toolwall-dev.pub"
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o600
    assert b"PRIVATE KEY" in private.read_bytes() and b"PUBLIC KEY" in public.read_bytes()
    assert (policy / ".toolwall" / ".gitignore").read_text().strip().endswith("*")
    config = Config.load(policy / "toolwall.toml")
    assert config.identity is not None
    assert config.identity.audience == "toolwall"
    assert config.identity.algorithms == ["EdDSA"]
    assert config.resolve(config.identity.public_key_file) == public  # type: ignore[arg-type]
    schemas = SchemaRegistry.load(policy / "schemas")
    assert schemas.names() == ["email.send"]
    rule = (policy / "rules" / "example.tw").read_text()
    assert "rule mail_outside_company:" in rule and "on email.send" in rule
    # The configured identity loads: the public key fits the algorithm.
    JWTVerifier.from_config(config.identity, config.base_dir)


def test_init_into_a_new_directory(tmp_path: Path) -> None:
    assert cli.main(["init", str(tmp_path / "project")]) == 0
    assert (tmp_path / "project" / "toolwall.toml").is_file()


def test_init_refuses_to_overwrite(
    policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_before = (policy / ".toolwall" / "keys" / "toolwall-dev.key").read_bytes()
    capsys.readouterr()
    assert cli.main(["init"]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    assert (policy / ".toolwall" / "keys" / "toolwall-dev.key").read_bytes() == key_before

    # One existing file is enough to write nothing at all.
    other = tmp_path / "other"
    other.mkdir()
    (other / "toolwall.toml").write_text("# mine\n")
    assert cli.main(["init", str(other)]) == 2
    assert (other / "toolwall.toml").read_text() == "# mine\n"
    assert not (other / "schemas").exists() and not (other / ".toolwall").exists()


def test_mint_then_inspect(policy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    token = mint(
        capsys,
        "--sub", "alice",
        "--tools", "email.*,fs.read",
        "--groups", "eng",
        "--ttl", "15m",
        "--session", "s-1",
        "--claim", "tier=gold",
        "--claim", "level=3",
    )  # fmt: skip
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == "alice" and claims["aud"] == "toolwall"
    assert claims["iss"] == "toolwall-dev"
    assert claims["tools"] == ["email.*", "fs.read"] and claims["groups"] == ["eng"]
    assert claims["sid"] == "s-1" and claims["tier"] == "gold" and claims["level"] == 3
    assert claims["exp"] - claims["iat"] == 900
    assert jwt.get_unverified_header(token)["alg"] == "EdDSA"

    assert cli.main(["token", "inspect", token]) == 0
    out = capsys.readouterr().out
    assert "alice" in out and "email.*, fs.read" in out and "gold" in out

    assert cli.main(["token", "inspect", "--json", token]) == 0
    caller = json.loads(capsys.readouterr().out)
    assert caller["sub"] == "alice" and caller["authenticated"] is True
    assert caller["tools"] == ["email.*", "fs.read"] and caller["session"] == "s-1"


def test_minted_tokens_decide_calls(policy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = Config.load(policy / "toolwall.toml")
    assert config.identity is not None
    firewall = Firewall(
        schemas=SchemaRegistry.load(policy / "schemas"),
        identity=JWTVerifier.from_config(config.identity, config.base_dir),
    )
    call = ToolCall(tool="email.send", args={"to": ["a@example.com"], "subject": "s", "body": "b"})
    alice = mint(capsys, "--sub", "alice", "--tools", "email.*")
    bob = mint(capsys, "--sub", "bob", "--tools", "fs.read")
    assert firewall.decide(call, token=alice).action is Action.ALLOW
    blocked = firewall.decide(call, token=bob)
    assert blocked.action is Action.BLOCK and blocked.reason == "bob is not granted email.send"


def test_inspect_refused_token_exits_1_with_the_reason(
    policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = mint(capsys, "--sub", "alice", "--tools", "fs.read")
    head, body, sig = token.split(".")
    forged = json.loads(jwt.utils.base64url_decode(body))
    forged["tools"] = ["*"]
    tampered = f"{head}.{jwt.utils.base64url_encode(json.dumps(forged).encode()).decode()}.{sig}"
    assert cli.main(["token", "inspect", tampered]) == 1
    out = capsys.readouterr().out
    assert "refused" in out and "(bad_signature)" in out and tampered not in out

    assert cli.main(["token", "inspect", "not-a-token"]) == 1
    assert "(malformed)" in capsys.readouterr().out


def test_inspect_reads_stdin(
    policy: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    token = mint(capsys, "--sub", "carol")
    monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))
    assert cli.main(["token", "inspect", "-"]) == 0
    assert "carol" in capsys.readouterr().out


def test_expired_token_from_mint_is_refused(
    policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from toolwall.identity.devkeys import mint_token

    token = mint_token(
        policy / ".toolwall" / "keys" / "toolwall-dev.key",
        sub="alice",
        tools=["fs.read"],
        ttl_s=60,
        audience="toolwall",
        issuer="toolwall-dev",
        now=1_000_000_000,
    )
    assert cli.main(["token", "inspect", token]) == 1
    assert "(expired)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ttl", "15"], "invalid duration"),
        (["--ttl", "0m"], "must be positive"),
        (["--claim", "novalue"], "NAME=VALUE"),
        (["--claim", "aud=other"], "set by the minting options"),
        (["--claim", 'tools=["*"]'], "set by the minting options"),
        (["--key", "missing.key"], "no such private key file"),
    ],
)
def test_mint_usage_errors(
    policy: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    capsys.readouterr()
    assert cli.main(["token", "mint", "--sub", "alice", *args]) == 2
    assert message in capsys.readouterr().err


def test_mint_without_identity_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "toolwall.toml").write_text("[policy]\n")
    code = cli.main(["token", "mint", "--sub", "a", "--config", str(tmp_path / "toolwall.toml")])
    assert code == 2
    assert "no [identity] section" in capsys.readouterr().err


def test_mint_refuses_a_key_the_config_does_not_allow(
    policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cryptography.hazmat.primitives import serialization

    from toolwall.identity.devkeys import generate_private_key

    rsa_pem = generate_private_key("rsa").private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (policy / "rsa.key").write_bytes(rsa_pem)
    assert cli.main(["token", "mint", "--sub", "a", "--key", "rsa.key"]) == 2
    assert "signs RS256" in capsys.readouterr().err


def test_ttl_syntax() -> None:
    from toolwall.identity.devkeys import parse_ttl

    assert parse_ttl("30s") == 30
    assert parse_ttl("15m") == 900
    assert parse_ttl("12h") == 43200
    assert parse_ttl("7d") == 604800
    assert parse_ttl("1h30m") == 5400


def test_scaffold_loads_as_a_firewall(policy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The whole scaffold through `Firewall.from_config` (its rule needs the rule language)."""
    firewall = Firewall.from_config(policy / "toolwall.toml")
    assert isinstance(firewall.identity, JWTVerifier)
    alice = mint(capsys, "--sub", "alice", "--tools", "email.*")
    bob = mint(capsys, "--sub", "bob", "--tools", "fs.read")
    inside = {"to": ["a@example.com"], "subject": "s", "body": "b"}
    outside = {"to": ["a@elsewhere.test"], "subject": "s", "body": "b"}
    assert firewall.decide({"tool": "email.send", "args": inside}, token=alice).allowed
    held = firewall.decide({"tool": "email.send", "args": outside}, token=alice)
    assert held.action is Action.ESCALATE and held.rules == ["mail_outside_company"]
    blocked = firewall.decide({"tool": "email.send", "args": inside}, token=bob)
    assert blocked.action is Action.BLOCK and blocked.reason == "bob is not granted email.send"


def test_mint_and_inspect_with_config_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["init", str(tmp_path / "project")]) == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = str(tmp_path / "project" / "toolwall.toml")
    token = mint(capsys, "--sub", "dora", "--tools", "fs.read", "--config", config)
    assert cli.main(["token", "inspect", token, "--config", config]) == 0
    assert "dora" in capsys.readouterr().out
    # Without --config there is no ./toolwall.toml here: a usage error, exit 2.
    assert cli.main(["token", "inspect", token]) == 2
    assert "no such configuration file" in capsys.readouterr().err
