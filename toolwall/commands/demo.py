"""`toolwall demo`: a scripted agent, a prompt injection and the demo policy; no network."""

from __future__ import annotations

import argparse

from toolwall.approvals import Callback
from toolwall.cli import EXIT_FINDING, EXIT_OK, add_config_option, console
from toolwall.errors import ConfigError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("demo", help="run the demo: a scripted agent meets a prompt injection")
    add_config_option(parser)
    parser.add_argument("--json", action="store_true", help="print the outcomes as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from toolwall.demo import demo_identity, dumps, run_demo, security_on_call
    from toolwall.engine import Firewall

    if not args.config.exists():
        raise ConfigError(
            f"{args.config}: the demo policy was not found; run `make demo` from the repository "
            "root or pass --config PATH/toolwall.toml"
        )
    identity = demo_identity()
    firewall = Firewall.from_config(
        args.config, identity=identity.verifier, approver=Callback(security_on_call)
    )
    outcomes = run_demo(
        firewall, identity, console if not args.json else console.__class__(quiet=True)
    )
    if args.json:
        print(dumps(outcomes))
    stopped = all(not o.executed for o in outcomes if o.step.injected)
    return EXIT_OK if stopped else EXIT_FINDING
