"""`toolwall state`: what the shared state holds, and whether it is usable.

    toolwall state stats [--json]

The state is the `[state]` of `--config`: the sessions, callers, approvals and decisions it
holds, the memory it uses (Redis: the server's), and its health as `/healthz` reports it. Exit
status 1 when the backend is unusable. The memory backend lives inside each firewall process,
so this command, a process of its own, can only say so.
"""

from __future__ import annotations

import argparse
import json

from rich.table import Table
from rich.text import Text

from toolwall.cli import EXIT_FINDING, EXIT_OK, add_config_option, console
from toolwall.config import Config
from toolwall.loader import build_state
from toolwall.state.base import StateError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("state", help="what the shared state (sessions, approvals) holds")
    actions = parser.add_subparsers(dest="state_command", metavar="ACTION")
    actions.required = True
    stats = actions.add_parser("stats", help="sessions, approvals, memory and health")
    add_config_option(stats)
    stats.add_argument("--json", action="store_true", help="print one JSON object")
    stats.set_defaults(func=run_stats)


def run_stats(args: argparse.Namespace) -> int:
    config = Config.load(args.config)
    state = build_state(config)
    try:
        ok, detail = state.health()
        report: dict[str, object] = {"backend": state.backend, "healthy": ok, "health": detail}
        if ok:
            try:
                report.update(state.stats())
            except StateError as exc:
                report.update(healthy=False, health=str(exc))
    finally:
        state.close()
    if config.state.backend == "memory":
        report["note"] = (
            "the memory backend lives inside each firewall process; this command sees none of "
            'them (set [state] backend = "sqlite" or "redis" to share it)'
        )
    if args.json:
        console.print_json(json.dumps(report, default=str))
    else:
        table = Table(title=f"toolwall state ({config.state.backend})", show_header=False)
        table.add_column("what", style="dim")
        table.add_column("value")
        for key, value in report.items():
            style = "" if key != "healthy" else ("green" if value else "bold red")
            table.add_row(key.replace("_", " "), Text(str(value), style))
        console.print(table)
    return EXIT_OK if report["healthy"] else EXIT_FINDING
