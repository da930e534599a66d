from __future__ import annotations

import pytest

from tests.integrations.formats.demo_policy import ASSISTANT, CountingAudit, demo_firewall
from toolwall import Caller, Firewall


@pytest.fixture
def audit() -> CountingAudit:
    return CountingAudit()


@pytest.fixture
def wall(audit: CountingAudit) -> Firewall:
    return demo_firewall(audit=audit)


@pytest.fixture
def assistant() -> Caller:
    return ASSISTANT
