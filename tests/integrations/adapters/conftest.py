"""Fixtures of the OpenAI Agents SDK and Pydantic AI adapter tests."""

from __future__ import annotations

import pytest

from tests.integrations.adapters.agents_support import REPO, Issuer, RecordingAudit, TinyRules
from toolwall import Firewall
from toolwall.identity.devkeys import generate_private_key
from toolwall.identity.verifier import JWTVerifier
from toolwall.schemas.registry import SchemaRegistry


@pytest.fixture
def audit() -> RecordingAudit:
    return RecordingAudit()


@pytest.fixture
def firewall(audit: RecordingAudit) -> Firewall:
    return Firewall(
        schemas=SchemaRegistry.load(REPO / "schemas"),
        rules=TinyRules(),
        audit=audit,
    )


@pytest.fixture
def issuer() -> Issuer:
    return Issuer(generate_private_key())


@pytest.fixture
def token_firewall(audit: RecordingAudit, issuer: Issuer) -> Firewall:
    """The same policy, with callers identified by signed tokens."""
    return Firewall(
        schemas=SchemaRegistry.load(REPO / "schemas"),
        rules=TinyRules(),
        audit=audit,
        identity=JWTVerifier.from_public_key(issuer.key.public_key(), audience="toolwall"),
    )
