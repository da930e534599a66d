"""`toolwall check`: load the policy and print every diagnostic, compiler-style.

Exit 0 when the rules load (warnings alone are fine), 1 when they have errors, 2 when the
configuration or the schemas cannot be loaded.
"""

from __future__ import annotations

import argparse

from rich.text import Text

from toolwall.cli import EXIT_FINDING, EXIT_OK, add_config_option, console
from toolwall.config import Config
from toolwall.policy.diagnostics import Diagnostic, summary
from toolwall.policy.load import check_sources, read_sources
from toolwall.schemas.registry import SchemaRegistry


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("check", help="check the rule files against the tool schemas")
    add_config_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = Config.load(args.config)
    schemas = SchemaRegistry.load(config.resolve(config.policy.schemas))
    sources = read_sources(
        (config.resolve(p) for p in config.policy.rule_paths), base=config.base_dir
    )
    diagnostics, modules, _ = check_sources(sources, schemas)
    for diagnostic in diagnostics:
        console.print(render(diagnostic), soft_wrap=True)
        console.print()
    config_warnings = _config_warnings(config)
    for warning in config_warnings:
        console.print(
            Text.assemble(
                (str(args.config), "bold"), ": ", ("warning", "bold yellow"), ": ", warning
            ),
            soft_wrap=True,
        )
        console.print()
    errors = sum(1 for d in diagnostics if d.is_error)
    rules = sum(1 for m in modules for s in m.statements if type(s).__name__ == "Rule")
    style = "bold red" if errors else "bold green"
    verdict = "failed" if errors else "ok"
    console.print(
        Text.assemble(
            (f"check {verdict}: ", style),
            f"{_count(len(sources), 'file')}, {_count(rules, 'rule')}, "
            f"{_count(len(schemas), 'tool')}; "
            f"{summary(diagnostics, len(config_warnings))}",
        ),
        soft_wrap=True,
    )
    return EXIT_FINDING if errors else EXIT_OK


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _config_warnings(config: Config) -> list[str]:
    """Settings that load but weaken the firewall (today: the `[identity]` section)."""
    if config.identity is None:
        return []
    from toolwall.identity.verifier import identity_warnings

    return identity_warnings(config.identity)


def render(diagnostic: Diagnostic) -> Text:
    """The diagnostic as `Diagnostic.render()` prints it, with colour."""
    style = "bold red" if diagnostic.is_error else "bold yellow"
    head, *rest = diagnostic.render().split("\n")
    text = Text.assemble(
        (diagnostic.location, "bold"),
        ": ",
        (diagnostic.severity, style),
        ": ",
        head.split(f": {diagnostic.severity}: ", 1)[1],
    )
    for i, line in enumerate(rest):
        text.append("\n")
        text.append(line, style if i == len(rest) - 1 else "")
    return text
