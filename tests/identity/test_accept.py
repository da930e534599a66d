"""Valid tokens become callers with exactly the grants they carry."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from toolwall import Action, ReasonKind, ToolCall
from toolwall.config import ClaimNames
from toolwall.identity import JWTVerifier

from .conftest import ISSUER, Family, claims, firewall, sign

Make = Callable[..., JWTVerifier]


def test_valid_token_for_each_family(family: Family, verifier_for: Make) -> None:
    token = sign(family, claims(department="R&D"))
    caller, reason = verifier_for(family).caller_for(token)
    assert reason is None
    assert caller.authenticated
    assert caller.sub == "alice" and caller.iss == ISSUER
    assert caller.groups == ("eng",)
    assert caller.tools == ("email.*", "fs.read")
    assert caller.session == "session-1"
    assert caller.claims["department"] == "R&D"
    assert caller.claims["aud"] == "toolwall"

    decision = firewall(verifier_for(family)).decide(
        ToolCall(tool="email.send", args={"to": "bob@acme.test"}), token=token
    )
    assert decision.action is Action.ALLOW
    assert decision.caller.sub == "alice" and decision.session == "session-1"


def test_glob_grants(ed_key: Family, verifier_for: Make) -> None:
    fw = firewall(verifier_for(ed_key))
    token = sign(ed_key, claims(tools=["email.*"]))
    assert fw.decide({"tool": "email.send", "args": {}}, token=token).action is Action.ALLOW
    assert fw.decide({"tool": "email.read", "args": {}}, token=token).action is Action.ALLOW
    refused = fw.decide({"tool": "emailx.send", "args": {}}, token=token)
    assert refused.action is Action.BLOCK
    assert [r.kind for r in refused.reasons] == [ReasonKind.NOT_GRANTED]
    assert fw.decide({"tool": "fs.read", "args": {}}, token=token).action is Action.BLOCK


def test_scope_grants(ed_key: Family, verifier_for: Make) -> None:
    token = sign(ed_key, claims(tools=None, scope="openid profile tool:email.* tool:fs.read"))
    caller = verifier_for(ed_key).verify(token)
    assert caller.tools == ("email.*", "fs.read")
    fw = firewall(verifier_for(ed_key))
    assert fw.decide({"tool": "email.send", "args": {}}, token=token).allowed
    assert not fw.decide({"tool": "emailx.send", "args": {}}, token=token).allowed


def test_scope_as_a_list_and_together_with_tools(ed_key: Family, verifier_for: Make) -> None:
    token = sign(ed_key, claims(tools=["fs.read"], scope=["tool:email.read", "tool:fs.read"]))
    assert verifier_for(ed_key).verify(token).tools == ("fs.read", "email.read")


def test_a_scope_without_tool_entries_grants_nothing(ed_key: Family, verifier_for: Make) -> None:
    token = sign(ed_key, claims(tools=None, groups=None, scope="openid email"))
    caller = verifier_for(ed_key).verify(token)
    assert caller.tools == () and caller.groups == ()
    assert not firewall(verifier_for(ed_key)).decide({"tool": "email.send"}, token=token).allowed


def test_claim_names_are_configurable(ed_key: Family, verifier_for: Make) -> None:
    names = ClaimNames(
        tools="https://acme.test/tools", groups="roles", session="thread", scope="scp"
    )
    token = sign(
        ed_key,
        claims(
            tools=None,
            groups=None,
            sid=None,
            **{"https://acme.test/tools": ["fs.read"], "roles": ["hr"], "thread": "t-9"},
            scp=["tool:email.read"],
        ),
    )
    caller = verifier_for(ed_key, claims=names).verify(token)
    assert caller.tools == ("fs.read", "email.read")
    assert caller.groups == ("hr",) and caller.session == "t-9"


def test_issuer_is_optional(ed_key: Family, verifier_for: Make) -> None:
    token = sign(ed_key, claims(iss=None))
    assert verifier_for(ed_key, issuer=None).verify(token).iss is None


def test_session_argument_overrides_the_token_session(ed_key: Family, verifier_for: Make) -> None:
    token = sign(ed_key, claims())
    decision = firewall(verifier_for(ed_key)).decide(
        {"tool": "fs.read", "args": {}}, token=token, session="explicit"
    )
    assert decision.session == "explicit"


def test_two_callers_same_call(ed_key: Family, verifier_for: Make) -> None:
    fw = firewall(verifier_for(ed_key))
    call = ToolCall(tool="fs.read", args={"path": "/srv/workspace/a"})
    alice = sign(ed_key, claims(sub="alice", tools=["fs.*"]))
    bob = sign(ed_key, claims(sub="bob", tools=["email.*"]))
    assert fw.decide(call, token=alice).action is Action.ALLOW
    blocked = fw.decide(call, token=bob)
    assert blocked.action is Action.BLOCK
    assert blocked.reason == "bob is not granted fs.read"


@pytest.mark.parametrize("algs", [["RS256", "PS256"], ["PS256", "RS256", "RS512"]])
def test_several_algorithms_for_one_rsa_key(rsa_key: Family, verifier_for: Make, algs) -> None:
    import jwt

    verifier = verifier_for(rsa_key, algorithms=algs)
    for alg in algs:
        assert verifier.verify(jwt.encode(claims(), rsa_key.private, algorithm=alg)).sub == "alice"


def test_a_private_key_object_is_reduced_to_its_public_half(ed_key: Family) -> None:
    verifier = JWTVerifier.from_public_key(ed_key.private, audience="toolwall", issuer=ISSUER)
    key = verifier.keys.key_for(None, "EdDSA")  # type: ignore[attr-defined]
    assert not hasattr(key, "private_bytes")
