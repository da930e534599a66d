"""Each fast path that leans on another library's internals can be switched off
(`TOOLWALL_DISABLE_FAST_PATHS`), and switching it off changes no decision: the corpus of
`tests.schemas.corpus` (the demo policy and schema edge cases) is decided alike, audited alike and
encoded alike in a process with all fast paths on and in one with the named ones off."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest

from tests.schemas.corpus import corpus_in_a_process, decide_corpus
from toolwall.canonical import C_JSON_ENCODER
from toolwall.regex import RE2_MATCH
from toolwall.schemas import fast, registry
from toolwall.schemas.fast import FASTJSONSCHEMA_RE2

FAST_PATHS = (C_JSON_ENCODER, RE2_MATCH, FASTJSONSCHEMA_RE2)


@pytest.mark.parametrize("disabled", [*FAST_PATHS, ",".join(FAST_PATHS)])
def test_switching_fast_paths_off_changes_no_decision(disabled: str) -> None:
    on = corpus_in_a_process("")
    off = corpus_in_a_process(disabled)
    assert on["fast_paths"] == dict.fromkeys(FAST_PATHS, True)
    assert off["fast_paths"] == {name: name not in disabled.split(",") for name in FAST_PATHS}
    assert off["decisions"] == on["decisions"]
    assert off["audit"] == on["audit"]
    assert off["canonical"] == on["canonical"]
    assert on["audit_verifies"] and off["audit_verifies"]


def test_the_corpus_catches_a_fast_path_that_matches_patterns_with_pythons_re(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The corpus is not blind to the fail-open the swap's self-test guards against: with
    fastjsonschema's own (Python) regexes on the fast path, some decisions change."""
    honest = decide_corpus(tmp_path / "honest")

    def with_python_regexes(schema: Any) -> Any:
        return fast.compile_with_re2(schema, set(), fastjsonschema.compile)

    monkeypatch.setattr(registry, "compile_fast", with_python_regexes)
    fooled = decide_corpus(tmp_path / "fooled")
    changed = [
        (before["tool"], before["original_args"])
        for before, after in zip(honest["decisions"], fooled["decisions"], strict=True)
        if json.dumps(before) != json.dumps(after)
    ]
    assert ("edge.digits", {"s": "١٢٣"}) in changed
    assert ("edge.space", {"s": "\x0b"}) in changed
    assert ("edge.word", {"s": "é"}) in changed
