"""Builds the parts of a `Firewall` from a validated `Config`."""

from __future__ import annotations

from typing import Any

from toolwall.config import Config
from toolwall.schemas import SchemaRegistry


def build_parts(config: Config) -> dict[str, Any]:
    from toolwall.dsl import load_policy

    schemas = SchemaRegistry.load(config.resolve(config.policy.schemas))
    rules = load_policy([config.resolve(p) for p in config.policy.rule_paths], schemas)
    return {
        "schemas": schemas,
        "rules": rules,
        "limits": config.limits,
        "unknown_tool": config.policy.unknown_tool,
    }
