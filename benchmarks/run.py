"""toolwall's decision latency, its scaling, and the peers side by side, in one process and run.

    make bench                      # its own virtual environment with the `bench` extra
    python -m benchmarks [--quick] [--out benchmarks/results.json]

Prints one table (median and p99 per decision in µs, decisions per second, ratios to the
peers) and the targets of issue 8, and writes everything to `benchmarks/results.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks import generated, peers, state_backends
from benchmarks.timing import Case, Stats, measure_interleaved, timed, timed_best
from toolwall import Action, Caller, Firewall, ToolCall
from toolwall.audit.log import AuditLog
from toolwall.identity.devkeys import generate_private_key, mint_token
from toolwall.identity.verifier import JWTVerifier
from toolwall.policy import compile_text, load_policy
from toolwall.schemas.registry import SchemaRegistry

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "toolwall.toml"
EMAIL = ToolCall(tool="email.send", args=peers.EMAIL_ARGS)
ALICE = Caller(sub="alice", tools=("email.*",), authenticated=True)

SESSION_RULES = """
taint web.fetch

rule pay_after_untrusted:
    on bank.transfer
    when session.tainted
    escalate
    because "payment after reading untrusted content"

rule read_burst:
    on bank.transfer
    when count("fs.*") > 50000
    block
    because "too many file reads in one session"
