"""Case 6: the shared state. Decision latency with the Redis backend on loopback beside the memory
backend in the same run; latency as Redis holds 1,000 to 100,000 sessions; throughput with 1, 2
and 4 processes sharing one Redis.

Redis is a real `redis-server` (Debian's package) started on a free loopback port for the run,
without persistence (the engine is measured, not the disk). Without `redis-server` or the
`redis` client the rows say what is missing.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from multiprocessing.synchronize import Barrier
from typing import Any

from benchmarks.timing import Case, Stats, measure, stats
from toolwall import Action, Caller, Firewall, ToolCall
from toolwall.config import StateConfig
from toolwall.policy import compile_text
from toolwall.schemas.registry import SchemaRegistry
from toolwall.state import State, caller_key, memory_state

# The rules of the measured calls read the session (a count and the taint), or nothing.
RULES = """
rule mail_limit:
    on email.*
    when count("email.*") >= 1000000 or session.tainted
    block
    because "mail limit"

rule mail_rate:
    on email.rate
    when count_within("email.*", 3600) >= 1000000 or caller_count_within("email.*", 3600) >= 1000000
    block
    because "mail rate"

rule no_deletes:
    on fs.delete
    when count("fs.*") >= 0
    block
    because "no deletes"
"""

ALICE = Caller(sub="alice", tools=("*",), authenticated=True)
MAIL = ToolCall(tool="email.send", args={"to": ["bob@acme.test"], "subject": "hi"})
RATE = ToolCall(tool="email.rate", args={"to": ["bob@acme.test"]})
READ = ToolCall(tool="fs.read", args={"path": "/srv/workspace/a.txt"})
DELETE = ToolCall(tool="fs.delete", args={"path": "/srv/workspace/a.txt"})
BOUNDS: dict[str, Any] = {"max_remembered_calls": 1_000_000, "max_tools_per_session": 256}
SESSION_SIZES = (1_000, 10_000, 100_000)
PROCESSES = (1, 2, 4)


def missing() -> str | None:
    """What case 6 lacks on this machine, if anything."""
    if shutil.which("redis-server") is None:
        return "redis-server (apt-get install redis-server)"
    try:
        import redis  # noqa: F401
    except ImportError:
        return "the redis client (pip install 'toolwall[redis]')"
    return None


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A throwaway redis-server on a free loopback port; yields its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="toolwall-bench-redis-") as folder:
        command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", folder]
        server = subprocess.Popen(
            [*command, "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                    break
                time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            server.terminate()
            server.wait(10)


def redis_firewall(url: str, prefix: str = "bench:") -> Firewall:
    from toolwall.state.redis_state import redis_state

    settings = StateConfig(backend="redis", url=url, key_prefix=prefix, **BOUNDS)
    return firewall(redis_state(url, settings))


def firewall(state: State) -> Firewall:
    rules = compile_text(RULES, SchemaRegistry())
    return Firewall(rules=rules, unknown_tool="allow", state=state)


def expect(decision: Any, action: Action) -> None:
    if decision.action is not action:
        raise SystemExit(f"benchmark setup: expected {action.value}, got {decision.explain()}")


def latency_cases(url: str, n: int) -> list[Case]:
    """Memory and Redis side by side (timed interleaved with cases 1-4)."""
    cases = []
    for name, wall in (
        ("memory", firewall(memory_state(**BOUNDS))),
        ("redis", redis_firewall(url)),
    ):
        for call, action in ((MAIL, Action.ALLOW), (RATE, Action.ALLOW), (READ, Action.ALLOW),
                             (DELETE, Action.BLOCK)):  # fmt: skip
            expect(wall.decide(call, ALICE, session=f"{name}-warm"), action)
        what = {
            "mail": "allowed, rules read the session (count, taint)",
            "rate": "allowed, count_within + caller_count_within",
            "read": "allowed, no rule reads the session",
            "delete": "blocked, rules read the session",
        }
        calls = {"mail": MAIL, "rate": RATE, "read": READ, "delete": DELETE}
        for key, call in calls.items():
            if name == "memory" and key in ("read", "delete"):
                continue  # the memory rows for comparison: the two that read the session
            cases.append(
                Case(
                    "6",
                    f"{name}: {what[key]}",
                    f"case6.{name}_{key}",
                    lambda w=wall, c=call, s=f"{name}-{key}": w.decide(c, ALICE, session=s),
                    n,
                )
            )
    return cases


def populate(url: str, first: int, last: int) -> None:
    """Sessions `first`..`last`-1 with three calls each, written in pipelined batches."""
    import redis

    from toolwall.state.redis_engine import RedisEngine
    from toolwall.state.redis_state import RedisSessions

    engine = RedisEngine(url, key_prefix="bench:")
    sessions = RedisSessions(engine, max_remembered_calls=1_000_000)
    engine.client()
    turn = engine._scripts["turn"]
    client = redis.Redis.from_url(url)
    who = caller_key(Caller(sub="filler"))
    for start in range(first, last, 1_000):
        pipe = client.pipeline(transaction=False)
        for i in range(start, min(last, start + 1_000)):
            for tool in ("email.send", "fs.read", "email.send"):
                args = [engine.base, f"filler-{i}", who, tool, sessions.ttl_ms, 256, 1_000_000]
                rid = f"r{i}-{tool}-{len(pipe)}"
                key = sessions.session_key(f"filler-{i}")
                turn(keys=[key], args=[*args, 0, 1, rid, 0, 0], client=pipe)
        pipe.execute()
    client.close()
    engine.close()


def scaling_rows(url: str, n: int) -> list[dict[str, Any]]:
    """The same decision as Redis holds more and more sessions; and memory per session."""
    import redis

    rows: list[dict[str, Any]] = []
    wall = redis_firewall(url)
    admin = redis.Redis.from_url(url)
    held = 0
    for size in SESSION_SIZES:
        before = int(admin.info("memory")["used_memory"])
        populate(url, held, size)
        grown = int(admin.info("memory")["used_memory"]) - before
        added, held = size - held, size
        result = measure(lambda: wall.decide(MAIL, ALICE, session="scaling"), n)
        rows.append(
            {
                "case": "6",
                "what": f"redis: allowed, rules read the session; Redis holds {size:,} sessions",
                "key": f"case6.redis_sessions_{size}",
                "stats": result,
                "bytes_per_session": round(grown / added),
            }
        )
    admin.close()
    return rows


def _worker(url: str, index: int, seconds: float, start: Barrier, out: Any) -> None:
    wall = redis_firewall(url)
    session = f"throughput-{index}"
    wall.decide(MAIL, ALICE, session=session)
    samples: list[int] = []
    start.wait()
    deadline = time.perf_counter() + seconds
    clock = time.perf_counter_ns
    while time.perf_counter() < deadline:
        began = clock()
        wall.decide(MAIL, ALICE, session=session)
        samples.append(clock() - began)
    out.put(samples)


def throughput_rows(url: str, seconds: float) -> list[dict[str, Any]]:
    """Decisions per second with 1, 2 and 4 processes deciding against one Redis."""
    rows = []
    context = multiprocessing.get_context("fork")
    for count in PROCESSES:
        start, out = context.Barrier(count), context.Queue()
        workers = [
            context.Process(target=_worker, args=(url, i, seconds, start, out))
            for i in range(count)
        ]
        for worker in workers:
            worker.start()
        samples = [out.get(timeout=60 + seconds) for _ in workers]
        for worker in workers:
            worker.join(30)
        merged: Stats = stats([s for part in samples for s in part])
        total = sum(len(part) for part in samples) / seconds
        rows.append(
            {
                "case": "6",
                "what": f"redis: {count} process{'es' if count > 1 else ''} deciding at once "
                "(decisions/s: all of them together)",
                "key": f"case6.redis_processes_{count}",
                "stats": Stats(merged.n, merged.median_us, merged.p99_us, total),
            }
        )
    return rows


def run(n: int, seconds: float) -> tuple[list[Case], Any]:
    """(the latency cases, to time with the others; a function that runs the rest and returns
    their rows). The Redis server lives until the rest has run."""
    server = redis_server()
    url = server.__enter__()
    cases = latency_cases(url, n)

    def rest() -> list[dict[str, Any]]:
        try:
            return [*scaling_rows(url, n), *throughput_rows(url, seconds)]
        finally:
            server.__exit__(None, None, None)

    return cases, rest


def bytes_note(rows: list[dict[str, Any]]) -> str:
    sizes = [r["bytes_per_session"] for r in rows if "bytes_per_session" in r]
    return f"{min(sizes):,}-{max(sizes):,} bytes per session of three calls" if sizes else ""
