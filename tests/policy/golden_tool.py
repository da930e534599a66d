"""Renders the diagnostics of one golden rule file, as the golden test compares them."""

from __future__ import annotations

from pathlib import Path

from toolwall.policy import check_sources
from toolwall.schemas.registry import SchemaRegistry

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "golden"


def demo_schemas() -> SchemaRegistry:
    return SchemaRegistry.load(ROOT / "schemas")


def render(name: str, schemas: SchemaRegistry) -> str:
    """All diagnostics of `golden/NAME.tw`, as `file:line:col` + source line + caret blocks."""
    text = (GOLDEN / f"{name}.tw").read_text(encoding="utf-8")
    diagnostics, _, _ = check_sources([(f"{name}.tw", text)], schemas)
    return "\n".join(d.render() for d in diagnostics) + "\n"


if __name__ == "__main__":  # regenerate: python tests/policy/golden_tool.py (then review the diff)
    registry = demo_schemas()
    for file in sorted(GOLDEN.glob("*.tw")):
        (GOLDEN / f"{file.stem}.expected").write_text(render(file.stem, registry), "utf-8")
