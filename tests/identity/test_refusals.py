"""Every way a token is refused: its own reason, no grants, and the call blocked."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import jwt
import pytest

from toolwall import Action, Caller, Reason, ReasonKind, ToolCall
from toolwall.identity import (
    AlgorithmNone,
    AlgorithmNotAllowed,
    BadSignature,
    InvalidClaim,
    JWTVerifier,
    KeyConfusion,
    MissingClaim,
    MissingExpiry,
    TokenExpired,
    TokenMalformed,
    TokenNotYetValid,
    TokenRefused,
    TokenTooLarge,
    UnknownKeyId,
    WrongAudience,
    WrongIssuer,
)

from .conftest import NOW, Family, b64, claims, firewall, forge, hmac_with, sign

CALL = ToolCall(tool="email.send", args={"to": "bob@acme.test"}, id="c1")

Make = Callable[..., JWTVerifier]


def assert_refused(verifier: JWTVerifier, token: str, code: str, expected: type[TokenRefused]):
    """Refused with `code`, as an anonymous caller, and the call is blocked for that reason."""
    with pytest.raises(expected) as info:
        verifier.verify(token)
    assert info.value.code == code
    caller, reason = verifier.caller_for(token)
    assert caller == Caller.anonymous()
    assert caller.tools == () and not caller.authenticated
    assert reason is not None and reason.kind is ReasonKind.IDENTITY
    assert f"({code})" in reason.message
    if len(token) >= 12:  # short garbage may happen to be a word of the message
        assert token not in reason.message

    decision = firewall(verifier).decide(CALL, token=token)
    assert decision.action is Action.BLOCK
    assert decision.reasons[0] == reason
    assert decision.reasons[1].kind is ReasonKind.NOT_GRANTED
    assert decision.caller.sub is None
    if len(token) >= 12:
        assert token not in json.dumps(decision.to_dict())
    return reason


# -- the same refusals for every algorithm family -----------------------------------------------


def test_expired(family: Family, verifier_for: Make) -> None:
    token = sign(family, claims(exp=int(NOW) - 31))
    reason = assert_refused(verifier_for(family), token, "expired", TokenExpired)
    assert "expired at" in reason.message


def test_expired_within_leeway_is_still_accepted(family: Family, verifier_for: Make) -> None:
    token = sign(family, claims(exp=int(NOW) - 10))
    assert verifier_for(family).verify(token).sub == "alice"
    assert_refused(verifier_for(family, leeway_s=0), token, "expired", TokenExpired)


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_not_yet_valid(family: Family, verifier_for: Make, claim: str) -> None:
    token = sign(family, claims(**{claim: int(NOW) + 120}))
    reason = assert_refused(verifier_for(family), token, "not_yet_valid", TokenNotYetValid)
    assert claim in reason.message


@pytest.mark.parametrize(
    "aud", ["https://api.model.test", ["toolwall", "https://api.model.test"], ["toolwall"], None]
)
def test_wrong_audience(family: Family, verifier_for: Make, aud: Any) -> None:
    token = sign(family, claims(aud=aud))
    reason = assert_refused(verifier_for(family), token, "wrong_audience", WrongAudience)
    if isinstance(aud, list):
        assert "alone" in reason.message


@pytest.mark.parametrize("iss", ["https://evil.test", None])
def test_wrong_issuer(family: Family, verifier_for: Make, iss: str | None) -> None:
    token = sign(family, claims(iss=iss))
    assert_refused(verifier_for(family), token, "wrong_issuer", WrongIssuer)


def test_missing_exp(family: Family, verifier_for: Make) -> None:
    token = sign(family, claims(exp=None))
    reason = assert_refused(verifier_for(family), token, "missing_exp", MissingExpiry)
    assert "exp" in reason.message


def test_missing_sub(family: Family, verifier_for: Make) -> None:
    token = sign(family, claims(sub=None))
    assert_refused(verifier_for(family), token, "missing_claim", MissingClaim)


def test_tampered_payload(family: Family, verifier_for: Make) -> None:
    head, _, signature = sign(family, claims()).split(".")
    # Same header and signature, a payload that grants everything.
    body = b64(json.dumps(claims(tools=["*"])).encode())
    token = f"{head}.{body}.{signature}"
    assert_refused(verifier_for(family), token, "bad_signature", BadSignature)


def test_tampered_header(family: Family, verifier_for: Make) -> None:
    _, body, signature = sign(family, claims()).split(".")
    head = b64(json.dumps({"alg": family.algorithm, "typ": "JWT", "kid": "x"}).encode())
    assert_refused(
        verifier_for(family), f"{head}.{body}.{signature}", "bad_signature", BadSignature
    )


def test_too_large(family: Family, verifier_for: Make) -> None:
    token = sign(family, claims(padding="x" * 9000))
    reason = assert_refused(verifier_for(family), token, "too_large", TokenTooLarge)
    assert "8192" in reason.message


@pytest.mark.parametrize(
    "garbage",
    ["", "garbage", "a.b.c", "...", "Bearer x.y.z", "eyJhbGciOiJFZERTQSJ9.eyJzdWIi", "é.é.é"],
)
def test_garbage(family: Family, verifier_for: Make, garbage: str) -> None:
    assert_refused(verifier_for(family), garbage, "malformed", TokenMalformed)


@pytest.mark.parametrize(
    "override",
    [
        {"tools": "email.*"},
        {"tools": ["email.*", 3]},
        {"tools": [""]},
        {"groups": "eng"},
        {"groups": [["eng"]]},
        {"sid": 5},
        {"scope": 7},
        {"scope": ["tool:email.*", None]},
        {"scope": "tool:"},
        {"exp": "tomorrow"},
        {"exp": True},
        {"nbf": "now"},
        {"sub": 42},
        {"iss": ["https://idp.test"]},
    ],
)
def test_malformed_claims_fail_closed(
    family: Family, verifier_for: Make, override: dict[str, Any]
) -> None:
    token = sign(family, claims(**override))
    verifier = verifier_for(family, issuer=None) if "iss" in override else verifier_for(family)
    assert_refused(verifier, token, "invalid_claim", InvalidClaim)


# -- algorithm confusion ------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_alg_none(family: Family, verifier_for: Make, alg: str) -> None:
    for signature in (b"", b"anything"):
        token = forge({"alg": alg, "typ": "JWT"}, claims(), signature)
        assert_refused(verifier_for(family), token, "alg_none", AlgorithmNone)


def test_hs256_signed_with_the_rsa_public_key(rsa_key: Family, verifier_for: Make) -> None:
    token = hmac_with(rsa_key.public_pem, {"alg": "HS256", "typ": "JWT"}, claims())
    reason = assert_refused(verifier_for(rsa_key), token, "key_confusion", KeyConfusion)
    assert "HMAC" in reason.message


def test_hs256_signed_with_the_ec_and_ed25519_public_keys(
    ec_key: Family, ed_key: Family, verifier_for: Make
) -> None:
    for family in (ec_key, ed_key):
        token = hmac_with(family.public_pem, {"alg": "HS256"}, claims())
        assert_refused(verifier_for(family), token, "key_confusion", KeyConfusion)


def test_algorithm_not_in_allow_list(rsa_key: Family, verifier_for: Make) -> None:
    # Signed correctly with the very key toolwall trusts, but with an algorithm it does not allow.
    for alg in ("PS256", "RS512"):
        token = jwt.encode(claims(), rsa_key.private, algorithm=alg)
        reason = assert_refused(
            verifier_for(rsa_key), token, "alg_not_allowed", AlgorithmNotAllowed
        )
        assert alg in reason.message and "RS256" in reason.message


def test_hmac_verifier_refuses_asymmetric_tokens(
    hs_key: Family, ed_key: Family, verifier_for: Make
) -> None:
    token = sign(ed_key, claims())
    assert_refused(verifier_for(hs_key), token, "alg_not_allowed", AlgorithmNotAllowed)


def test_header_alg_of_wrong_type(ed_key: Family, verifier_for: Make) -> None:
    for header in ({"alg": ["EdDSA"]}, {"typ": "JWT"}, {"alg": "EdDSA", "kid": 7}):
        token = forge(header, claims(), b"x" * 64)
        assert_refused(verifier_for(ed_key), token, "malformed", TokenMalformed)


def test_bad_signature_from_another_key(
    ed_key: Family, other_ed_key: Family, verifier_for: Make
) -> None:
    token = sign(other_ed_key, claims())
    assert_refused(verifier_for(ed_key), token, "bad_signature", BadSignature)


def test_unknown_kid(ed_key: Family, other_ed_key: Family, clock: Any) -> None:
    jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(ed_key.private.public_key()))
    verifier = JWTVerifier.from_jwks(
        {"keys": [{**jwk, "kid": "k1"}, {**jwk, "kid": "k0"}]},
        audience="toolwall",
        algorithms=["EdDSA"],
        clock=clock,
    )
    assert verifier.verify(sign(ed_key, claims(), kid="k1")).sub == "alice"
    token = sign(other_ed_key, claims(), kid="k2")
    reason = assert_refused(verifier, token, "unknown_kid", UnknownKeyId)
    assert "'k2'" in reason.message
    # Without a kid the key is ambiguous in a set of two.
    assert_refused(verifier, sign(ed_key, claims()), "unknown_kid", UnknownKeyId)


def test_refusals_never_echo_the_token(ed_key: Family, verifier_for: Make) -> None:
    # A claim value that is shown (the audience) is escaped and cut short.
    token = sign(ed_key, claims(aud="\x1b[31m" + "a" * 500))
    _, reason = verifier_for(ed_key).caller_for(token)
    assert reason is not None
    assert "\x1b" not in reason.message and len(reason.message) < 200


def test_a_caller_and_a_token_together_are_refused(ed_key: Family, verifier_for: Make) -> None:
    fw = firewall(verifier_for(ed_key))
    decision = fw.decide(CALL, caller=Caller(sub="x", tools=("*",)), token=sign(ed_key, claims()))
    assert decision.action is Action.BLOCK


def test_every_refusal_is_a_toolwall_error_with_its_own_code() -> None:
    import toolwall.identity
    from toolwall.errors import ToolwallError

    refusals = [
        value
        for value in vars(toolwall.identity).values()
        if isinstance(value, type) and issubclass(value, TokenRefused)
    ]
    assert len(refusals) == 16
    codes = [refusal.code for refusal in refusals]
    assert len(set(codes)) == len(codes)
    for refusal in refusals:
        assert issubclass(refusal, ToolwallError)
        error = refusal("why")
        assert error.reason() == Reason(ReasonKind.IDENTITY, f"token refused ({refusal.code}): why")
