"""Timing one operation many times: median, p99 and throughput from per-call samples."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Stats:
    """Latencies of one operation, in microseconds."""

    n: int
    median_us: float
    p99_us: float
    per_s: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "median_us": round(self.median_us, 2),
            "p99_us": round(self.p99_us, 2),
            "per_s": round(self.per_s, 1),
        }


@dataclass
class Case:
    """One timed operation of the table: `fn` is called `n` times in all."""

    case: str
    what: str
    key: str
    fn: Callable[[], object]
    n: int
    setup: Callable[[], object] | None = None


def measure_interleaved(cases: list[Case], rounds: int = 5) -> dict[str, Stats]:
    """Time `cases` in `rounds` rounds, each round a slice of every case in turn.

    The machine's load drifts (other processes come and go), so timing the cases one after
    the other would compare them under different loads; interleaving spreads the drift over all.
    """
    for case in cases:
        for _ in range(min(1_000, case.n // 10)):
            if case.setup is not None:
                case.setup()
            case.fn()
    samples: dict[str, list[int]] = {case.key: [] for case in cases}
    for _ in range(rounds):
        for case in cases:
            samples[case.key] += sample(case.fn, max(1, case.n // rounds), case.setup)
    return {key: stats(values) for key, values in samples.items()}


def sample(
    fn: Callable[[], object], n: int, setup: Callable[[], object] | None = None
) -> list[int]:
    """Nanoseconds of `n` calls of `fn`, each timed on its own (`setup` runs untimed before)."""
    gc.collect()
    clock = time.perf_counter_ns
    samples = [0] * n
    for i in range(n):
        if setup is not None:
            setup()
        start = clock()
        fn()
        samples[i] = clock() - start
    return samples


def measure(
    fn: Callable[[], object],
    n: int,
    *,
    warmup: int | None = None,
    setup: Callable[[], object] | None = None,
) -> Stats:
    """Call `fn` `n` times (after `warmup` untimed calls) and time each call on its own.

    `setup` runs before every timed call, outside the timing (e.g. to empty a cache). The
    garbage collector stays on, as in an application, after one collection up front.
    """
    for _ in range(n // 10 if warmup is None else warmup):
        if setup is not None:
            setup()
        fn()
    return stats(sample(fn, n, setup))


def stats(samples_ns: list[int]) -> Stats:
    ordered = sorted(samples_ns)
    n = len(ordered)
    median = ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2
    p99 = ordered[min(n - 1, int(n * 0.99))]
    total = sum(ordered)
    return Stats(n, median / 1e3, p99 / 1e3, n / (total / 1e9) if total else float("inf"))


def timed(fn: Callable[[], object]) -> tuple[object, float, float]:
    """(result, wall seconds, CPU seconds of this process) of one call."""
    cpu = time.process_time()
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start, time.process_time() - cpu


def timed_best(fn: Callable[[], object], repeat: int = 3) -> tuple[object, list[float], float]:
    """(last result, wall seconds of each of `repeat` calls, the least CPU seconds of a call).

    A load takes seconds, and a shared machine's speed drifts over seconds: as timeit advises,
    the best of a few calls is what the code costs, the others include the neighbours.
    """
    result: object = None
    walls: list[float] = []
    cpus: list[float] = []
    for _ in range(repeat):
        gc.collect()
        result, wall, cpu = timed(fn)
        walls.append(wall)
        cpus.append(cpu)
    return result, walls, min(cpus)
