"""`toolwall demo`: a scripted agent, a prompt injection and the demo policy; no network."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from toolwall.cli import EXIT_FINDING, EXIT_OK, add_config_option, console
from toolwall.enforce.approvers import Callback
from toolwall.errors import ConfigError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("demo", help="run the demo: a scripted agent meets a prompt injection")
    add_config_option(parser)
    parser.add_argument("--json", action="store_true", help="print the outcomes as JSON")
    parser.add_argument(
        "--audit",
        type=Path,
        help="append the demo's audit trail to this file (default: a fresh temporary file)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from toolwall.audit import AuditLog, verify
    from toolwall.demo import demo_identity, dumps, run_demo, security_on_call
    from toolwall.firewall import Firewall

    if not args.config.exists():
        raise ConfigError(
            f"{args.config}: the demo policy was not found; run `make demo` from the repository "
            "root or pass --config PATH/toolwall.toml"
        )
    identity = demo_identity()
    audit_path = args.audit or Path(tempfile.mkdtemp(prefix="toolwall-demo-")) / "audit.jsonl"
    audit = AuditLog(audit_path)
    try:
        firewall = Firewall.from_config(
            args.config,
            identity=identity.verifier,
            approver=Callback(security_on_call),
            audit=audit,
        )
        out = console if not args.json else console.__class__(quiet=True)
        outcomes = run_demo(firewall, identity, out)
    finally:
        audit.close()
    report = verify(audit_path)
    if args.json:
        print(dumps(outcomes))
    else:
        chain = f"{report.records} records, hash chain intact" if report.ok else str(report)
        console.print(
            f"audit trail: {chain}. See it with: toolwall audit show --file {audit_path}",
            markup=False,
            soft_wrap=True,
        )
    stopped = all(not o.executed for o in outcomes if o.step.injected)
    return EXIT_OK if stopped and report.ok else EXIT_FINDING
