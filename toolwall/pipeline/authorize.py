"""The authorize stage: a call runs only if the caller was granted its tool.

Grants are tool patterns (`email.*`, `fs.read`) carried by the caller; a glob must match the
whole tool name (`email.*` does not cover `emailx.send`).
"""

from __future__ import annotations

from toolwall.model import Caller, Reason, ReasonKind
from toolwall.patterns import covered


def not_granted(caller: Caller, tool: str) -> Reason | None:
    """Why `caller` may not call `tool`, or None when its grants cover it."""
    if covered(caller.tools, tool):
        return None
    return Reason(
        ReasonKind.NOT_GRANTED, f"{caller.sub or 'the anonymous caller'} is not granted {tool}"
    )
