"""Builds the parts of a `Firewall` from a validated `Config`: the assembly of the layers."""

from __future__ import annotations

import sqlite3
from typing import Any

from toolwall.audit.log import AuditLog
from toolwall.config import Config
from toolwall.enforce.approvers import Approver, Console, DenyAll, QueueApprover
from toolwall.errors import ConfigError
from toolwall.schemas.registry import SchemaRegistry
from toolwall.state.base import ApprovalStore, State
from toolwall.state.memory import MemoryApprovals, MemoryDecisions, MemorySessions
from toolwall.state.sqlite import SQLiteApprovals


def build_parts(
    config: Config,
    schemas: SchemaRegistry | None = None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The firewall's keyword arguments. `schemas` replaces the schema folder's registry (the
    MCP gateway passes the folder's schemas merged with its upstream tools', so rules are
    checked against every tool they can reach); `overrides` replace built parts, and a part
    that is overridden is not built (an `approver=` given means no queue file is opened)."""
    from toolwall.policy import load_policy

    given = dict(overrides or {})
    if schemas is None:
        schemas = given.get("schemas") or SchemaRegistry.load(config.resolve(config.policy.schemas))
    parts: dict[str, Any] = {
        "schemas": schemas,
        "limits": config.limits,
        "unknown_tool": config.policy.unknown_tool,
        "approval_ttl_s": config.approvals.ttl_s,
    }
    if "rules" not in given:
        parts["rules"] = load_policy(
            [config.resolve(p) for p in config.policy.rule_paths], schemas, base=config.base_dir
        )
    audit = given.get("audit")
    if audit is None:
        audit = parts["audit"] = AuditLog.from_config(config.audit, config.base_dir)
    if "approver" not in given or "state" not in given:
        if "state" in given:
            store = given["state"].approvals
        else:  # an approver that answers from a store of its own brings it (QueueApprover)
            store = getattr(given.get("approver"), "store", None) or _approval_store(config)
        if "approver" not in given:
            parts["approver"] = build_approver(config, store)
        if "state" not in given:
            parts["state"] = State(
                sessions=MemorySessions(), approvals=store, decisions=MemoryDecisions()
            )
    if config.identity is not None and "identity" not in given:
        from toolwall.identity.verifier import JWTVerifier

        parts["identity"] = JWTVerifier.from_config(config.identity, config.base_dir)
    parts.update(given)
    return parts


def _approval_store(config: Config) -> ApprovalStore:
    """Where approvals are kept: the `[approvals] queue` file when people answer from other
    processes (`approver = "queue"`), else this process's memory."""
    if config.approvals.approver != "queue":
        return MemoryApprovals()
    path = config.resolve(config.approvals.queue)
    try:
        return SQLiteApprovals(path)
    except (OSError, sqlite3.Error) as exc:
        raise ConfigError(f"[approvals] queue {path}: cannot open: {exc}") from None


def build_approver(config: Config, store: ApprovalStore) -> Approver:
    """The approver `[approvals] approver` names; "queue" waits for answers in `store`."""
    if config.approvals.approver == "deny":
        return DenyAll()
    if config.approvals.approver == "console":
        return Console(timeout_s=config.approvals.timeout_s)
    return QueueApprover(store, config.approvals.timeout_s)
