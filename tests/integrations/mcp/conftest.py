"""Fixtures of the MCP gateway tests (helpers are in mcp_helpers.py)."""

from __future__ import annotations

import pytest
from mcp_helpers import Keys


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys()
