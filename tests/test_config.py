"""toolwall.toml: defaults, paths relative to the file, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolwall import ConfigError
from toolwall.config import Config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "toolwall.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_the_safe_choice(tmp_path: Path) -> None:
    config = Config.load(write(tmp_path, ""))
    assert config.policy.unknown_tool == "block"
    assert config.limits.max_arg_bytes == 65536
    assert config.limits.max_depth == 32
    assert config.limits.max_string_length == 16384
    assert config.identity is None and config.audit is None
    assert config.approvals.approver == "deny"


def test_paths_resolve_relative_to_the_file(tmp_path: Path) -> None:
    config = Config.load(write(tmp_path, '[policy]\nschemas = "s"\nrules = ["r/a.tw", "/abs"]\n'))
    assert config.resolve(config.policy.schemas) == tmp_path / "s"
    assert [config.resolve(p) for p in config.policy.rule_paths] == [
        tmp_path / "r/a.tw",
        Path("/abs"),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[policy]\nunknown_toll = 'allow'\n", "policy.unknown_toll: unknown key"),
        (
            "[policy]\nunknown_tool = 'maybe'\n",
            "policy.unknown_tool: Input should be 'block' or 'allow'",
        ),
        ("[limits]\nmax_depth = 'deep'\n", "limits.max_depth: Input should be a valid integer"),
        ("[limits]\nmax_arg_bytes = 0\n", "limits.max_arg_bytes: Input should be greater than 0"),
        ("[polcy]\n", "polcy: unknown key"),
        ("[identity]\naudience = 'toolwall'\n", "identity.algorithms: required key is missing"),
        (
            "[identity]\naudience = 'a'\nalgorithms = ['none']\nhs256_secret_env = 'S'\n",
            'identity.algorithms: "none" is never accepted',
        ),
        (
            "[identity]\naudience = 'a'\nalgorithms = ['EdDSA']\n",
            "identity: set exactly one key source",
        ),
        (
            "[audit]\non_failure = 'ignore'\n",
            "audit.on_failure: Input should be 'block' or 'allow'",
        ),
        ("[mcp.servers.git]\nargs = []\n", "mcp.servers.git: set exactly one of command"),
        ("[policy\n", "invalid TOML"),
        ("base_dir = '/'\n", "base_dir: unknown key"),
    ],
)
def test_broken_configuration_names_the_key(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        Config.load(write(tmp_path, text))
    assert expected in str(info.value)
    assert str(tmp_path / "toolwall.toml") in str(info.value)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such configuration file"):
        Config.load(tmp_path / "nope.toml")


def test_the_demo_configuration_loads() -> None:
    root = Path(__file__).resolve().parent.parent
    config = Config.load(root / "toolwall.toml")
    assert config.resolve(config.policy.schemas) == root / "schemas"
