"""The `toolwall` command. Each sub-command lives in `toolwall.commands.<name>` and registers
itself; this module holds the shared pieces: the parser, consoles and exit codes.

Exit status: 0 success (or allow/rewrite), 1 a finding (block/escalate, failed check or test),
2 usage or load errors.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

from toolwall.errors import ToolwallError

if TYPE_CHECKING:
    from toolwall.firewall import Firewall

EXIT_OK = 0
EXIT_FINDING = 1
EXIT_USAGE = 2

COMMANDS = [
    "toolwall.commands.eval",
    "toolwall.commands.check",
    "toolwall.commands.demo",
    "toolwall.commands.init",
    "toolwall.commands.token",
    "toolwall.commands.audit",
    "toolwall.commands.approvals",
    "toolwall.commands.state",
    "toolwall.commands.mcp",
    "toolwall.commands.test",
    "toolwall.commands.fuzz",
]

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=Path("toolwall.toml"),
        help="path to toolwall.toml (default: ./toolwall.toml)",
    )


def load_firewall(config: Path) -> Firewall:
    """The firewall for `--config`; load errors propagate as ToolwallError (exit 2)."""
    from toolwall.firewall import Firewall

    return Firewall.from_config(config)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="toolwall",
        description="A firewall for the tool calls of LLM agents.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in COMMANDS:
        importlib.import_module(module).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ToolwallError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        return EXIT_USAGE
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
