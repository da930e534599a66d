"""Markdown tables from a results file, for docs/performance.md:

python -m benchmarks.report [benchmarks/results.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

DEFAULT = Path(__file__).resolve().parent / "results.json"


def markdown(results: dict[str, Any]) -> str:
    machine = results["machine"]
    lines = [
        f"Machine: {machine['cpu']}, {machine['nproc']} cores (`nproc`), Python "
        f"{machine['python']} ({machine['platform']}); load average "
        f"{machine['load_before']} before and {machine['load_after']} after the run, which "
        f"took {machine['seconds']} s.",
        "",
        "| case | what | median µs | p99 µs | decisions/s | toolwall / peer |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for row in results["rows"]:
        if "missing" in row:
            lines.append(f"| {row['case']} | {row['what']} | - | - | - | not installed |")
            continue
        ratio = f"{row['ratio']:.3g}×" if "ratio" in row else ""
        lines.append(
            f"| {row['case']} | {row['what']} | {row['median_us']:,.1f} | {row['p99_us']:,.1f} "
            f"| {row['per_s']:,.0f} | {ratio} |"
        )
    lines += [
        "",
        "| policy | schemas (s) | rules: load + check + compile (s), best of 3 | median of 3 "
        "| best, CPU s |",
        "|---|---:|---:|---:|---:|",
    ]
    for load in results["load"]:
        median = load.get("rules_median_s")  # older results files have one timing only
        lines.append(
            f"| {load['what']} | {load['schemas_s']:.2f} | {load['rules_s']:.2f} "
            f"| {'-' if median is None else f'{median:.2f}'} | {load['rules_cpu_s']:.2f} |"
        )
    lines += ["", "| target (issue 8) | measured | met |", "|---|---:|---|"]
    for target in results["targets"]:
        lines.append(
            f"| {target['target'].strip()} | {target['value']:,.2f} "
            f"| {'yes' if target['met'] else '**no**'} |"
        )
    return "\n".join(lines)


def comparison(before: dict[str, Any], after: dict[str, Any]) -> str:
    """Medians of the toolwall rows and the load times, before and after."""
    old = {r["key"]: r for r in before["rows"] if "median_us" in r}
    lines = [
        "| case | what | median µs before | median µs after | speed-up |",
        "|---:|---|---:|---:|---:|",
    ]
    for row in after["rows"]:
        if row["case"] == "5" or "median_us" not in row or row["key"] not in old:
            continue
        was, now = old[row["key"]]["median_us"], row["median_us"]
        lines.append(
            f"| {row['case']} | {row['what']} | {was:,.1f} | {now:,.1f} | {was / now:.1f}× |"
        )
    loads = {x["key"]: x for x in before["load"]}
    for load in after["load"]:
        was = loads.get(load["key"])
        if was is not None:
            lines.append(
                f"| 3 | load+check+compile {load['what']}, CPU s | {was['rules_cpu_s']:.2f} "
                f"| {load['rules_cpu_s']:.2f} | {was['rules_cpu_s'] / load['rules_cpu_s']:.1f}× |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    before = None
    if "--before" in args:
        at = args.index("--before")
        before = Path(args[at + 1])
        del args[at : at + 2]
    path = Path(args[0]) if args else DEFAULT
    after = json.loads(path.read_text(encoding="utf-8"))
    if before is not None:
        print(comparison(json.loads(before.read_text(encoding="utf-8")), after))
    else:
        print(markdown(after))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