"""

Row = dict[str, Any]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tenth of the samples (a smoke run)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.json")
    options = parser.parse_args(argv)
    scale = 10 if options.quick else 1
    # Wide enough for the table when the output is not a terminal (make, CI, a pipe).
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 132)
    started = time.perf_counter()
    machine = machine_info()
    console.print(
        f"[bold]toolwall benchmark[/]  {machine['cpu']} x{machine['nproc']}, "
        f"Python {machine['python']}, load average {machine['load_before']}"
    )
    rows: list[Row] = []
    loads: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="toolwall-bench-") as tmp:
        folder = Path(tmp)
        step(console, "1-4: building the firewalls, loading the generated policies")
        cases = demo_cases(folder, 20_000 // scale)
        cases += jwt_cases(20_000 // scale, 1_000 // scale)
        generated_cases_, loads = generated_cases(folder, 20_000 // scale)
        cases += generated_cases_
        cases += session_cases(20_000 // scale)
        absent = state_backends.missing()
        finish_state = None
        if absent is None:
            state_cases, finish_state = state_backends.run(20_000 // scale, 3.0 / scale)
            cases += state_cases
        step(console, "1-4, 6: timing, interleaved in rounds")
        measured = measure_interleaved(cases, rounds=20)
        rows += [row(c.case, c.what, c.key, measured[c.key]) for c in cases]
        if finish_state is not None:
            step(console, "6: Redis holding 1,000-100,000 sessions; 1, 2 and 4 processes")
            rows += finish_state()
        else:
            rows.append({"case": "6", "what": "Redis backend", "key": "case6", "missing": absent})
        step(console, "5: peers")
        rows += peer_cases(20_000 // scale, 300 // scale, 3 if scale == 1 else 1, 5_000 // scale)
    add_ratios(rows)
    machine["load_after"] = load_average()
    machine["seconds"] = round(time.perf_counter() - started, 1)
    targets = check_targets(rows, loads)
    print_tables(console, rows, loads, targets, machine)
    results = {
        "machine": machine,
        "rows": [serialisable(r) for r in rows],
        "load": loads,
        "targets": targets,
    }
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    console.print(f"results written to {options.out}  ({machine['seconds']} s)")
    return 0


def step(console: Console, what: str) -> None:
    console.print(f"  cases {what} ...")


# -- the cases ----------------------------------------------------------------------------------


def demo_cases(folder: Path, n: int) -> list[Case]:
    plain = Firewall.from_config(DEMO)
    audited = Firewall.from_config(DEMO, audit=AuditLog(folder / "audit.jsonl"))
    expect(plain.decide(EMAIL, caller=ALICE), Action.ALLOW)
    expect(audited.decide(EMAIL, caller=ALICE), Action.ALLOW)
    return [
        Case(
            "1",
            "demo policy, allowed email.send, caller given, audit off",
            "case1.audit_off",
            lambda: plain.decide(EMAIL, caller=ALICE),
            n,
        ),
        Case(
            "1",
            "demo policy, allowed email.send, caller given, audit file on",
            "case1.audit_on",
            lambda: audited.decide(EMAIL, caller=ALICE),
            n,
        ),
    ]


def jwt_cases(n_cached: int, n_first: int) -> list[Case]:
    key = generate_private_key("ed25519")
    verifier = JWTVerifier.from_public_key(key, audience="toolwall")
    firewall = Firewall.from_config(DEMO, identity=verifier)
    token = mint_token(key, sub="alice", tools=["email.*"], ttl_s=3600, audience="toolwall")
    expect(firewall.decide(EMAIL, token=token), Action.ALLOW)
    return [
        Case(
            "2",
            "demo policy, Ed25519 JWT, first call (verified)",
            "case2.jwt_first",
            lambda: firewall.decide(EMAIL, token=token),
            n_first,
            setup=verifier.clear_cache,
        ),
        Case(
            "2",
            "demo policy, Ed25519 JWT, cached",
            "case2.jwt_cached",
            lambda: firewall.decide(EMAIL, token=token),
            n_cached,
        ),
    ]


def generated_cases(folder: Path, n: int) -> tuple[list[Case], list[Row]]:
    cases: list[Case] = []
    loads: list[Row] = []
    for rules, tools in ((1_000, 100), (10_000, 1_000)):
        paths = generated.write_policy(folder / f"policy-{rules}", rules, tools)
        registry, schema_s, _ = timed(
            lambda t=tools: SchemaRegistry.from_dict(generated.schemas(t))
        )
        assert isinstance(registry, SchemaRegistry)
        policy, walls, rules_cpu = timed_best(lambda p=paths, r=registry: load_policy(p, r))
        loads.append(
            {
                "key": f"case3.load_{rules}",
                "what": f"{rules:,} rules over {tools:,} tools",
                "schemas_s": round(schema_s, 3),
                "rules_s": round(min(walls), 3),
                "rules_median_s": round(sorted(walls)[len(walls) // 2], 3),
                "rules_cpu_s": round(rules_cpu, 3),
            }
        )
        firewall = Firewall(schemas=registry, rules=policy)  # type: ignore[arg-type]
        tool = generated.tool_name(tools // 2)
        call = ToolCall(tool=tool, args=generated.CALL_ARGS)
        caller = Caller(sub="svc", tools=("svc*",), groups=("staff",), authenticated=True)
        expect(firewall.decide(call, caller=caller), Action.ALLOW)
        on_tool = len(firewall.rules.rules_for(tool))
        cases.append(
            Case(
                "3",
                f"{rules:,} rules / {tools:,} tools, {on_tool} rules on the tool",
                f"case3.rules_{rules}",
                lambda f=firewall, c=call, w=caller: f.decide(c, caller=w),
                n,
            )
        )
    return cases, loads


def session_cases(n: int) -> list[Case]:
    schemas = SchemaRegistry.load(ROOT / "schemas")
    firewall = Firewall(schemas=schemas, rules=compile_text(SESSION_RULES, schemas))
    caller = Caller(sub="alice", tools=("*",), authenticated=True)
    transfer = ToolCall(
        tool="bank.transfer",
        args={"to_iban": "DE44500105175407324931", "amount": 120.5, "currency": "EUR"},
    )
    cases = []
    for size in (10, 100, 1_000, 10_000):
        session = f"session-{size}"
        for i in range(size):
            read = ToolCall(tool="fs.read", args={"path": f"/srv/workspace/{i}.txt"})
            expect(firewall.decide(read, caller=caller, session=session), Action.ALLOW)
        firewall.record_result(
            ToolCall(tool="web.fetch", args={"url": "https://example.test/"}),
            "untrusted page",
            session=session,
        )
        # Escalated calls are not counted, so the session keeps its size while measured.
        expect(firewall.decide(transfer, caller=caller, session=session), Action.ESCALATE)
        assert firewall.session(session).calls == size
        cases.append(
            Case(
                "4",
                f"session.tainted + count(), {size:,} earlier calls",
                f"case4.session_{size}",
                lambda s=session: firewall.decide(transfer, caller=caller, session=s),
                n,
            )
        )
    return cases


def peer_cases(n_validator: int, n_invariant: int, n_flow: int, n_cedar: int) -> list[Row]:
    schema = SchemaRegistry.load(ROOT / "schemas").get("email.send")
    assert schema is not None
    found = [
        *peers.invariant(n_invariant, n_flow),
        *peers.cedar(n_cedar),
        *peers.validators(dict(schema.schema), n_validator),
    ]
    rows = []
    for result in found:
        key = "case5." + result["peer"] + "." + ("flow" if "flow" in result["what"] else "one")
        if "missing" in result:
            rows.append(
                {
                    "case": "5",
                    "what": f"{result['peer']}: {result['what']}",
                    "key": key,
                    "missing": result["missing"],
                }
            )
        else:
            rows.append(row("5", f"{result['peer']}: {result['what']}", key, result["stats"]))
    return rows


# -- ratios, targets, output --------------------------------------------------------------------

# Each peer row is compared with the toolwall row that answers the same question.
COMPARED = {
    "case5.invariant-ai.one": "case1.audit_off",
    "case5.invariant-ai.flow": "case4.session_100",
    "case5.cedarpy.one": "case1.audit_off",
    "case5.jsonschema.one": "case1.audit_off",
    "case5.fastjsonschema.one": "case1.audit_off",
}


def add_ratios(rows: list[Row]) -> None:
    by_key = {r["key"]: r for r in rows}
    for r in rows:
        ours = by_key.get(COMPARED.get(r["key"], ""))
        if ours is not None and "stats" in r and "stats" in ours:
            r["ratio"] = ours["stats"].median_us / r["stats"].median_us
            r["ratio_of"] = ours["key"]


ISSUE_JSONSCHEMA_US = 21.0
"""Issue 8's figure for a precompiled `jsonschema` check on the 2-core machine it was set on."""


