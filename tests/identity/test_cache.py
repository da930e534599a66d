"""The verified-token cache: pays for a signature once, never serves a token outside its window."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from toolwall.identity import JWTVerifier, TokenExpired, TokenNotYetValid

from .conftest import NOW, Clock, Family, claims, sign

Make = Callable[..., JWTVerifier]


class CountingKeys:
    """Wraps a key source and counts lookups: one lookup per real verification."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.lookups = 0

    def key_for(self, kid: str | None, alg: str) -> Any:
        self.lookups += 1
        return self.inner.key_for(kid, alg)


def counting(verifier: JWTVerifier) -> CountingKeys:
    keys = CountingKeys(verifier.keys)
    verifier.keys = keys
    return keys


def test_many_calls_verify_once(ed_key: Family, verifier_for: Make) -> None:
    verifier = verifier_for(ed_key)
    keys = counting(verifier)
    token = sign(ed_key, claims())
    callers = [verifier.verify(token) for _ in range(50)]
    assert keys.lookups == 1
    assert all(c is callers[0] for c in callers)


def test_cache_never_serves_an_expired_token(
    ed_key: Family, verifier_for: Make, clock: Clock
) -> None:
    verifier = verifier_for(ed_key, leeway_s=0)
    keys = counting(verifier)
    token = sign(ed_key, claims(exp=int(NOW) + 60))
    assert verifier.verify(token).sub == "alice"
    clock.now = NOW + 59.5
    assert verifier.verify(token).sub == "alice"
    assert keys.lookups == 1
    clock.now = NOW + 60
    with pytest.raises(TokenExpired):
        verifier.verify(token)
    caller, reason = verifier.caller_for(token)
    assert not caller.authenticated and reason is not None and "(expired)" in reason.message


def test_cache_ends_at_exp_even_within_the_leeway(
    ed_key: Family, verifier_for: Make, clock: Clock
) -> None:
    verifier = verifier_for(ed_key, leeway_s=30)
    keys = counting(verifier)
    token = sign(ed_key, claims(exp=int(NOW) + 60))
    verifier.verify(token)
    clock.now = NOW + 70  # past exp, inside the leeway: verified again, not served from cache
    assert verifier.verify(token).sub == "alice"
    assert keys.lookups == 2
    clock.now = NOW + 90
    with pytest.raises(TokenExpired):
        verifier.verify(token)


def test_cache_does_not_serve_before_nbf(ed_key: Family, verifier_for: Make, clock: Clock) -> None:
    verifier = verifier_for(ed_key, leeway_s=0)
    token = sign(ed_key, claims(nbf=int(NOW) + 10, iat=int(NOW)))
    clock.now = NOW + 20
    assert verifier.verify(token).sub == "alice"
    clock.now = NOW + 5  # the clock stepped back before nbf
    with pytest.raises(TokenNotYetValid):
        verifier.verify(token)


def test_cache_is_bounded(ed_key: Family, verifier_for: Make) -> None:
    verifier = verifier_for(ed_key, cache_size=3)
    keys = counting(verifier)
    tokens = [sign(ed_key, claims(sub=f"user{i}")) for i in range(5)]
    for token in tokens:
        verifier.verify(token)
    assert len(verifier._cache) == 3
    verifier.verify(tokens[-1])  # still cached
    assert keys.lookups == 5
    verifier.verify(tokens[0])  # evicted, verified again
    assert keys.lookups == 6


def test_cache_size_zero_verifies_every_time(ed_key: Family, verifier_for: Make) -> None:
    verifier = verifier_for(ed_key, cache_size=0)
    keys = counting(verifier)
    token = sign(ed_key, claims())
    verifier.verify(token)
    verifier.verify(token)
    assert keys.lookups == 2


def test_refusals_are_not_cached_as_grants(
    ed_key: Family, other_ed_key: Family, verifier_for: Make
) -> None:
    verifier = verifier_for(ed_key)
    forged = sign(other_ed_key, claims())
    for _ in range(3):
        caller, reason = verifier.caller_for(forged)
        assert reason is not None and not caller.authenticated
    assert len(verifier._cache) == 0


def test_cache_keys_are_digests_not_tokens(ed_key: Family, verifier_for: Make) -> None:
    verifier = verifier_for(ed_key)
    token = sign(ed_key, claims())
    verifier.verify(token)
    assert all(isinstance(k, bytes) and len(k) == 32 for k in verifier._cache)
    verifier.clear_cache()
    assert len(verifier._cache) == 0


def test_concurrent_callers(ed_key: Family, verifier_for: Make) -> None:
    import threading

    verifier = verifier_for(ed_key, cache_size=8)
    tokens = [sign(ed_key, claims(sub=f"user{i}")) for i in range(20)]
    results: list[str | None] = []
    lock = threading.Lock()

    def work(offset: int) -> None:
        for i in range(40):
            caller, reason = verifier.caller_for(tokens[(i + offset) % len(tokens)])
            with lock:
                results.append(caller.sub if reason is None else None)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 160 and None not in results
    assert len(verifier._cache) <= 8
