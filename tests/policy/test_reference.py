"""docs/builtins.md: its table is the registry's, and its examples run as they are."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

from toolwall.policy.reference import (
    TABLE_END,
    TABLE_START,
    reference_table,
    with_reference_table,
)
from toolwall.policy.registry import BUILTINS, Builtin, Param
from toolwall.policy.static_types import STRING

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "builtins.md"


def test_the_table_in_the_documentation_is_the_registry() -> None:
    text = GUIDE.read_text("utf-8")
    assert with_reference_table(text) == text, (
        "docs/builtins.md and the builtin registry differ: run "
        "`python -m toolwall.policy.reference docs/builtins.md`"
    )


def test_every_builtin_has_a_row_with_its_signature_and_what_it_reads() -> None:
    rows = reference_table().splitlines()[2:]
    assert len(rows) == len(BUILTINS)
    for row, builtin in zip(rows, BUILTINS.values(), strict=True):
        params = ", ".join(p.name for p in builtin.params)
        assert row.startswith(f"| `{builtin.name}({params})` |")
        assert f"| {', '.join(builtin.needs) or '-'} |" in row


def test_a_new_declaration_changes_the_table_and_only_between_the_markers() -> None:
    shout = Builtin("shout", (Param("s", STRING),), STRING, str.upper, "the string, louder")
    document = f"# Title\n\nprose\n\n{TABLE_START}\nold table\n{TABLE_END}\n\nmore prose\n"
    updated = with_reference_table(document, {**BUILTINS, "shout": shout})
    assert updated.startswith(f"# Title\n\nprose\n\n{TABLE_START}\n| builtin |")
    assert updated.endswith(f"|\n{TABLE_END}\n\nmore prose\n")
    assert "old table" not in updated
    assert "| `shout(s)` | `s`: a string | string | - | the string, louder |" in updated
    assert with_reference_table(updated, {**BUILTINS, "shout": shout}) == updated


def test_a_document_without_the_markers_is_refused() -> None:
    with pytest.raises(ValueError, match="builtins:start"):
        with_reference_table("# no table here\n")
    with pytest.raises(ValueError, match="builtins:start"):
        with_reference_table(f"{TABLE_END}\n{TABLE_START}\n")


def test_no_description_breaks_the_table() -> None:
    for builtin in BUILTINS.values():
        assert "|" not in builtin.doc and "\n" not in builtin.doc, builtin.name
        assert builtin.doc == builtin.doc.strip() and builtin.doc, builtin.name


def test_the_documentation_examples_run() -> None:
    result = doctest.testfile(str(GUIDE), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 20
    assert result.failed == 0
