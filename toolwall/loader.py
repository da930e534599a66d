"""Builds the parts of a `Firewall` from a validated `Config`."""

from __future__ import annotations

from typing import Any

from toolwall.config import Config
from toolwall.schemas import SchemaRegistry


def build_parts(config: Config) -> dict[str, Any]:
    from toolwall.dsl import load_policy

    schemas = SchemaRegistry.load(config.resolve(config.policy.schemas))
    rules = load_policy([config.resolve(p) for p in config.policy.rule_paths], schemas)
    parts: dict[str, Any] = {
        "schemas": schemas,
        "rules": rules,
        "limits": config.limits,
        "unknown_tool": config.policy.unknown_tool,
    }
    if config.identity is not None:
        from toolwall.identity import JWTVerifier

        parts["identity"] = JWTVerifier.from_config(config.identity, config.base_dir)
    return parts
