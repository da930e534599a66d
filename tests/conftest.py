from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from toolwall import Caller, Firewall
from toolwall.schemas.registry import SchemaRegistry

ROOT = Path(__file__).resolve().parent.parent

settings.register_profile(
    "toolwall",
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.load_profile("toolwall")


@pytest.fixture(scope="session")
def demo_schemas() -> SchemaRegistry:
    return SchemaRegistry.load(ROOT / "schemas")


@pytest.fixture
def alice() -> Caller:
    return Caller(
        sub="alice", groups=("eng",), tools=("email.*", "fs.read", "db.query"), authenticated=True
    )


@pytest.fixture
def firewall(demo_schemas: SchemaRegistry) -> Firewall:
    return Firewall(schemas=demo_schemas)
