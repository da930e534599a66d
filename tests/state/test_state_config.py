"""`[state]` in toolwall.toml: validated keys, and the loader building each backend from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.state.helpers import BOB, project
from tests.state.redis_server import RedisServer
from toolwall import ConfigError, Firewall
from toolwall.config import Config
from toolwall.state.memory import MemorySessions
from toolwall.state.redis_state import RedisSessions
from toolwall.state.sqlite_sessions import SQLiteSessions


def load(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "toolwall.toml"
    path.write_text(text, encoding="utf-8")
    return Config.load(path)


def test_the_default_is_memory_with_bounds(tmp_path: Path) -> None:
    state = load(tmp_path, "").state
    assert (state.backend, state.url, state.key_prefix) == ("memory", "", "toolwall:")
    assert (state.session_ttl_s, state.max_sessions, state.max_tools_per_session) == (
        86_400.0,
        10_000,
        256,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[state]\nbackend = 'postgres'\n", "state.backend: Input should be 'memory', 'sqlite'"),
        ("[state]\nbackend = 'redis'\n", 'backend = "redis" needs a url'),
        ("[state]\nbackend = 'sqlite'\n", 'backend = "sqlite" needs a url'),
        ("[state]\nurl = 'redis://h'\n", "the memory backend has no url"),
        ("[state]\nbackend = 'redis'\nurl = 'http://h'\n", "is not a Redis URL scheme"),
        ("[state]\nbackend = 'redis'\nurl = 'unix+cluster://h'\n", "is not a Redis URL scheme"),
        ("[state]\nkey_prefix = 'a{b}'\n", "cannot contain { or }"),
        ("[state]\nsession_ttl_s = 0\n", "state.session_ttl_s: Input should be greater than 0"),
        ("[state]\nttl = 5\n", "state.ttl: unknown key"),
    ],
)
def test_mistakes_are_load_errors_naming_the_key(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(")):
        load(tmp_path, text)


def test_the_loader_builds_each_backend(tmp_path: Path, redis_server: RedisServer) -> None:
    memory = Firewall.from_config(project(tmp_path / "m", "memory", max_sessions=5))
    assert isinstance(memory.state.sessions, MemorySessions)
    assert memory.state.sessions.max_sessions == 5
    sqlite = Firewall.from_config(project(tmp_path / "s", "sqlite", "state/toolwall.db"))
    assert isinstance(sqlite.state.sessions, SQLiteSessions)
    assert (tmp_path / "s" / "state" / "toolwall.db").stat().st_mode & 0o777 == 0o600
    redis = Firewall.from_config(project(tmp_path / "r", "redis", redis_server.url))
    assert isinstance(redis.state.sessions, RedisSessions)
    for firewall in (memory, sqlite, redis):
        assert firewall.decide({"tool": "email.send", "args": {}}, BOB, session="s").allowed
        ok, detail = firewall.state.health()
        assert ok, detail
        assert firewall.state.stats()["sessions"] == 1


def test_the_url_takes_variables_from_the_environment(
    tmp_path: Path, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = project(tmp_path, "redis", "${TOOLWALL_TEST_REDIS}")
    with pytest.raises(ConfigError, match="TOOLWALL_TEST_REDIS is not set"):
        Firewall.from_config(config)
    monkeypatch.setenv("TOOLWALL_TEST_REDIS", redis_server.url)
    assert Firewall.from_config(config).state.health()[0]


def test_a_password_and_a_user_in_the_url_authenticate(tmp_path: Path) -> None:
    server = RedisServer(
        tmp_path / "redis",
        "--requirepass",
        "s3cret",
        "--user",
        "tw",
        "on",
        ">pw",
        "~*",
        "&*",
        "+@all",
    ).start()
    try:
        base = f"127.0.0.1:{server.port}/0"
        for url in (f"redis://:s3cret@{base}", f"redis://tw:pw@{base}"):
            firewall = Firewall.from_config(project(tmp_path / url[8:10], "redis", url))
            assert firewall.decide({"tool": "email.send", "args": {}}, BOB, session="s").allowed
        wrong = Firewall.from_config(project(tmp_path / "wrong", "redis", f"redis://tw:no@{base}"))
        decision = wrong.decide({"tool": "email.send", "args": {}}, BOB, session="s")
        assert decision.action.value == "block" and decision.reasons[-1].kind.value == "state"
        assert "pw" not in decision.reason and "no@" not in decision.reason  # no credentials
        ok, detail = wrong.state.health()
        assert not ok and "redis://127.0.0.1" in detail and "tw:no" not in detail
    finally:
        server.stop()
