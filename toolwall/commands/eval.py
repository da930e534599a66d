"""`toolwall eval`: decide one call from a file and print the decision."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from toolwall.cli import EXIT_FINDING, EXIT_OK, add_config_option, console, load_firewall
from toolwall.errors import ToolwallError
from toolwall.model import Caller
from toolwall.render import action_text, decision_tree


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("eval", help="decide one tool call and print the decision")
    add_config_option(parser)
    parser.add_argument(
        "--call",
        required=True,
        type=Path,
        help='JSON file with {"tool": ..., "args": ...} ("-" reads stdin)',
    )
    parser.add_argument(
        "--caller",
        type=Path,
        help='JSON file with the caller: {"sub", "groups", "tools", "claims"}',
    )
    parser.add_argument("--token", help="a JWT for the caller (needs [identity] in the config)")
    parser.add_argument("--session", help="session id")
    parser.add_argument("--json", action="store_true", help="print the decision as JSON")
    parser.add_argument("--explain", action="store_true", help="print the explain tree")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    firewall = load_firewall(args.config)
    call = _read_json(args.call, "call")
    caller = None
    if args.caller is not None:
        data = _read_json(args.caller, "caller")
        try:
            caller = Caller.model_validate({"authenticated": True, **data})
        except ValueError as exc:
            raise ToolwallError(f"{args.caller}: not a valid caller: {exc}") from None
    decision = firewall.decide(call, caller=caller, token=args.token, session=args.session)
    if args.json:
        print(json.dumps(decision.to_dict(), ensure_ascii=False, indent=2))
    elif args.explain:
        console.print(decision_tree(decision))
    else:
        console.print(action_text(decision.action, decision.action.value.upper()), decision.tool)
        for reason in decision.reasons:
            console.print(f"  {reason}", markup=False)
        if decision.action.value == "rewrite":
            console.print(f"  args: {json.dumps(decision.args, ensure_ascii=False)}", markup=False)
    return EXIT_OK if decision.allowed else EXIT_FINDING


def _read_json(path: Path, what: str) -> Any:
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ToolwallError(f"{path}: cannot read the {what} file: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ToolwallError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ToolwallError(f"{path}: the {what} must be a JSON object")
    return data
