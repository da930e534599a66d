"""`toolwall.audit.read` and `verify`: every tampering with the file is caught at its line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.audit.helpers import fill, lines_of, write_lines
from toolwall.audit import read_lines, read_records, record_line, verify


def test_an_untouched_file_verifies(path: Path) -> None:
    fill(path, 5)
    report = verify(path)
    assert report.ok and report.records == 5 and report.torn == []
    assert report.head == json.loads(lines_of(path)[-1])["hash"]


def test_an_edited_record_breaks_the_chain_at_its_line(path: Path) -> None:
    fill(path)
    lines = lines_of(path)
    lines[2] = lines[2].replace(b'"action":"allow"', b'"action":"block"')
    write_lines(path, lines)
    report = verify(path)
    assert not report.ok and report.line == 3
    assert "edited" in (report.problem or "")
    assert report.records == 2


def test_an_edit_with_a_recomputed_hash_breaks_the_next_line(path: Path) -> None:
    fill(path)
    lines = lines_of(path)
    record = json.loads(lines[2])
    record.pop("hash")
    record["tool"] = "fs.write"
    new_line, _ = record_line({k: v for k, v in record.items() if k != "prev"}, record["prev"])
    lines[2] = new_line.encode() + b"\n"
    write_lines(path, lines)
    report = verify(path)
    assert not report.ok and report.line == 4
    assert "prev does not match the hash of line 3" in (report.problem or "")


def test_a_deleted_record_breaks_the_chain(path: Path) -> None:
    fill(path)
    lines = lines_of(path)
    del lines[3]
    write_lines(path, lines)
    report = verify(path)
    assert not report.ok and report.line == 4
    assert "deleted, inserted or moved" in (report.problem or "")


def test_an_anchored_head_catches_records_cut_from_the_end(path: Path) -> None:
    fill(path, 4)
    head = verify(path).head
    fill(path, 2)  # the trail grows: the anchor stays in the chain
    assert verify(path, anchor=head).ok
    write_lines(path, lines_of(path)[:3])  # cut below the anchor
    assert verify(path).ok  # the chain alone cannot see it ...
    report = verify(path, anchor=head)  # ... the anchor can
    assert not report.ok and "anchored record" in (report.problem or "")


def test_deleting_the_first_record_is_caught(path: Path) -> None:
    fill(path)
    write_lines(path, lines_of(path)[1:])
    report = verify(path)
    assert not report.ok and report.line == 1
    assert "genesis" in (report.problem or "")


def test_swapped_records_break_the_chain(path: Path) -> None:
    fill(path)
    lines = lines_of(path)
    lines[1], lines[2] = lines[2], lines[1]
    write_lines(path, lines)
    report = verify(path)
    assert not report.ok and report.line == 2


def test_an_inserted_record_breaks_the_chain(path: Path) -> None:
    fill(path)
    lines = lines_of(path)
    lines.insert(3, lines[1])
    write_lines(path, lines)
    report = verify(path)
    assert not report.ok and report.line == 4


@given(st.data())
def test_any_single_tampering_is_caught(
    tmp_path_factory: pytest.TempPathFactory, data: Any
) -> None:
    path = tmp_path_factory.mktemp("prop") / "a.jsonl"
    fill(path, 5)
    original = lines_of(path)
    lines = list(original)
    i = data.draw(st.integers(0, len(lines) - 1))
    how = data.draw(st.sampled_from(["delete", "duplicate", "swap", "edit"]))
    if how == "delete":
        del lines[i]
    elif how == "duplicate":
        lines.insert(i, lines[i])
    elif how == "swap":
        j = data.draw(st.integers(0, len(lines) - 1).filter(lambda j: j != i))
        lines[i], lines[j] = lines[j], lines[i]
    else:
        record = json.loads(lines[i])
        record["session"] = data.draw(st.text(max_size=8).filter(lambda s: s != "s1"))
        lines[i] = json.dumps(record, sort_keys=True, separators=(",", ":")).encode() + b"\n"
    write_lines(path, lines)
    try:
        report = verify(path)
        # Deleting the last record is the one change a chain alone cannot see (see the docs).
        if how == "delete" and i == len(original) - 1:
            assert report.ok and report.records == len(original) - 1
        else:
            assert not report.ok
    finally:
        write_lines(path, original)


def test_a_torn_line_that_replaced_a_record_is_not_excused(path: Path) -> None:
    fill(path, 4)
    lines = lines_of(path)
    lines[1] = lines[1][:40] + b"\n"
    write_lines(path, lines)
    report = verify(path)
    assert not report.ok and report.line == 3
    assert "unreadable line 2" in (report.problem or "")


def test_read_lines_keeps_torn_lines_as_unreadable(path: Path) -> None:
    fill(path, 2).close()
    whole = lines_of(path)
    with open(path, "ab") as file:
        file.write(whole[0][:30])  # a crash in the middle of a write
    lines = list(read_lines(path))
    assert [line.number for line in lines] == [1, 2, 3]
    assert [line.raw for line in lines] == [*whole, whole[0][:30]]
    assert [line.record is None for line in lines] == [False, False, True]
    assert [r["hash"] for r in read_records(path)] == [json.loads(raw)["hash"] for raw in whole]
    # From an offset (where `toolwall audit tail -f` left off), numbered from there.
    [second, torn] = read_lines(path, start=len(whole[0]))
    assert second.raw == whole[1] and second.number == 1 and torn.record is None
