"""`toolwall test`: run policy test files (YAML) against the policy and report every failure."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.markup import escape
from rich.padding import Padding

from toolwall.cli import EXIT_FINDING, EXIT_OK, EXIT_USAGE, console, err_console
from toolwall.config import DEFAULT_CONFIG
from toolwall.firewall import Firewall
from toolwall.testing.cases import PolicyTestError, discover, load_test_file
from toolwall.testing.report import failure_renderable
from toolwall.testing.runner import PolicyTestRunner, policy_firewall

DEFAULT_TEST_FOLDER = Path("tests/policy")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "test",
        help="run policy tests (YAML cases) against the policy",
        description=(
            "Run policy test files: each case gives a caller, an optional session history and "
            "a call, and the decision it expects. Exit 1 when a case fails, 2 when a test file "
            "or the policy cannot be loaded."
        ),
    )
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="test files or folders (default: tests/policy next to the configuration)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="toolwall.toml for files that do not name their own (default: ./toolwall.toml)",
    )
    parser.add_argument("-k", dest="keyword", help="only run cases whose name contains this")
    parser.add_argument("-q", "--quiet", action="store_true", help="print failures only")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = args.config if args.config is not None else Path(DEFAULT_CONFIG)
    paths = args.paths or [config.parent / DEFAULT_TEST_FOLDER]
    try:
        files = [load_test_file(path) for path in discover(paths)]
    except PolicyTestError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        return EXIT_USAGE
    if not files:
        err_console.print(
            f"[bold red]error:[/] no policy test files in {', '.join(map(str, paths))}"
        )
        return EXIT_USAGE
    firewalls: dict[Path, Firewall] = {}
    passed = failed = 0
    for file in files:
        config_path = (file.config or config).resolve()
        if config_path not in firewalls:
            firewalls[config_path] = policy_firewall(config_path)
        runner = PolicyTestRunner(firewalls[config_path])
        cases = [c for c in file.cases if not args.keyword or args.keyword in c.name]
        if not cases:
            continue
        if not args.quiet:
            console.print(f"[bold]{escape(str(file.path))}[/]  [dim]{len(cases)} cases[/]")
        for case in cases:
            result = runner.run(case, key=file.key)
            if result.passed:
                passed += 1
                if not args.quiet:
                    console.print(f"  [green]✓[/] {escape(case.name)}")
                continue
            failed += 1
            console.print(
                f"  [bold red]✗ {escape(case.name)}[/]  [dim]{escape(case.location)}[/]",
                soft_wrap=True,
            )
            console.print(Padding(failure_renderable(result), (0, 0, 1, 4)))
    summary = f"{passed} passed, {failed} failed"
    if failed:
        console.print(f"[bold red]{summary}[/]")
        return EXIT_FINDING
    if passed == 0:
        what = f"no case matched -k {args.keyword!r}" if args.keyword else "no test cases found"
        err_console.print(f"[bold red]error:[/] {escape(what)}")
        return EXIT_USAGE
    console.print(f"[bold green]{summary}[/]")
    return EXIT_OK
