"""Properties: no text, however hostile, makes the verifier raise or grant anything."""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from toolwall import Action, Caller, ToolCall
from toolwall.identity import JWTVerifier

from .conftest import Family, claims, firewall, sign

_SEGMENT = st.one_of(
    st.text(max_size=40),
    st.binary(max_size=60).map(lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
        max_leaves=8,
    ).map(lambda v: base64.urlsafe_b64encode(json.dumps(v).encode()).rstrip(b"=").decode()),
)
_TOKENS = st.one_of(
    st.text(max_size=300),
    st.lists(_SEGMENT, min_size=1, max_size=4).map(".".join),
)


def _verifier(ed_key: Family) -> JWTVerifier:
    return JWTVerifier.from_public_key(ed_key.public_pem, audience="toolwall", max_token_bytes=256)


@settings(max_examples=200, deadline=None)
@given(token=_TOKENS)
def test_arbitrary_text_never_raises_and_never_grants(ed_key: Family, token: str) -> None:
    verifier = _verifier(ed_key)
    caller, reason = verifier.caller_for(token)
    assert caller == Caller.anonymous()
    assert reason is not None and reason.message.startswith("token refused (")
    decision = firewall(verifier).decide(ToolCall(tool="fs.read", args={}), token=token)
    assert decision.action is Action.BLOCK


@settings(max_examples=100, deadline=None)
@given(
    header=st.dictionaries(
        st.sampled_from(["alg", "kid", "typ", "crit", "b64", "jku", "x5u"]),
        st.one_of(
            st.sampled_from(["EdDSA", "none", "HS256", "RS256", ""]),
            st.integers(),
            st.lists(st.text(max_size=3), max_size=2),
            st.booleans(),
        ),
    ),
    payload=st.dictionaries(st.text(max_size=6), st.integers() | st.text(max_size=6)),
)
def test_forged_headers_and_payloads_are_refused(
    ed_key: Family, header: dict[str, Any], payload: dict[str, Any]
) -> None:
    def b64(data: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    token = f"{b64(header)}.{b64(payload)}.{b64('sig')}"
    caller, reason = _verifier(ed_key).caller_for(token)
    assert not caller.authenticated and caller.tools == () and reason is not None


@settings(max_examples=60, deadline=None)
@given(position=st.integers(min_value=0), char=st.sampled_from("AQgw_-xyz09."))
def test_any_one_character_change_is_refused(ed_key: Family, position: int, char: str) -> None:
    token = sign(ed_key, claims(iss=None, exp=4_000_000_000, iat=None, nbf=None))
    i = position % len(token)
    changed = token[:i] + char + token[i + 1 :]
    verifier = JWTVerifier.from_public_key(ed_key.public_pem, audience="toolwall")
    caller, reason = verifier.caller_for(changed)
    if changed == token:
        assert reason is None and caller.sub == "alice"
    else:
        assert reason is not None and caller == Caller.anonymous()


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)


@settings(max_examples=150, deadline=None)
@given(
    tools=st.one_of(st.lists(st.text(max_size=8), max_size=4), _JSON),
    groups=st.one_of(st.lists(st.text(max_size=8), max_size=3), _JSON),
    scope=st.one_of(
        st.lists(
            st.sampled_from(["openid", "tool:fs.*", "tool:", "tool:a b", "x"]), max_size=4
        ).map(" ".join),
        _JSON,
    ),
)
def test_signed_claims_of_any_shape_grant_exactly_their_strings_or_refuse(
    ed_key: Family, tools: Any, groups: Any, scope: Any
) -> None:
    token = sign(
        ed_key,
        claims(iss=None, iat=None, nbf=None, exp=4_000_000_000, tools=tools, groups=groups)
        | {"scope": scope},
    )
    # The default size bound: the 256-byte one of `_verifier` refused nearly every token here
    # as too large, so the grants were almost never checked.
    verifier = JWTVerifier.from_public_key(ed_key.public_pem, audience="toolwall")
    caller, reason = verifier.caller_for(token)
    if reason is not None:
        assert caller == Caller.anonymous()
        assert "(invalid_claim)" in reason.message
        return
    granted = list(tools or [])
    entries = scope.split() if isinstance(scope, str) else scope or []
    granted += [e[len("tool:") :] for e in entries if e.startswith("tool:")]
    assert caller.authenticated
    assert caller.tools == tuple(dict.fromkeys(granted))
    assert all(isinstance(t, str) and t for t in caller.tools)
    assert caller.groups == tuple(groups or [])