def check_targets(rows: list[Row], loads: list[Row]) -> list[Row]:
    med = {r["key"]: r["stats"].median_us for r in rows if "stats" in r}
    p99 = {r["key"]: r["stats"].p99_us for r in rows if "stats" in r}
    sessions = [med[f"case4.session_{s}"] for s in (10, 100, 1_000, 10_000)]
    load = next(x for x in loads if x["key"] == "case3.load_10000")
    checks = [
        ("case 1 p50 <= 30 µs", med["case1.audit_off"], 30.0),
        ("case 1 p99 <= 150 µs", p99["case1.audit_off"], 150.0),
        ("case 2 cached p50 <= 30 µs", med["case2.jwt_cached"], 30.0),
        ("case 2 cached p99 <= 150 µs", p99["case2.jwt_cached"], 150.0),
        ("audit file adds <= 30 µs p50", med["case1.audit_on"] - med["case1.audit_off"], 30.0),
        (
            "case 3 at 10,000 rules <= 1.5x case 1",
            med["case3.rules_10000"] / med["case1.audit_off"],
            1.5,
        ),
        ("case 4 max/min over 10..10,000 <= 1.5", max(sessions) / min(sessions), 1.5),
        ("10,000 rules load+check+compile < 3 s (best of 3)", load["rules_s"], 3.0),
        ("  the same in CPU seconds (without waiting for a core)", load["rules_cpu_s"], 3.0),
    ]
    if "case6.redis_mail" in med:
        scaling = [med[f"case6.redis_sessions_{s}"] for s in state_backends.SESSION_SIZES]
        checks += [
            (
                "case 6 Redis p50 - memory p50 <= 150 µs (one round trip)",
                med["case6.redis_mail"] - med["case6.memory_mail"],
                150.0,
            ),
            (
                "case 6 Redis max/min over 1,000..100,000 sessions <= 1.5",
                max(scaling) / min(scaling),
                1.5,
            ),
        ]
    return [
        {"target": name, "value": round(value, 3), "limit": limit, "met": value <= limit}
        for name, value, limit in checks
    ]


