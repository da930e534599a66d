"""toolwall: a firewall for the tool calls of LLM agents.

    from toolwall import Firewall, ToolCall, Caller

    firewall = Firewall.from_config("toolwall.toml")
    decision = firewall.decide(ToolCall(tool="fs.read", args={"path": "/etc/passwd"}), caller=me)
    decision.action   # Action.BLOCK
    decision.reason   # 'rule files_in_workspace: path /etc/passwd is outside the workspace'

This namespace holds what an application writes in its own code. Extension points and
implementations are imported from their modules (see docs/DESIGN.md, "Public surface"):
`toolwall.schemas` (SchemaRegistry), `toolwall.policy` (load_policy, CompiledPolicy),
`toolwall.identity` (JWTVerifier), `toolwall.audit` (AuditLog), `toolwall.state` (stores),
`toolwall.enforce` (approvers such as SQLiteQueue, settlement), `toolwall.config`, and the
integrations under `toolwall.integrations`.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from toolwall.enforce.approvers import Approver, Callback, Console, DenyAll
    from toolwall.errors import Blocked, ConfigError, PolicyError, SchemaLoadError, ToolwallError
    from toolwall.firewall import Firewall
    from toolwall.model import (
        Action,
        ApprovalAnswer,
        ApprovalRequest,
        Caller,
        Decision,
        Reason,
        ReasonKind,
        ToolCall,
    )

# Public names load on first use (PEP 562), so `import toolwall` stays cheap: the pytest plugin
# and the command line import the package without paying for the rule compiler, the JWT
# library or the approval store they may not need.
_EXPORTS: dict[str, str] = {
    "Action": "toolwall.model",
    "ApprovalAnswer": "toolwall.model",
    "ApprovalRequest": "toolwall.model",
    "Approver": "toolwall.enforce.approvers",
    "Blocked": "toolwall.errors",
    "Callback": "toolwall.enforce.approvers",
    "Caller": "toolwall.model",
    "ConfigError": "toolwall.errors",
    "Console": "toolwall.enforce.approvers",
    "Decision": "toolwall.model",
    "DenyAll": "toolwall.enforce.approvers",
    "Firewall": "toolwall.firewall",
    "PolicyError": "toolwall.errors",
    "Reason": "toolwall.model",
    "ReasonKind": "toolwall.model",
    "SchemaLoadError": "toolwall.errors",
    "ToolCall": "toolwall.model",
    "ToolwallError": "toolwall.errors",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'toolwall' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__version__ = "0.1.0"

__all__ = [
    "Action",
    "ApprovalAnswer",
    "ApprovalRequest",
    "Approver",
    "Blocked",
    "Callback",
    "Caller",
    "ConfigError",
    "Console",
    "Decision",
    "DenyAll",
    "Firewall",
    "PolicyError",
    "Reason",
    "ReasonKind",
    "SchemaLoadError",
    "ToolCall",
    "ToolwallError",
    "__version__",
]
