"""What the Agents SDK guard and the Pydantic AI capability are built from.

Both put one firewall in front of a framework's tools with the same settings: how escalations
are answered, a bounded `DecisionCache`, how tool names map to toolwall's, and where the identity
comes from. `FrameworkAdapter` holds those settings once; each adapter adds its framework's hooks
and reads the identity from its framework's run context.
"""

from __future__ import annotations

from typing import Literal

from toolwall.enforce.cache import DecisionCache
from toolwall.firewall import Firewall
from toolwall.integrations.adapters._context import IdentitySource, ToolNames, name_mapper

Approvals = Literal["framework", "approver"]
"""Who answers an escalation: the framework's own human-in-the-loop flow, or the firewall's
approver, asked inside the tool hook."""


class FrameworkAdapter:
    """The settings shared by `ToolwallGuard` and `ToolwallCapability` (see their docstrings).

    It is listed first among an adapter's bases, so that its `__init__` is the one that runs.
    """

    def __init__(
        self,
        firewall: Firewall,
        *,
        names: ToolNames = None,
        approvals: Approvals = "framework",
        identity: IdentitySource | None = None,
        max_cached: int = 4096,
    ) -> None:
        if approvals not in ("framework", "approver"):
            raise ValueError(f'approvals must be "framework" or "approver", not {approvals!r}')
        self.firewall = firewall
        self.approvals: Approvals = approvals
        self.cache = DecisionCache(firewall, max_entries=max_cached)
        self._name = name_mapper(names)
        self._identity = identity
