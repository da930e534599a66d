"""`toolwall fuzz`: search every tool for a call the policy gets wrong, with Hypothesis."""

from __future__ import annotations

import argparse
import random
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from toolwall.cli import (
    EXIT_FINDING,
    EXIT_OK,
    EXIT_USAGE,
    add_config_option,
    console,
    err_console,
    load_firewall,
)
from toolwall.patterns import matches
from toolwall.testing import DEFAULT_FUZZ_EXAMPLES, TESTING_EXTRA
from toolwall.testing.hints import PolicyHints

if TYPE_CHECKING:
    from toolwall.testing.fuzz import ToolReport

# What the fuzzer is made of; without them (a core install) `toolwall fuzz` says what to install.
_FUZZER_NEEDS = frozenset({"hypothesis", "hypothesis_jsonschema"})


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "fuzz",
        help="search for calls the policy gets wrong (Hypothesis)",
        description=(
            "For each tool, generate calls (valid, near-valid, raw JSON), callers and session "
            "histories, and check that decide never fails, is deterministic, never runs an "
            "ungranted tool or schema-invalid arguments, and that every `assert never` of the "
            "policy holds. A counterexample is shrunk and printed as a policy test case; the "
            "exit status is then 1."
        ),
    )
    add_config_option(parser)
    parser.add_argument("--tool", default="*", metavar="PATTERN", help="tools to fuzz (a glob)")
    parser.add_argument(
        "--examples",
        type=int,
        default=DEFAULT_FUZZ_EXAMPLES,
        metavar="N",
        help=f"examples per tool (default: {DEFAULT_FUZZ_EXAMPLES})",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="random seed, for a reproducible run"
    )
    parser.add_argument(
        "--save",
        type=Path,
        metavar="FILE",
        help="also write the counterexamples to FILE as a policy test file",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.examples < 1:
        err_console.print("[bold red]error:[/] --examples must be at least 1")
        return EXIT_USAGE
    try:
        from toolwall.testing.fuzz import Fuzzer
    except ModuleNotFoundError as exc:
        if exc.name not in _FUZZER_NEEDS:
            raise
        err_console.print(
            f"[bold red]error:[/] toolwall fuzz needs Hypothesis ({exc.name} is not installed): "
            f"{escape(TESTING_EXTRA)}",
            soft_wrap=True,
        )
        return EXIT_USAGE
    firewall = load_firewall(args.config)
    tools = [t for t in firewall.schemas.names() if matches(args.tool, t)]
    if not tools:
        err_console.print(f"[bold red]error:[/] no tool matches {escape(args.tool)!r}")
        return EXIT_USAGE
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    config = firewall.config
    hints = (
        PolicyHints.from_files([config.resolve(p) for p in config.policy.rule_paths])
        if config is not None
        else PolicyHints()
    )
    fuzzer = Fuzzer(firewall, hints=hints, examples=args.examples, seed=seed)
    console.print(
        f"fuzzing {len(tools)} tools, {args.examples} examples each, "
        f"{len(fuzzer.assertions)} assertions  [dim](seed {seed})[/]"
    )
    reports: list[ToolReport] = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        overall = progress.add_task("tools", total=len(tools))
        for tool in tools:
            task = progress.add_task(f"  {tool}", total=args.examples)

            def advance(done: int, task: TaskID = task) -> None:
                progress.update(task, completed=min(done, args.examples))

            report = fuzzer.fuzz_tool(tool, on_example=advance)
            progress.remove_task(task)
            progress.advance(overall)
            reports.append(report)
            _print_report(report)
    failures = [r.failure for r in reports if r.failure is not None]
    if args.save is not None and failures:
        text = "\n".join(f.yaml() for f in failures)
        args.save.write_text(text, encoding="utf-8")
        console.print(f"counterexamples written to {escape(str(args.save))}")
    if failures:
        console.print(
            f"[bold red]{len(failures)} of {len(reports)} tools have a counterexample[/]  "
            f"[dim](rerun with --seed {seed})[/]"
        )
        return EXIT_FINDING
    console.print(
        f"[bold green]no counterexample in {len(reports)} tools[/]  [dim](seed {seed})[/]"
    )
    return EXIT_OK


def _print_report(report: ToolReport) -> None:
    if report.skipped is not None:
        console.print(f"  [yellow]?[/] {escape(report.tool)}  {escape(report.skipped)}")
        return
    failure = report.failure
    if failure is None:
        console.print(f"  [green]✓[/] {escape(report.tool)}  [dim]{report.examples} examples[/]")
        return
    console.print(
        f"  [bold red]✗ {escape(report.tool)}[/]  {escape(failure.violation.property)}: "
        f"{escape(failure.violation.message)}",
        soft_wrap=True,
    )
    console.print("    shrunk counterexample, as a policy test case:")
    # Plain and unwrapped, so it pastes into a test file as it is.
    console.print(failure.yaml().rstrip("\n"), markup=False, highlight=False, soft_wrap=True)
