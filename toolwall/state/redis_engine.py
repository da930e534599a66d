"""The Redis client toolwall's Redis stores share: connection, scripts, failures, health.

See `toolwall.state.redis_state` for the design; this module only talks to Redis.
"""

from __future__ import annotations

import threading
import time
from importlib import resources
from typing import Any
from urllib.parse import unquote, urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from toolwall.state.base import Health, StateUnavailable

SCRIPTS = ("turn", "release", "taint", "forget", "approval_open", "approval_answer",
           "approval_consume")  # fmt: skip


def _lua(name: str) -> str:
    return resources.files("toolwall.state").joinpath(f"lua/{name}.lua").read_text("utf-8")


def connect(url: str, timeout_s: float) -> Any:
    """A client for `url` that fails fast: `timeout_s` for connecting and for each answer, no
    retries (a decision must not wait for several timeouts)."""
    scheme, _, rest = url.partition("://")
    base, _, mode = scheme.lower().partition("+")
    options: dict[str, Any] = {
        "socket_timeout": timeout_s,
        "socket_connect_timeout": timeout_s,
        "retry": Retry(NoBackoff(), 0),
    }
    if mode == "cluster":
        from redis.cluster import RedisCluster

        return RedisCluster.from_url(f"{base}://{rest}", **options)
    if mode == "sentinel":
        return _sentinel_primary(base, rest, options)
    return redis.Redis.from_url(url, **options)


def _sentinel_primary(base: str, rest: str, options: dict[str, Any]) -> Any:
    from redis.sentinel import Sentinel

    parts = urlsplit(f"{base}://{rest}")
    hosts_part = parts.netloc.rpartition("@")[2]
    hosts = [_host_port(item) for item in hosts_part.split(",")]
    path = [p for p in parts.path.split("/") if p]
    if not path:
        raise StateUnavailable(
            f"a redis+sentinel URL names its service: {base}+sentinel://host:26379/SERVICE[/DB]"
        )
    connection: dict[str, Any] = {
        **options,
        "username": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
    }
    if base == "rediss":
        connection["ssl"] = True
    sentinel = Sentinel(
        hosts,
        sentinel_kwargs={**options, **({"ssl": True} if base == "rediss" else {})},
        db=int(path[1]) if len(path) > 1 else 0,
        **connection,
    )
    return sentinel.master_for(path[0], **options)


def _host_port(item: str) -> tuple[str, int]:
    """`host:port`, `[v6]:port`, or a host alone (Sentinel's port, 26379)."""
    if item.startswith("["):
        host, _, port = item[1:].partition("]")
        port = port.removeprefix(":")
    else:
        host, _, port = item.partition(":")
    return host, int(port) if port else 26379


def describe(url: str) -> str:
    """The URL without its credentials, for messages and `/healthz`."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"


class RedisEngine:
    """One Redis client and toolwall's scripts, shared by the three stores.

    `call` runs one operation and turns every failure into `StateUnavailable`; the client is
    made on first use (a firewall starts while Redis is down, and its decisions block until
    Redis is back).
    """

    def __init__(self, url: str, *, key_prefix: str = "toolwall:", timeout_s: float = 0.5):
        self.url = url
        self.where = describe(url)
        self.timeout_s = timeout_s
        self.base = "{" + key_prefix + "}"
        self._client: Any = None
        self._scripts: dict[str, Any] = {}
        self._lock = threading.Lock()

    def client(self) -> Any:
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    made = connect(self.url, self.timeout_s)
                    try:
                        refuse_evicting(made, self.where)
                    except BaseException:
                        made.close()
                        raise
                    self._scripts = {name: made.register_script(_lua(name)) for name in SCRIPTS}
                    self._client = made
                client = self._client
        return client

    def call(self, operation: Any) -> Any:
        """`operation(client)`, with Redis's failures as `StateUnavailable`."""
        try:
            return operation(self.client())
        except StateUnavailable:
            raise
        except redis.exceptions.TimeoutError as exc:
            raise StateUnavailable(
                f"Redis at {self.where} did not answer within {self.timeout_s:g} s "
                f"([state] timeout_s): {exc}"
            ) from None
        except redis.exceptions.AuthenticationError as exc:
            raise StateUnavailable(
                f"Redis at {self.where} refused the credentials: {exc}"
            ) from None
        except redis.exceptions.ConnectionError as exc:
            raise StateUnavailable(f"Redis at {self.where} cannot be reached: {exc}") from None
        except redis.exceptions.RedisError as exc:
            raise StateUnavailable(
                f"Redis at {self.where} failed: {type(exc).__name__}: {exc}"
            ) from None
        except OSError as exc:
            raise StateUnavailable(f"Redis at {self.where} cannot be reached: {exc}") from None

    def script(self, name: str, keys: list[str], args: list[Any]) -> Any:
        def run(client: Any) -> Any:
            return self._scripts[name](keys=keys, args=args, client=client)

        return self.call(run)

    def health(self) -> Health:
        started = time.perf_counter()
        try:
            self.call(lambda client: client.ping())
        except StateUnavailable as exc:
            return False, str(exc)
        return True, f"{self.where}: ok ({(time.perf_counter() - started) * 1e3:.1f} ms)"

    def stats(self) -> dict[str, Any]:
        """Keys under the prefix by kind (a SCAN: for people, not for the decision path) and
        the server's memory."""
        pattern = _escape_glob(self.base)

        def count(client: Any, kind: str) -> int:
            return sum(1 for _ in client.scan_iter(match=f"{pattern}{kind}:*", count=1000))

        def gather(client: Any) -> dict[str, Any]:
            memory = client.info("memory")
            server = client.info("server")
            return {
                "sessions": count(client, "s"),
                "callers": count(client, "c"),
                "approvals": count(client, "a"),
                "decisions": count(client, "d"),
                "server": f"{server.get('redis_version', '?')} ({self.where})",
                "used_memory": memory.get("used_memory_human"),
                "maxmemory_policy": memory.get("maxmemory_policy"),
            }

        out: dict[str, Any] = self.call(gather)
        return out

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()


def refuse_evicting(client: Any, where: str) -> None:
    """`StateUnavailable` when the server may evict keys under memory pressure: an evicted
    session would be clean again, so toolwall does not use such a server. Redis with
    `maxmemory` set must use `maxmemory-policy noeviction` (full, it then refuses writes, and
    the calls block); without `maxmemory` it never evicts."""
    memory = client.info("memory")
    policy = memory.get("maxmemory_policy", "noeviction")
    if int(memory.get("maxmemory", 0) or 0) > 0 and policy != "noeviction":
        raise StateUnavailable(
            f"Redis at {where} may evict keys (maxmemory-policy {policy}): a session it evicted "
            "would be clean again; set maxmemory-policy noeviction"
        )


def _escape_glob(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\^" else c for c in text)


def text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
