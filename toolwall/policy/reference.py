"""The reference table of the builtins in docs/builtins.md, rendered from the registry.

`with_reference_table(text)` replaces what stands between the markers; run
`python -m toolwall.policy.reference docs/builtins.md` after changing a declaration
(a test fails while the document and the registry differ).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from toolwall.policy.registry import BUILTINS, Builtin, Param
from toolwall.policy.static_types import article, names

TABLE_START: Final = "<!-- builtins:start -->"
TABLE_END: Final = "<!-- builtins:end -->"


def _describe(param: Param) -> str:
    if param.form == "reference":
        return "a field reference (`args.PATH`, `caller.claims.NAME`)"
    if param.form == "regex":
        return "a regex literal `/.../` or a `let` bound to one"
    described = article(names(param.types)) if param.types is not None else "any value"
    if param.constant:
        return f"{described} known at load time (a literal or a `let`)"
    return f"{described} (a tool pattern)" if param.tool_pattern else described


def reference_table(builtins: Mapping[str, Builtin] = BUILTINS) -> str:
    """The Markdown table of every builtin: signature, argument types, result, what it reads."""
    rows = [
        "| builtin | arguments | result | reads | gives |",
        "|---|---|---|---|---|",
    ]
    for builtin in builtins.values():
        signature = f"`{builtin.name}({', '.join(p.name for p in builtin.params)})`"
        arguments = "; ".join(f"`{p.name}`: {_describe(p)}" for p in builtin.params)
        rows.append(
            f"| {signature} | {arguments} | {names(builtin.result)} "
            f"| {', '.join(builtin.needs) or '-'} | {builtin.doc} |"
        )
    return "\n".join(rows)


def with_reference_table(markdown: str, builtins: Mapping[str, Builtin] = BUILTINS) -> str:
    """`markdown` with the text between the table markers replaced by `reference_table()`."""
    start, end = markdown.find(TABLE_START), markdown.find(TABLE_END)
    if start < 0 or end < start:
        raise ValueError(f"no {TABLE_START} ... {TABLE_END} block")
    head = markdown[: start + len(TABLE_START)]
    return f"{head}\n{reference_table(builtins)}\n{markdown[end:]}"


if __name__ == "__main__":  # python -m toolwall.policy.reference docs/builtins.md
    for name in sys.argv[1:]:
        file = Path(name)
        file.write_text(with_reference_table(file.read_text("utf-8")), "utf-8")
