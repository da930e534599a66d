"""`toolwall.audit.redact`: sensitive keys and paths never reach the file, nor do tokens."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.audit.helpers import BOB, decision_for, lines_of, open_firewall
from toolwall import Action, Caller, Reason, ReasonKind
from toolwall.audit import (
    REDACTED,
    AuditLog,
    Redactor,
    RedactPathError,
    parse_redact_path,
    read_records,
    verify,
)
from toolwall.canonical import args_digest
from toolwall.errors import ToolwallError


def test_redaction_by_key_at_any_depth_case_insensitively() -> None:
    redact = Redactor(["password", "token"])
    args = {
        "user": "bob",
        "Password": "p1",
        "nested": {"deeper": [{"TOKEN": "t1", "keep": 1}, {"x": {"password": {"any": "shape"}}}]},
    }
    assert redact(args) == {
        "user": "bob",
        "Password": REDACTED,
        "nested": {"deeper": [{"TOKEN": REDACTED, "keep": 1}, {"x": {"password": REDACTED}}]},
    }
    assert args["Password"] == "p1"  # the original is never changed
    clean = {"a": [1, {"b": 2}]}
    assert redact(clean) is clean


def test_redaction_by_json_path() -> None:
    redact = Redactor(
        [], ["$.card.number", "$.items[*].secret", "$['odd-key']", "$.rows[0]", "$.m.*"]
    )
    args = {
        "card": {"number": "4111111111111111", "name": "Bob"},
        "items": [{"secret": 1, "id": 1}, {"id": 2}, {"secret": [2]}],
        "odd-key": "x",
        "rows": ["first", "second"],
        "m": {"a": 1, "b": 2},
        "number": "not under card",
    }
    assert redact(args) == {
        "card": {"number": REDACTED, "name": "Bob"},
        "items": [{"secret": REDACTED, "id": 1}, {"id": 2}, {"secret": REDACTED}],
        "odd-key": REDACTED,
        "rows": [REDACTED, "second"],
        "m": {"a": REDACTED, "b": REDACTED},
        "number": "not under card",
    }
    assert redact({"card": "a string, not an object"}) == {"card": "a string, not an object"}


def test_redact_paths_parse_or_say_where_they_fail() -> None:
    assert parse_redact_path("$.a.b[2]['c d'][*]")[:3] == ("a", "b", 2)
    for bad in ("a.b", "$.a[", "$..a", "$.a b"):
        with pytest.raises(RedactPathError, match="redact path") as info:
            parse_redact_path(bad)
        assert isinstance(info.value, ToolwallError) and isinstance(info.value, ValueError)


def test_redacted_values_are_scrubbed_from_reasons_too(path: Path) -> None:
    from tests.pipeline.test_decide import ScriptedRules
    from toolwall.model import RuleVerdict

    reason = Reason(ReasonKind.RULE, "password hunter2-long was reused", rule="r")
    rules = ScriptedRules("login", RuleVerdict(Action.BLOCK, None, (reason,), ("r",)))
    decision_for(open_firewall(AuditLog(path), rules), "login", {"password": "hunter2-long"})
    assert b"hunter2-long" not in path.read_bytes()
    assert next(read_records(path))["reasons"][0]["message"] == f"password {REDACTED} was reused"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "Secret", "b", "TOKEN", "c"]), inner, max_size=3)
    ),
    max_leaves=12,
)


@given(json_values)
def test_no_value_under_a_redacted_key_survives(value: Any) -> None:
    before = json.dumps(value, sort_keys=True)
    out = Redactor(["secret", "token"])(value)
    assert json.dumps(value, sort_keys=True) == before  # input untouched

    def check(node: Any) -> None:
        if isinstance(node, dict):
            for key, item in node.items():
                if key.lower() in ("secret", "token"):
                    assert item == REDACTED
                else:
                    check(item)
        elif isinstance(node, list):
            for item in node:
                check(item)

    check(out)


@pytest.mark.parametrize(
    ("keys", "args", "expected"),
    [
        (["password"], {"PassWord": "x1"}, {"PassWord": REDACTED}),
        # KELVIN SIGN lower-cases to an ASCII "k": the key still matches "key".
        (["key"], {"\u212aey": "x2"}, {"\u212aey": REDACTED}),
        (["pässwort"], {"PÄSSWORT": "x3"}, {"PÄSSWORT": REDACTED}),
        (["token"], {"note": "the token is elsewhere"}, {"note": "the token is elsewhere"}),
        (["a\\b"], {"A\\B": "x4"}, {"A\\B": REDACTED}),
    ],
)
def test_the_redaction_screen_never_skips_a_matching_key(
    path: Path, keys: list[str], args: dict[str, Any], expected: dict[str, Any]
) -> None:
    decision_for(open_firewall(AuditLog(path, redact_keys=keys)), "t", args)
    record = next(read_records(path))
    assert record["args"] == expected
    assert record["args_sha256"] == args_digest(args)
    assert verify(path).ok


def test_real_tokens_accepted_or_refused_never_reach_the_file(path: Path) -> None:
    from toolwall.identity import JWTVerifier
    from toolwall.identity.devkeys import generate_private_key, mint_token

    key, stranger = generate_private_key(), generate_private_key()
    verifier = JWTVerifier.from_public_key(key, audience="toolwall")
    firewall = open_firewall(AuditLog(path), identity=verifier)
    good = mint_token(key, sub="bob", tools=["*"], ttl_s=300, audience="toolwall", session="s")
    expired = mint_token(key, sub="bob", tools=["*"], ttl_s=1, audience="toolwall", now=1000.0)
    forged = mint_token(stranger, sub="bob", tools=["*"], ttl_s=300, audience="toolwall")
    other_audience = mint_token(key, sub="bob", tools=["*"], ttl_s=300, audience="model-api")
    actions = [
        firewall.decide({"tool": "fs.read", "args": {}}, token=token).action
        for token in (good, expired, forged, other_audience)
    ]
    assert actions == [Action.ALLOW, Action.BLOCK, Action.BLOCK, Action.BLOCK]
    data = path.read_bytes()
    for token in (good, expired, forged, other_audience):
        for part in token.split("."):
            assert part.encode() not in data
    assert [r["caller"]["sub"] for r in read_records(path)] == ["bob", None, None, None]


def test_a_token_given_to_decide_never_reaches_the_file(path: Path) -> None:
    token = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJib2IifQ.c2VjcmV0LXNpZ25hdHVyZS12YWx1ZQ"

    class Verifier:
        def caller_for(self, presented: str) -> tuple[Caller, Reason | None]:
            if presented == token:
                return BOB, None
            return Caller.anonymous(), Reason(ReasonKind.IDENTITY, "bad signature")

    log = AuditLog(path)
    firewall = open_firewall(log, identity=Verifier())
    assert firewall.decide({"tool": "fs.read", "args": {}}, token=token).action is Action.ALLOW
    firewall.decide({"tool": "fs.read", "args": {}}, token=token + "x")
    # Without [identity] the token is refused, and still not written.
    open_firewall(log).decide({"tool": "fs.read", "args": {}}, token=token)
    # A token the model put into the arguments is redacted by the default keys.
    firewall.decide({"tool": "http.get", "args": {"headers": {"Token": token}}}, token=token)
    data = path.read_bytes()
    assert len(lines_of(path)) == 4
    for part in token.split("."):
        assert part.encode() not in data
    assert verify(path).ok
