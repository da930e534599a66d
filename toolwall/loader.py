"""Builds the parts of a `Firewall` from a validated `Config`: the assembly of the layers."""

from __future__ import annotations

import os
import re
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

from toolwall.audit.log import AuditLog
from toolwall.config import Config, check_redis_url
from toolwall.enforce.approvers import Approver, Console, DenyAll, QueueApprover
from toolwall.errors import ConfigError
from toolwall.schemas.registry import SchemaRegistry
from toolwall.state.base import ApprovalStore, State
from toolwall.state.memory import MemoryApprovals, memory_state
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
        state = given.get("state")
        if state is None:
            # An approver that answers from a store of its own brings it (QueueApprover).
            state = parts["state"] = build_state(
                config, getattr(given.get("approver"), "store", None)
            )
        if "approver" not in given:
            parts["approver"] = build_approver(config, state.approvals)
    if config.identity is not None and "identity" not in given:
        from toolwall.identity.verifier import JWTVerifier

        parts["identity"] = JWTVerifier.from_config(config.identity, config.base_dir)
    parts.update(given)
    return parts


def build_state(config: Config, approvals: ApprovalStore | None = None) -> State:
    """The state `[state]` describes; `approvals` replaces its approval store. `ConfigError`
    when the backend cannot be opened or reached (a firewall does not start on a state it
    cannot use)."""
    settings = config.state
    if settings.backend == "memory":
        return memory_state(
            approvals if approvals is not None else _approval_store(config),
            max_sessions=settings.max_sessions,
            max_tools_per_session=settings.max_tools_per_session,
            max_remembered_calls=settings.max_remembered_calls,
            session_ttl_s=settings.session_ttl_s,
        )
    if settings.backend == "sqlite":
        from toolwall.state.sqlite import sqlite_state

        path = config.resolve(Path(expand_env(settings.url, "[state] url")))
        try:
            state = sqlite_state(path, settings)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"[state] url {path}: cannot open: {exc}") from None
    else:
        try:
            from toolwall.state.redis_state import redis_state
        except ImportError as exc:
            raise ConfigError(
                f'[state] backend = "redis" needs the redis client: pip install '
                f"'toolwall[redis]' ({exc})"
            ) from None
        url = expand_env(settings.url, "[state] url")
        try:
            check_redis_url(url)
        except ValueError as exc:
            raise ConfigError(f"[state] {exc}") from None
        state = redis_state(url, settings)
    if approvals is not None:
        state = replace(state, approvals=approvals)
    return state


def expand_env(value: str, where: str) -> str:
    """`${NAME}` replaced by the environment variable NAME; an unset one is a `ConfigError`."""

    def variable(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ConfigError(f"{where}: the environment variable {name} is not set")
        return os.environ[name]

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", variable, value)


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
