"""How a failed policy test reads: expected against actual, then how the decision came about.

`failure_text` is plain text (pytest prints it); `failure_renderable` is the rich version that
`toolwall test` prints, with the explain tree of `toolwall.render`.
"""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from toolwall.render import decision_tree
from toolwall.testing.runner import CaseResult


def failure_text(result: CaseResult) -> str:
    """A plain-text account of why a case failed."""
    case = result.case
    lines = [f"policy test {case.name!r} failed ({case.location})"]
    lines.append(f"  call: {case.call.tool} {_show(case.call.args)}")
    if result.error is not None:
        lines.append(f"  error: {result.error}")
    for mismatch in result.mismatches:
        lines.append(f"  {mismatch.what}:")
        lines.append(f"    expected: {_show(mismatch.expected)}")
        lines.append(f"    actual:   {_show(mismatch.actual)}")
    if result.decision is not None:
        lines.append("")
        lines.append(result.decision.explain())
    elif result.history:
        lines.append("")
        lines.append(result.history[-1].explain())
    return "\n".join(lines)


def failure_renderable(result: CaseResult) -> RenderableType:
    """The rich account of a failed case: a table of differences and the explain tree."""
    parts: list[RenderableType] = []
    case = result.case
    parts.append(Text(f"call: {case.call.tool} {_show(case.call.args)}", "dim"))
    if result.error is not None:
        parts.append(Text(f"error: {result.error}", "red"))
    if result.mismatches:
        table = Table(show_header=True, header_style="bold", box=None, padding=(0, 2))
        table.add_column("")
        table.add_column("expected", style="green")
        table.add_column("actual", style="red")
        for mismatch in result.mismatches:
            table.add_row(mismatch.what, _show(mismatch.expected), _show(mismatch.actual))
        parts.append(table)
    decision = result.decision or (result.history[-1] if result.history else None)
    if decision is not None:
        parts.append(decision_tree(decision))
    return Group(*parts)


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(value)
