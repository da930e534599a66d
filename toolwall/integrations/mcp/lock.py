"""Tool pinning: the lock file that defends against a server changing its tools under you.

A tool's definition is shown to the model (its description) and constrains what it may send
(its input schema), so a server that silently changes either after it was reviewed can steer the
model ("rug pull"). `toolwall mcp lock` records a SHA-256 of each upstream tool's definition,
and of its description and input schema separately so a refusal can say which one changed. The
gateway hides every tool whose definition does not match the lock, and blocks calls to it.

The file is JSON, next to `toolwall.toml` by default (`[mcp] lock_file`), meant to be reviewed
and committed:

    {"version": 1, "tools": {"git.git_status": {"sha256": "...", "description_sha256": "...",
                                                "input_schema_sha256": "..."}}}
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolwall.canonical import canonical_json
from toolwall.errors import ConfigError

LOCK_VERSION = 1


def _sha256(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class ToolPin:
    """The digests of one tool definition: whole, description only, input schema only."""

    sha256: str
    description_sha256: str
    input_schema_sha256: str

    @classmethod
    def of(cls, name: str, description: str | None, input_schema: Mapping[str, Any]) -> ToolPin:
        """Digests over canonical JSON (sorted keys, no spaces), so key order never matters."""
        return cls(
            sha256=_sha256(
                {"name": name, "description": description, "inputSchema": dict(input_schema)}
            ),
            description_sha256=_sha256(description),
            input_schema_sha256=_sha256(dict(input_schema)),
        )

    def to_dict(self) -> dict[str, str]:
        return {
            "sha256": self.sha256,
            "description_sha256": self.description_sha256,
            "input_schema_sha256": self.input_schema_sha256,
        }


@dataclass(frozen=True, slots=True)
class PinCheck:
    """Whether a presented definition matches the lock; `change` says what differs."""

    ok: bool
    change: str = ""


class ToolLock:
    """The pinned definitions, by internal tool name (`server.tool`)."""

    def __init__(self, pins: Mapping[str, ToolPin] | None = None, path: Path | None = None) -> None:
        self.pins: dict[str, ToolPin] = dict(pins or {})
        self.path = path

    def check(self, tool: str, pin: ToolPin) -> PinCheck:
        locked = self.pins.get(tool)
        if locked is None:
            return PinCheck(False, "new tool, not in the lock file")
        if locked.sha256 == pin.sha256:
            return PinCheck(True)
        changed = []
        if locked.description_sha256 != pin.description_sha256:
            changed.append("description")
        if locked.input_schema_sha256 != pin.input_schema_sha256:
            changed.append("input schema")
        what = " and ".join(changed) if changed else "definition"
        return PinCheck(False, f"{what} changed since it was locked")

    @classmethod
    def load(cls, path: Path) -> ToolLock:
        """Read a lock file. Raises `ConfigError` naming the file and what is wrong with it."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the lock file: {exc.strerror or exc}") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{path}: the lock file is not valid JSON: {exc}") from None
        if not isinstance(data, dict) or data.get("version") != LOCK_VERSION:
            raise ConfigError(f"{path}: not a toolwall lock file of version {LOCK_VERSION}")
        tools = data.get("tools")
        if not isinstance(tools, dict):
            raise ConfigError(f'{path}: the lock file has no "tools" object')
        pins = {}
        for name, entry in tools.items():
            try:
                pins[name] = ToolPin(
                    sha256=_hex(entry["sha256"]),
                    description_sha256=_hex(entry["description_sha256"]),
                    input_schema_sha256=_hex(entry["input_schema_sha256"]),
                )
            except (KeyError, TypeError, ValueError):
                raise ConfigError(f"{path}: tools.{name}: not a valid pin") from None
        return cls(pins, path)

    def save(self, path: Path | None = None) -> Path:
        """Write the lock atomically (a reader never sees half a file)."""
        target = path or self.path
        if target is None:
            raise ConfigError("no lock file path given")
        body = {
            "version": LOCK_VERSION,
            "tools": {name: self.pins[name].to_dict() for name in sorted(self.pins)},
        }
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, target)
        self.path = target
        return target

    @classmethod
    def of(cls, definitions: Iterable[tuple[str, ToolPin]], path: Path | None = None) -> ToolLock:
        return cls(dict(definitions), path)


def _hex(value: object) -> str:
    if not isinstance(value, str) or len(value) != 64:
        raise ValueError("not a SHA-256 hex digest")
    int(value, 16)
    return value
