"""`toolwall audit`: read, summarise and verify the audit trail.

    toolwall audit show [--action block] [--tool PATTERN] [--caller SUB] [--since 1h]
    toolwall audit tail [-f] [-n 10]
    toolwall audit stats [--since 24h]
    toolwall audit verify

The file is `--file`, or the `[audit] path` of `--config`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text

from toolwall.audit import Line, read_lines, verify
from toolwall.cli import EXIT_FINDING, EXIT_OK, add_config_option, console, err_console
from toolwall.config import Config
from toolwall.errors import ToolwallError
from toolwall.model import Action
from toolwall.patterns import matches
from toolwall.render import ACTION_STYLE

ACTIONS = [a.value for a in Action]
RECORD_TYPES = ["decision", "approval", "result"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    source = argparse.ArgumentParser(add_help=False)
    add_config_option(source)
    source.add_argument("--file", type=Path, help="the audit file (default: [audit] path)")

    filters = argparse.ArgumentParser(add_help=False)
    filters.add_argument("--action", choices=ACTIONS, help="only decisions with this action")
    filters.add_argument("--type", choices=RECORD_TYPES, help="only records of this type")
    filters.add_argument("--tool", metavar="PATTERN", help="only tools matching (globs: email.*)")
    filters.add_argument("--caller", metavar="SUB", help="only this caller")
    filters.add_argument("--session", help="only this session")
    filters.add_argument(
        "--since", metavar="WHEN", help="only records since: 30s, 15m, 1h, 2d or an ISO time"
    )

    parser = sub.add_parser("audit", help="show, follow, summarise and verify the audit trail")
    actions = parser.add_subparsers(dest="audit_command", metavar="ACTION")
    actions.required = True

    show = actions.add_parser("show", parents=[source, filters], help="records as a table")
    show.add_argument(
        "--limit", type=int, default=50, help="the last N matching records (0: all; default 50)"
    )
    show.set_defaults(func=run_show)

    tail = actions.add_parser("tail", parents=[source, filters], help="the last records")
    tail.add_argument("-n", "--lines", type=int, default=10, help="how many (default 10)")
    tail.add_argument("-f", "--follow", action="store_true", help="keep printing new records")
    tail.add_argument("--interval", type=float, default=0.5, help=argparse.SUPPRESS)
    tail.set_defaults(func=run_tail)

    stats = actions.add_parser("stats", parents=[source, filters], help="counts by action, ...")
    stats.set_defaults(func=run_stats)

    check = actions.add_parser(
        "verify", parents=[source], help="recompute the hash chain; exit 1 at the first break"
    )
    check.add_argument(
        "--anchor",
        metavar="HASH",
        help="a head hash printed by an earlier verify: it must still be in the chain",
    )
    check.set_defaults(func=run_verify)


# -- the file and the filters -------------------------------------------------------------------


def audit_file(args: argparse.Namespace) -> Path:
    """`--file`, or the `[audit] path` of `--config`."""
    if args.file is not None:
        path: Path = args.file
    else:
        config = Config.load(args.config)
        if config.audit is None or config.audit.path is None:
            raise ToolwallError(
                f"{args.config} has no [audit] path: the audit goes to the logger only "
                "(pass --file PATH to read a file)"
            )
        path = config.resolve(config.audit.path)
    if not path.is_file():
        raise ToolwallError(f"{path}: no such audit file")
    return path


def since(text: str, now: datetime | None = None) -> str:
    """The record time (same format as records: sortable text) from `30s`/`15m`/`1h`/`2d`/ISO."""
    now = now or datetime.now(UTC)
    match = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", text)
    if match:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
        moment = now - timedelta(**{unit: int(match.group(1))})
    else:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ToolwallError(
                f"--since {text!r}: give a duration (30s, 15m, 1h, 2d) or an ISO time"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


Numbered = tuple[int, dict[str, Any]]


def selected(lines: Iterable[Line], args: argparse.Namespace) -> Iterator[Numbered]:
    """(line number, record) of the whole records the filters of `args` keep."""
    after = since(args.since) if getattr(args, "since", None) else None
    for line in lines:
        record = line.record
        if record is None:
            continue
        if args.type and record.get("type") != args.type:
            continue
        if args.action and (
            record.get("type") != "decision" or record.get("action") != args.action
        ):
            continue
        tool = record.get("tool")
        if args.tool and not (isinstance(tool, str) and matches(args.tool, tool)):
            continue
        if args.caller and _caller(record) != args.caller:
            continue
        if args.session and record.get("session") != args.session:
            continue
        if after is not None and str(record.get("time", "")) < after:
            continue
        yield line.number, record


def _caller(record: dict[str, Any]) -> str | None:
    caller = record.get("caller")
    sub = caller.get("sub") if isinstance(caller, dict) else None
    return sub if isinstance(sub, str) else None


def _outcome(record: dict[str, Any]) -> Text:
    kind = record.get("type")
    if kind == "decision":
        action = str(record.get("action", "?"))
        style = ACTION_STYLE.get(Action(action), "bold") if action in ACTIONS else "bold"
        return Text(action, style=style)
    if kind == "approval":
        approved = record.get("approved") is True
        return Text("approved" if approved else "denied", "green" if approved else "red")
    if kind == "result":
        return Text("result", "blue")
    return Text(str(kind), "dim")


def _detail(record: dict[str, Any], rule_names: bool = True) -> str:
    kind = record.get("type")
    if kind == "decision":
        reasons = record.get("reasons") or []
        parts = []
        for reason in reasons:
            if isinstance(reason, dict):
                rule = reason.get("rule")
                message = str(reason.get("message", ""))
                parts.append(f"rule {rule}: {message}" if rule and rule_names else message)
        return "; ".join(parts)
    if kind == "approval":
        note = f": {record['note']}" if record.get("note") else ""
        return f"by {record.get('by')}{note} (decision {record.get('decision')})"
    if kind == "result":
        tainted = ", tainted the session" if record.get("tainted") else ""
        digest = str(record.get("result_sha256", ""))[:16]
        return f"{record.get('result_bytes')} bytes, sha256 {digest}…{tainted}"
    if kind == "upstream_error":
        return f"server {record.get('server')}: {record.get('error')}"
    return ""


def _rules(record: dict[str, Any]) -> list[str]:
    out = []
    for rule in record.get("rules") or []:
        if isinstance(rule, dict) and rule.get("name"):
            out.append(str(rule["name"]))
    return out


# -- show ---------------------------------------------------------------------------------------


def run_show(args: argparse.Namespace) -> int:
    path = audit_file(args)
    rows = list(selected(read_lines(path), args))
    if args.limit > 0:
        rows = rows[-args.limit :]
    table = Table(title=f"{path}  ({len(rows)} records)", title_justify="left", expand=False)
    for column in ("line", "time", "outcome", "tool", "caller", "session"):
        table.add_column(column, no_wrap=True)
    table.add_column("rules", overflow="fold")
    table.add_column("detail", overflow="fold", ratio=1)
    for number, record in rows:
        table.add_row(
            str(number),
            str(record.get("time", "")).replace("T", " ")[5:19],
            _outcome(record),
            str(record.get("tool", "")),
            _caller(record) or "anonymous",
            str(record.get("session") or "-"),
            Text(", ".join(_rules(record))),
            Text(_detail(record, rule_names=False)),
        )
    console.print(table)
    return EXIT_OK


# -- tail ---------------------------------------------------------------------------------------


def _one_line(number: int, record: dict[str, Any]) -> Text:
    text = Text()
    text.append(str(record.get("time", "")), "dim").append("  ")
    text.append_text(_outcome(record)).append("  ")
    text.append(str(record.get("tool", "")), "bold").append("  ")
    text.append(_caller(record) or "anonymous").append("  ")
    text.append(str(record.get("session") or "-"), "dim")
    detail = _detail(record)
    if detail:
        text.append("  " + detail)
    return text


def run_tail(args: argparse.Namespace) -> int:
    path = audit_file(args)
    data = path.read_bytes()
    position = data.rfind(b"\n") + 1  # whole lines only: a record being written waits
    lines = _parse(data[:position], 1)
    shown = list(selected(lines, args))[-args.lines :] if args.lines > 0 else []
    for number, record in shown:
        console.print(_one_line(number, record), soft_wrap=True)
    sys.stdout.flush()
    if not args.follow:
        return EXIT_OK
    count = len(lines)
    while True:
        time.sleep(args.interval)
        with open(path, "rb") as file:
            if os.fstat(file.fileno()).st_size < position:
                position, count = 0, 0  # truncated or replaced: start over
            file.seek(position)
            chunk = file.read()
        end = chunk.rfind(b"\n") + 1
        if end == 0:
            continue
        position += end
        new = _parse(chunk[:end], count + 1)
        count += len(new)
        for number, record in selected(new, args):
            console.print(_one_line(number, record), soft_wrap=True)
        sys.stdout.flush()


def _parse(data: bytes, first: int) -> list[Line]:
    """The lines of `data` (whole lines, each ending in a newline), numbered from `first`."""
    out = []
    for number, raw in enumerate(data.split(b"\n")[:-1], first):
        try:
            record = json.loads(raw)
        except ValueError:
            record = None
        out.append(Line(number, record if isinstance(record, dict) else None, raw + b"\n"))
    return out


# -- stats --------------------------------------------------------------------------------------


def run_stats(args: argparse.Namespace) -> int:
    path = audit_file(args)
    actions: Counter[str] = Counter()
    tools: Counter[str] = Counter()
    rules: Counter[str] = Counter()
    callers: Counter[str] = Counter()
    answers: Counter[str] = Counter()
    results: Counter[str] = Counter()
    for _, record in selected(read_lines(path), args):
        kind = record.get("type")
        if kind == "decision":
            actions[str(record.get("action"))] += 1
            tools[str(record.get("tool"))] += 1
            callers[_caller(record) or "anonymous"] += 1
            for rule in _rules(record):
                rules[rule] += 1
        elif kind == "approval":
            answers["approved" if record.get("approved") is True else "denied"] += 1
        elif kind == "result":
            results["tainted" if record.get("tainted") else "clean"] += 1
    total = sum(actions.values())
    console.print(f"{path}: {total} decision{'' if total == 1 else 's'}")
    console.print(_counts("action", actions, styled=True))
    console.print(_counts("tool", tools))
    console.print(_counts("rule (fired)", rules))
    console.print(_counts("caller", callers))
    if answers:
        console.print(_counts("approval answers", answers))
    if results:
        console.print(_counts("tool results", results))
    return EXIT_OK


def _counts(title: str, counts: Counter[str], styled: bool = False) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(title.split(" ")[0])
    table.add_column("count", justify="right")
    for name, count in counts.most_common():
        label = Text(name, ACTION_STYLE[Action(name)]) if styled and name in ACTIONS else Text(name)
        table.add_row(label, str(count))
    if not counts:
        table.add_row(Text("none", "dim"), "0")
    return table


# -- verify -------------------------------------------------------------------------------------


def run_verify(args: argparse.Namespace) -> int:
    path = audit_file(args)
    report = verify(path, anchor=args.anchor)
    for number in report.torn:
        if report.ok or (report.line is not None and number < report.line):
            err_console.print(
                f"[yellow]warning:[/] {path}:{number}: a torn record (a write cut short by a "
                "crash); skipped: the chain continues from the record before it",
                soft_wrap=True,
            )
    if report.ok:
        console.print(f"[green]ok[/] {path}: {report}", soft_wrap=True)
        return EXIT_OK
    console.print(f"[bold red]broken[/] {path}:{report.line}: {report.problem}", soft_wrap=True)
    console.print(f"  {report.records} records verified before it", soft_wrap=True)
    return EXIT_FINDING
