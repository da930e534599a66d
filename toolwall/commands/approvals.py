"""`toolwall approvals`: answer escalated calls waiting in the SQLite queue, from any terminal.

    toolwall approvals list [--all]
    toolwall approvals show ID
    toolwall approvals approve ID [--note TEXT] [--by NAME]
    toolwall approvals deny ID [--note TEXT] [--by NAME]

The queue is `--queue`; else, with a shared `[state]` backend (SQLite, Redis) in `--config`, that
backend's approvals (answered here, used by whichever replica holds the call); else the
`[approvals] queue` of `--config`.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from toolwall.cli import EXIT_FINDING, EXIT_OK, add_config_option, console, err_console
from toolwall.config import Config
from toolwall.enforce.approvers import args_diff, current_user
from toolwall.errors import ToolwallError
from toolwall.state.base import ApprovalError, ApprovalRecord, ApprovalStore
from toolwall.state.sqlite import SQLiteApprovals

STATUS_STYLE = {
    "pending": "bold yellow",
    "approved": "green",
    "denied": "red",
    "timeout": "dim red",
    "expired": "dim",
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    source = argparse.ArgumentParser(add_help=False)
    add_config_option(source)
    source.add_argument("--queue", type=Path, help="the queue file (default: [approvals] queue)")

    parser = sub.add_parser("approvals", help="list, show, approve and deny escalated calls")
    actions = parser.add_subparsers(dest="approvals_command", metavar="ACTION")
    actions.required = True

    listing = actions.add_parser("list", parents=[source], help="pending requests")
    listing.add_argument("--all", action="store_true", help="answered and expired ones too")
    listing.set_defaults(func=run_list)

    show = actions.add_parser("show", parents=[source], help="one request in full")
    show.add_argument("id")
    show.set_defaults(func=run_show)

    for name, approved in (("approve", True), ("deny", False)):
        answer = actions.add_parser(name, parents=[source], help=f"{name} a pending request")
        answer.add_argument("id")
        answer.add_argument("--note", default="", help="why (recorded in the audit)")
        answer.add_argument("--by", help="who answers (default: your user name)")
        answer.set_defaults(func=run_answer, approved=approved)


def open_queue(args: argparse.Namespace) -> tuple[ApprovalStore, str]:
    """The approval store to work and a name for it: `--queue`, else the `[state]` backend of
    `--config` when it is shared (SQLite or Redis: the approvals of every replica), else the
    `[approvals] queue` file. A queue file must exist (listing never creates one)."""
    if args.queue is not None:
        path: Path = args.queue
    else:
        config = Config.load(args.config)
        if config.state.backend != "memory":
            from toolwall.loader import build_state

            return build_state(config).approvals, f"[state] {config.state.backend}"
        path = config.resolve(config.approvals.queue)
    if not path.is_file():
        raise ToolwallError(
            f"{path}: no approval queue here (it is created by a firewall whose "
            '[approvals] approver = "queue")'
        )
    return SQLiteApprovals(path), str(path)


def run_list(args: argparse.Namespace) -> int:
    queue, where = open_queue(args)
    entries = queue.entries(None if args.all else "pending")
    now = time.time()
    title = f"{where}  ({len(entries)} {'requests' if args.all else 'pending'})"
    table = Table(title=Text(title))
    for column in ("id", "age", "status", "tool", "caller", "session", "reason", "expires in"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        reasons = entry.request.get("reasons") or []
        first = reasons[0].get("message", "") if reasons and isinstance(reasons[0], dict) else ""
        table.add_row(
            Text(entry.id, "bold"),
            _duration(now - entry.created),
            Text(entry.status, STATUS_STYLE.get(entry.status, "")),
            entry.tool,
            entry.caller_sub or "anonymous",
            entry.session or "-",
            Text(str(first)),
            _duration(entry.expires - now) if entry.status == "pending" else "-",
        )
    console.print(table)
    return EXIT_OK


def run_show(args: argparse.Namespace) -> int:
    entry = open_queue(args)[0].get(args.id)
    if entry is None:
        raise ToolwallError(f"no approval request {args.id}")
    console.print(render_entry(entry))
    return EXIT_OK


def run_answer(args: argparse.Namespace) -> int:
    queue, _ = open_queue(args)
    by = args.by or current_user()
    try:
        entry = queue.answer(args.id, args.approved, by=by, note=args.note)
    except ApprovalError as exc:
        err_console.print(f"[bold red]cannot answer:[/] {exc}", soft_wrap=True)
        return EXIT_FINDING
    verb = "approved" if args.approved else "denied"
    console.print(
        Text.assemble(
            (verb, STATUS_STYLE[verb]), f" {entry.id}: {entry.tool} for ", entry.caller_sub or "?"
        )
    )
    return EXIT_OK


def render_entry(entry: ApprovalRecord) -> Panel:
    request = entry.request
    body = Text()

    def field(name: str, value: Any, style: str = "") -> None:
        body.append(f"{name:<10}", "dim").append(str(value), style).append("\n")

    field("status", entry.status, STATUS_STYLE.get(entry.status, ""))
    field("tool", entry.tool, "bold")
    caller = entry.caller_sub or "anonymous"
    field("caller", f"{caller} ({entry.caller_iss})" if entry.caller_iss else caller)
    field("session", entry.session or "-")
    field("decision", entry.decision_id)
    field("created", _when(entry.created))
    field("expires", _when(entry.expires))
    if entry.answered is not None:
        field("answered", f"{_when(entry.answered)} by {entry.by}")
    if entry.note:
        field("note", entry.note)
    if entry.consumed is not None:
        field("used", _when(entry.consumed))
    field("digest", entry.digest, "dim")
    reasons = request.get("reasons") or []
    if reasons:
        body.append("reasons\n", "dim")
        for reason in reasons:
            rule = reason.get("rule")
            text = f"rule {rule}: {reason.get('message')}" if rule else str(reason.get("message"))
            where = f"  [{reason['location']}]" if reason.get("location") else ""
            body.append(f"  - {text}", "yellow").append(where + "\n", "dim")
    if request.get("rewritten"):
        body.append("arguments (rewritten by policy)\n", "dim")
        for line in args_diff(request.get("original_args"), request.get("args")):
            style = "dim"
            if line.startswith("+") and not line.startswith("+++"):
                style = "green"
            elif line.startswith("-") and not line.startswith("---"):
                style = "red"
            body.append("  " + line + "\n", style)
    else:
        body.append("arguments\n", "dim")
        pretty = json.dumps(request.get("args"), indent=2, sort_keys=True, ensure_ascii=False)
        for line in pretty.splitlines():
            body.append("  " + line + "\n")
    body.rstrip()
    return Panel(body, title=f"approval request {entry.id}", title_align="left")


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


def _when(moment: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(moment))
