"""Builds the parts of a `Firewall` from a validated `Config`."""

from __future__ import annotations

import sqlite3
from typing import Any

from toolwall.audit.log import AuditLog
from toolwall.config import Config
from toolwall.enforce import approvers as approvals
from toolwall.errors import ConfigError
from toolwall.schemas.registry import SchemaRegistry


def build_parts(config: Config, schemas: SchemaRegistry | None = None) -> dict[str, Any]:
    """The firewall's parts. `schemas` replaces the schema folder's registry (the MCP gateway
    passes the folder's schemas merged with its upstream tools', so rules are checked against
    every tool they can reach)."""
    from toolwall.policy import load_policy

    if schemas is None:
        schemas = SchemaRegistry.load(config.resolve(config.policy.schemas))
    rules = load_policy(
        [config.resolve(p) for p in config.policy.rule_paths], schemas, base=config.base_dir
    )
    parts: dict[str, Any] = {
        "schemas": schemas,
        "rules": rules,
        "limits": config.limits,
        "unknown_tool": config.policy.unknown_tool,
        **build_enforcement(config),
    }
    if config.identity is not None:
        from toolwall.identity.verifier import JWTVerifier

        parts["identity"] = JWTVerifier.from_config(config.identity, config.base_dir)
    return parts


def build_enforcement(config: Config) -> dict[str, Any]:
    """The audit log (`[audit]`) and the approver (`[approvals]`) of a configuration.

    Raises `ConfigError` when the audit file or the approval queue cannot be opened.
    """
    audit = AuditLog.from_config(config.audit, config.base_dir)
    try:
        approver = approvals.from_config(config.approvals, config.base_dir, redact=audit.redact)
    except (OSError, sqlite3.Error) as exc:
        raise ConfigError(
            f"[approvals] queue {config.resolve(config.approvals.queue)}: cannot open: {exc}"
        ) from None
    return {"audit": audit, "approver": approver}
