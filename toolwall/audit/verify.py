"""`verify`: recompute the hash chain of an audit file and name the first line that breaks it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from toolwall.audit.chain import GENESIS, link_hash
from toolwall.audit.read import read_lines
from toolwall.canonical import canonical_ascii


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What `verify` found. `ok` is False at the first break; `line` and `problem` say where."""

    ok: bool
    records: int
    head: str
    line: int | None = None
    problem: str | None = None
    torn: list[int] = field(default_factory=list)

    def __str__(self) -> str:
        if self.ok:
            return f"chain intact: {self.records} records, head {self.head}"
        return f"line {self.line}: {self.problem}"


def verify(path: str | os.PathLike[str], anchor: str | None = None) -> VerifyReport:
    """Recompute the chain of an audit file; stop at the first record that breaks it.

    A line that is not a whole JSON record is a torn write (a crash): it is reported in `torn`
    and skipped, and the chain must continue after it from the last whole record. A record that
    was edited, deleted, inserted or moved breaks the chain. `anchor` is a head hash noted
    earlier (kept where the writer cannot change it): the chain must still contain it, which
    shows that no records were cut from the end since, and the file was not rewritten.
    """
    anchored = anchor is None
    prev = GENESIS
    prev_line: int | None = None
    records = 0
    torn: list[int] = []
    for line in read_lines(path):
        record = line.record
        if record is None:
            torn.append(line.number)
            continue
        stated = record.pop("hash", None)
        stated_prev = record.get("prev")
        if not isinstance(stated, str) or not isinstance(stated_prev, str):
            why = "not an audit record (no hash or prev)"
            return _broken(line.number, why, records, prev, torn)
        try:
            body = canonical_ascii(record)
            actual = link_hash(stated_prev, body)
        except (TypeError, ValueError, UnicodeEncodeError) as exc:
            return _broken(line.number, f"cannot re-encode the record: {exc}", records, prev, torn)
        if actual != stated:
            return _broken(
                line.number,
                "the record was edited: its hash does not match its content",
                records,
                prev,
                torn,
            )
        if stated_prev != prev:
            if prev_line is None:
                why = (
                    "the first record does not start the chain (its prev is not the genesis "
                    "hash): records before it were deleted"
                )
            else:
                skipped = [n for n in torn if n > prev_line]
                after = f" (and the unreadable line {skipped[-1]})" if skipped else ""
                why = (
                    f"prev does not match the hash of line {prev_line}{after}: a record was "
                    "deleted, inserted or moved here"
                )
            return _broken(line.number, why, records, prev, torn)
        prev = stated
        prev_line = line.number
        records += 1
        anchored = anchored or stated == anchor
    if not anchored:
        why = (
            f"the anchored record {anchor} is not in the chain: records were cut from the end "
            "or the file was rewritten"
        )
        return _broken(records + len(torn), why, records, prev, torn)
    return VerifyReport(True, records, prev, torn=torn)


def _broken(number: int, problem: str, records: int, head: str, torn: list[int]) -> VerifyReport:
    return VerifyReport(False, records, head, line=number, problem=problem, torn=torn)
