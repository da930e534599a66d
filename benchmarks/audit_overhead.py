"""What the audit file adds to a decision: p50 of `decide` with and without it.

    PYTHONPATH=. python benchmarks/audit_overhead.py [N]

Runs the same call through a firewall whose audit goes nowhere (the logger, disabled) and one
writing a hash-chained file, interleaving the two so machine load hits both alike, and prints
the p50 and p90 of each and of `AuditLog.record_decision` alone.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from statistics import quantiles

from toolwall import Caller, Firewall, ToolCall
from toolwall.audit.log import AuditLog
from toolwall.schemas.registry import SchemaRegistry

ROOT = Path(__file__).resolve().parent.parent


def main(n: int = 20000) -> None:
    schemas = SchemaRegistry.load(ROOT / "schemas")
    caller = Caller(sub="alice", tools=("email.*",), authenticated=True)
    call = ToolCall(
        tool="email.send",
        args={"to": ["bob@acme.test"], "subject": "report", "body": "the numbers " * 8},
    )
    with tempfile.TemporaryDirectory() as folder:
        log = AuditLog(Path(folder) / "audit.jsonl", redact_paths=["$.card.number"])
        plain = Firewall(schemas=schemas)
        audited = Firewall(schemas=schemas, audit=log)
        decision = audited.decide(call, caller=caller, session="s")
        timings: dict[str, list[float]] = {"no audit file": [], "audit file": [], "record": []}
        for _ in range(n):
            start = time.perf_counter()
            plain.decide(call, caller=caller, session="s")
            middle = time.perf_counter()
            audited.decide(call, caller=caller, session="s")
            end = time.perf_counter()
            log.record_decision(decision, caller)
            timings["record"].append(time.perf_counter() - end)
            timings["no audit file"].append(middle - start)
            timings["audit file"].append(end - middle)
        for name, values in timings.items():
            cuts = quantiles(values, n=10)
            print(f"{name:>14}: p50 {cuts[4] * 1e6:6.1f} µs   p90 {cuts[8] * 1e6:6.1f} µs")
        added = (
            quantiles(timings["audit file"], n=2)[0] - quantiles(timings["no audit file"], n=2)[0]
        )
        print(f"{'added (p50)':>14}: {added * 1e6:6.1f} µs")
        # On a busy machine wall time includes waiting for a CPU; thread CPU time does not.
        batches = []
        for _ in range(max(1, n // 100)):
            cpu_start = time.thread_time_ns()
            for _ in range(100):
                log.record_decision(decision, caller)
            batches.append((time.thread_time_ns() - cpu_start) / 100)
        cpu = quantiles(batches, n=2)[0]
        print(
            f"{'record (CPU)':>14}: p50 {cpu / 1000:6.1f} µs  (thread CPU time, 100-record batches)"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
