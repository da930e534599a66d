"""The state backends under test: memory, SQLite (a real file) and Redis (a real redis-server,
one per test session; each test gets a key prefix of its own)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.state.redis_server import RedisServer
from toolwall.config import StateConfig
from toolwall.state import State, memory_state
from toolwall.state.sqlite import sqlite_state

BACKENDS = ["memory", "sqlite", "redis"]
_prefixes = itertools.count()

StateFactory = Callable[..., State]


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


def build_state(
    backend: str, folder: Path, redis_url: str | None, prefix: str = "toolwall:", **bounds: Any
) -> State:
    """A state as `[state]` with `bounds` builds it (the loader's own builders)."""
    if backend == "memory":
        settings = StateConfig(**bounds)
        return memory_state(
            max_sessions=settings.max_sessions,
            max_tools_per_session=settings.max_tools_per_session,
            max_remembered_calls=settings.max_remembered_calls,
            session_ttl_s=settings.session_ttl_s,
        )
    if backend == "sqlite":
        path = folder / "state.db"
        return sqlite_state(path, StateConfig(backend="sqlite", url=str(path), **bounds))
    from toolwall.state.redis_state import redis_state

    assert redis_url is not None
    settings = StateConfig(backend="redis", url=redis_url, key_prefix=prefix, **bounds)
    return redis_state(redis_url, settings)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_state(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[StateFactory]:
    """`make_state(**bounds)`: a state of the backend under test. The states one test makes
    share their storage (the SQLite file, the Redis key prefix), as processes of one deployment
    do; memory states share nothing."""
    made: list[State] = []
    url = request.getfixturevalue("redis_server").url if backend == "redis" else None
    prefix = f"t{next(_prefixes)}:"

    def make(**bounds: Any) -> State:
        state = build_state(backend, tmp_path, url, prefix, **bounds)
        made.append(state)
        return state

    yield make
    for state in made:
        state.close()