def print_tables(
    console: Console, rows: list[Row], loads: list[Row], targets: list[Row], machine: dict[str, Any]
) -> None:
    table = Table(title="Per decision (µs) and throughput", title_justify="left")
    for name in ("case", "what", "median µs", "p99 µs", "decisions/s", "toolwall / peer"):
        table.add_column(name, justify="right" if name not in ("what",) else "left")
    for r in rows:
        if "missing" in r:
            table.add_row(r["case"], r["what"], "-", "-", "-", f"not installed ({r['missing']})")
            continue
        s: Stats = r["stats"]
        ratio = f"{r['ratio']:.3g}x" if "ratio" in r else ""
        table.add_row(
            r["case"],
            r["what"],
            f"{s.median_us:,.1f}",
            f"{s.p99_us:,.1f}",
            f"{s.per_s:,.0f}",
            ratio,
        )
    console.print(table)
    memory = state_backends.bytes_note(rows)
    if memory:
        console.print(f"case 6: Redis used {memory}")
    load_table = Table(title="Policy load (case 3)", title_justify="left")
    for name in (
        "policy",
        "schemas (s)",
        "rules: load+check+compile (s), best of 3",
        "median of 3",
        "best, CPU s",
    ):
        load_table.add_column(name)
    for x in loads:
        load_table.add_row(
            x["what"],
            f"{x['schemas_s']:.3f}",
            f"{x['rules_s']:.3f}",
            f"{x['rules_median_s']:.3f}",
            f"{x['rules_cpu_s']:.3f}",
        )
    console.print(load_table)
    target_table = Table(title="Targets (issue 8)", title_justify="left")
    for name in ("target", "measured", "met"):
        target_table.add_column(name)
    for t in targets:
        target_table.add_row(t["target"], f"{t['value']:,.2f}", "yes" if t["met"] else "[red]NO[/]")
    console.print(target_table)
    console.print(
        f"load average before {machine['load_before']}, after {machine['load_after']}: "
        "on a shared machine the p99 column is noisy."
    )
    floor = next(
        (r["stats"] for r in rows if r["key"] == "case5.jsonschema.one" and "stats" in r), None
    )
    if floor is not None:
        # The µs targets were set against the peers as the issue measured them on this machine;
        # a shared host's speed drifts over a day, and the same code with it.
        console.print(
            f"machine speed: precompiled jsonschema took {floor.median_us:.1f} µs here; the issue "
            f"measured ~{ISSUE_JSONSCHEMA_US:.0f} µs on this machine type, so this run was "
            f"{floor.median_us / ISSUE_JSONSCHEMA_US:.1f}x as slow."
        )


def row(case: str, what: str, key: str, stats: Stats) -> Row:
    return {"case": case, "what": what, "key": key, "stats": stats}


def serialisable(r: Row) -> dict[str, Any]:
    out = {k: v for k, v in r.items() if k != "stats"}
    if "stats" in r:
        out.update(r["stats"].to_dict())
    if "ratio" in out:
        out["ratio"] = float(f"{out['ratio']:.4g}")
    return out


def expect(decision: Any, action: Action) -> None:
    if decision.action is not action:
        raise SystemExit(f"benchmark setup: expected {action.value}, got {decision.explain()}")


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": platform.platform(),
        "load_before": load_average(),
    }
