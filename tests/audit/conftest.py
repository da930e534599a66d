"""Fixtures of the audit tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def path(tmp_path: Path) -> Path:
    """Where a test's audit file goes (its folder does not exist yet)."""
    return tmp_path / "audit" / "toolwall.jsonl"
