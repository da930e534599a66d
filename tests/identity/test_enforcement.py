"""Tokens through the enforcement paths: run, arun, guard with acting_as."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from toolwall import Blocked, ToolCall
from toolwall.identity import JWTVerifier

from .conftest import Family, claims, firewall, sign

Make = Callable[..., JWTVerifier]


def test_run_executes_only_for_a_granted_token(ed_key: Family, verifier_for: Make) -> None:
    fw = firewall(verifier_for(ed_key))
    ran: list[str] = []

    def read(path: str) -> str:
        ran.append(path)
        return "content"

    call = ToolCall(tool="fs.read", args={"path": "/srv/a"})
    assert fw.run(call, read, token=sign(ed_key, claims(tools=["fs.read"]))) == "content"
    with pytest.raises(Blocked) as info:
        fw.run(call, read, token=sign(ed_key, claims(sub="bob", tools=["email.*"])))
    assert info.value.decision.reason == "bob is not granted fs.read"
    expired = sign(ed_key, claims(exp=1))
    message = fw.run(call, read, token=expired, on_block="message")
    assert "(expired)" in message
    assert ran == ["/srv/a"]


def test_arun(ed_key: Family, verifier_for: Make) -> None:
    fw = firewall(verifier_for(ed_key))

    async def read(path: str) -> str:
        return path

    call = ToolCall(tool="fs.read", args={"path": "/srv/b"})
    token = sign(ed_key, claims(tools=["fs.*"]))
    assert asyncio.run(fw.arun(call, read, token=token)) == "/srv/b"
    with pytest.raises(Blocked):
        asyncio.run(fw.arun(call, read, token="garbage"))


def test_guard_takes_the_token_from_acting_as(ed_key: Family, verifier_for: Make) -> None:
    fw = firewall(verifier_for(ed_key))

    @fw.guard("fs.read")
    def read(path: str) -> str:
        return path

    with fw.acting_as(token=sign(ed_key, claims(tools=["fs.read"]))):
        assert read(path="/srv/c") == "/srv/c"
    with fw.acting_as(token=sign(ed_key, claims(tools=["email.*"]))), pytest.raises(Blocked):
        read(path="/srv/c")
    with pytest.raises(Blocked):  # no identity at all: the anonymous caller has no grants
        read(path="/srv/c")
