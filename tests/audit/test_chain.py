"""`toolwall.audit.chain`: canonical lines, each hash over `prev` and the record without hash."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.audit.helpers import any_json, fill, lines_of
from toolwall.audit import GENESIS, RecordError, link_hash, record_line
from toolwall.audit.chain import chain_line, record_runs
from toolwall.errors import ToolwallError


def test_lines_are_canonical_json_and_each_hash_covers_prev_and_the_record(path: Path) -> None:
    fill(path, 4)
    prev = GENESIS
    for raw in lines_of(path):
        text = raw.decode("ascii").rstrip("\n")
        record = json.loads(text)
        assert text == json.dumps(record, sort_keys=True, separators=(",", ":"))
        stated = record.pop("hash")
        assert record["prev"] == prev
        body = json.dumps(record, sort_keys=True, separators=(",", ":"))
        assert stated == hashlib.sha256((prev + body).encode()).hexdigest()
        prev = stated


def test_record_line_is_what_verify_recomputes() -> None:
    record: dict[str, Any] = {"z": [1, 2.5, None], "a": {"é": "ü\ud800"}, "type": "x"}
    line, digest = record_line(dict(record), "ab" * 32)
    parsed = json.loads(line)
    assert parsed.pop("hash") == digest
    assert digest == link_hash("ab" * 32, json.dumps(parsed, sort_keys=True, separators=(",", ":")))
    with pytest.raises(RecordError, match="hash") as info:
        record_line({"hash": "x"}, GENESIS)
    assert isinstance(info.value, ToolwallError) and isinstance(info.value, ValueError)


member_keys = st.sampled_from(["a", "action", "hasg", "hasi", "id", "pres", "prew", "type", "z"])


@given(st.dictionaries(member_keys, any_json, max_size=6), st.sampled_from([GENESIS, "ab" * 32]))
def test_the_runs_put_together_are_the_canonical_record(record: dict[str, Any], prev: str) -> None:
    """Whichever runs are empty (no member before "hash", between "hash" and "prev", or after
    "prev"), the line is the canonical record with its hash, and the hash covers prev."""
    line, digest = chain_line(*record_runs(record), prev)
    expected = {**record, "prev": prev}
    body = json.dumps(expected, sort_keys=True, separators=(",", ":"))
    assert digest == link_hash(prev, body)
    assert line == json.dumps({**expected, "hash": digest}, sort_keys=True, separators=(",", ":"))
    assert record_line(dict(record), prev) == (line, digest)
