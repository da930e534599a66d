from __future__ import annotations

from pathlib import Path

import pytest

from toolwall import Caller, Firewall, ToolCall
from toolwall.policy import compile_sources
from toolwall.schemas.registry import SchemaRegistry

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def schemas() -> SchemaRegistry:
    return SchemaRegistry.load(ROOT / "schemas")


@pytest.fixture
def alice() -> Caller:
    return Caller(sub="alice", tools=("*",), groups=("eng",), authenticated=True)


def firewall_for(schemas: SchemaRegistry, *files: str) -> Firewall:
    """A firewall over the demo schemas with rule texts `a.tw`, `b.tw`, ... in that order."""
    sources = [(f"{chr(ord('a') + i)}.tw", text) for i, text in enumerate(files)]
    return Firewall(schemas=schemas, rules=compile_sources(sources, schemas))


def query(limit: int = 50, **more: object) -> ToolCall:
    """A `db.query` call of the demo schemas."""
    return ToolCall(tool="db.query", args={"sql": "select 1", "limit": limit, **more})
