"""Reading an audit file: every line parsed, torn lines (a crash mid-write) kept as unreadable."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Line:
    """One line of an audit file: its number, the record (None when torn) and its raw text."""

    number: int
    record: dict[str, Any] | None
    raw: bytes


def read_lines(path: str | os.PathLike[str], start: int = 0) -> Iterator[Line]:
    """Every line of an audit file, parsed; unreadable lines come with `record=None`."""
    with open(path, "rb") as file:
        if start:
            file.seek(start)
        for number, raw in enumerate(file, 1):
            try:
                record = json.loads(raw)
            except ValueError:
                record = None
            yield Line(number, record if isinstance(record, dict) else None, raw)


def read_records(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """The whole records of an audit file, in order (torn lines skipped)."""
    for line in read_lines(path):
        if line.record is not None:
            yield line.record
