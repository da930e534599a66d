"""`toolwall.canonical`: canonical JSON is `json.dumps(sort_keys, compact)`, whichever encoder
writes it; the C fast path is used only when its self-test proves that; the digests are stable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import ROOT
from toolwall import canonical
from toolwall.canonical import (
    args_digest,
    call_digest,
    canonical_ascii,
    canonical_encoder,
    canonical_json,
    encodes_canonically,
    result_digest,
)
from toolwall.model import Caller

# Any text, lone surrogates included; numbers of every size, and the float specials.
any_text = st.text(st.characters(exclude_categories=()), max_size=10)
any_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=20,
)

c_make_encoder = getattr(json.encoder, "c_make_encoder", None)


def dumps(value: Any, ensure_ascii: bool) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=ensure_ascii)


@given(any_json)
def test_canonical_json_is_what_json_dumps_writes(value: Any) -> None:
    assert canonical_json(value) == dumps(value, ensure_ascii=False)
    assert canonical_ascii(value) == dumps(value, ensure_ascii=True)
    assert canonical_ascii(value).isascii()


def test_the_c_encoder_is_the_one_in_use_where_there_is_one() -> None:
    # The fast path passed its self-test here; if this fails, a Python release changed
    # `c_make_encoder` and toolwall runs (correctly) on the slower encoder.
    assert canonical.C_ENCODER is (c_make_encoder is not None)


def test_the_python_encoder_passes_the_self_test() -> None:
    for ensure_ascii in (True, False):
        python = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=ensure_ascii)
        assert encodes_canonically(python.encode, ensure_ascii)


def _make_that_forgets_to_sort(*args: Any) -> Any:
    """A C encoder factory whose arguments moved (as another Python release could do): keys
    come out in insertion order, not sorted."""
    assert c_make_encoder is not None
    return c_make_encoder(*args[:6], False, *args[7:])


def _make_with_a_new_signature(*args: Any) -> Any:
    raise TypeError("c_make_encoder() takes exactly 10 arguments (9 given)")


def _make_that_refuses_nan(*args: Any) -> Any:
    assert c_make_encoder is not None
    return c_make_encoder(*args[:8], False)


@pytest.mark.skipif(c_make_encoder is None, reason="this Python has no C JSON encoder")
@pytest.mark.parametrize(
    "make", [_make_that_forgets_to_sort, _make_with_a_new_signature, _make_that_refuses_nan]
)
@pytest.mark.parametrize("ensure_ascii", [True, False])
def test_a_c_encoder_that_fails_its_self_test_is_not_used(
    make: Callable[..., Any], ensure_ascii: bool
) -> None:
    encode, fast = canonical_encoder(ensure_ascii, make=make)
    assert not fast
    assert encode({"b": 1, "a": float("nan")}) == dumps({"b": 1, "a": float("nan")}, ensure_ascii)


def test_the_self_test_catches_an_encoder_that_differs_on_any_probe() -> None:
    def escapes_slashes(value: Any) -> str:
        return dumps(value, ensure_ascii=True).replace("/", "\\/")

    def loses_negative_zero(value: Any) -> str:
        return dumps(value, ensure_ascii=True).replace("-0.0", "0.0")

    def writes_big_floats_as_integers(value: Any) -> str:
        return dumps(value, ensure_ascii=True).replace("1e+16", "10000000000000000")

    assert encodes_canonically(lambda v: dumps(v, ensure_ascii=True), ensure_ascii=True)
    for wrong in (escapes_slashes, loses_negative_zero, writes_big_floats_as_integers):
        assert not encodes_canonically(wrong, ensure_ascii=True), wrong.__name__
    # The ASCII form is not the UTF-8 form: each encoder is tested against its own flavour.
    assert not encodes_canonically(lambda v: dumps(v, ensure_ascii=True), ensure_ascii=False)


def test_the_switch_turns_the_c_encoder_off() -> None:
    probe = (
        "import toolwall.canonical as c\n"
        "print(c.C_ENCODER, c.canonical_ascii({'b': [1e16, -0.0], 'a': 'é'}))\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        canonical.DISABLE_ENV: "re2_match, c_json_encoder",
    }
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout == 'False {"a":"\\u00e9","b":[1e+16,-0.0]}\n'


# -- digests: the values approvals and audit records are bound to ------------------------------


def test_digests_are_stable() -> None:
    """Digests recorded by earlier versions (e50a9e6) must still match: an approval or an audit
    record is bound to them."""
    assert (
        args_digest({"b": [1, 2.5, None], "a": "é\ud800"})
        == "92f314117ac6a8b87f4fe6844b1a6e86bfa5ae4bff43b8e778a54085c287f370"
    )
    bob = Caller(sub="bob", iss="https://idp.example")
    args = {"amount": 10, "to_iban": "DE02120300000000202051"}
    assert (
        call_digest("bank.transfer", args, bob, "s1")
        == "c4245c28aa225e17d4b0668cf7a749c8d6d7d8eae9994d1ac7bd5410b7fc6216"
    )
    assert result_digest("page ☃") == (
        "5b3ec50cb8df828044ceb3fceddfdb3c0c8187091d60fbdd1d0950647c3dfb81",
        8,
    )
    assert result_digest(b"\x00\xff") == (
        "06eb7d6a69ee19e5fbdf749018d3d2abfa04bcbd1365db312eb86dc7169389b8",
        2,
    )
    assert result_digest({"rows": [1]}) == (
        "04a9ea2dd3a938dffdb0b8ce8f9d4ad37216a67b193209d521cb364f30db33be",
        12,
    )
    # Not JSON: its repr is hashed.
    assert result_digest({1, 2}) == (
        "26a90b8c49b87470e96c1f2767f868b04cca6ccc7c5951d32b2baccf27ec96d9",
        6,
    )
