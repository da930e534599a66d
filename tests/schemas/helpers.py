"""Shared pieces of the schema tests."""

from __future__ import annotations

import json
from pathlib import Path

ARGS = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}


def write(folder: Path, name: str, data: object) -> Path:
    path = folder / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path
