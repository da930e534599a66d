"""toolwall: a firewall for the tool calls of LLM agents.

from toolwall import Firewall, ToolCall, Caller

firewall = Firewall.from_config("toolwall.toml")
decision = firewall.decide(ToolCall(tool="fs.read", args={"path": "/etc/passwd"}), caller=me)
decision.action   # Action.BLOCK
decision.reason   # 'rule files_in_workspace: path /etc/passwd is outside the workspace'
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from toolwall.approvals import (
        ApprovalAnswer,
        ApprovalError,
        ApprovalRequest,
        Approver,
        Callback,
        Console,
        DenyAll,
        SQLiteQueue,
    )
    from toolwall.audit import AuditLog, AuditSink, call_digest
    from toolwall.config import Config, Limits
    from toolwall.dsl import Assertion, CompiledPolicy, Diagnostic, load_policy
    from toolwall.engine import Firewall
    from toolwall.errors import Blocked, ConfigError, PolicyError, SchemaLoadError, ToolwallError
    from toolwall.identity import JWTVerifier, TokenRefused
    from toolwall.model import (
        Action,
        Caller,
        Decision,
        Reason,
        ReasonKind,
        RuleVerdict,
        ToolCall,
        TraceEntry,
    )
    from toolwall.policy import NoRules, RuleEngine
    from toolwall.schemas import SchemaRegistry, ToolSchema
    from toolwall.session import SessionState, SessionStore

# Public names load on first use (PEP 562), so `import toolwall` stays cheap: the pytest plugin
# and the command line import the package without paying for the rule compiler, the JWT
# library or the approval queue they may not need.
_EXPORTS: dict[str, str] = {
    "Action": "toolwall.model",
    "ApprovalAnswer": "toolwall.approvals",
    "ApprovalError": "toolwall.approvals",
    "ApprovalRequest": "toolwall.approvals",
    "Approver": "toolwall.approvals",
    "Assertion": "toolwall.dsl",
    "AuditLog": "toolwall.audit",
    "AuditSink": "toolwall.audit",
    "Blocked": "toolwall.errors",
    "Callback": "toolwall.approvals",
    "Caller": "toolwall.model",
    "CompiledPolicy": "toolwall.dsl",
    "Config": "toolwall.config",
    "ConfigError": "toolwall.errors",
    "Console": "toolwall.approvals",
    "Decision": "toolwall.model",
    "DenyAll": "toolwall.approvals",
    "Diagnostic": "toolwall.dsl",
    "Firewall": "toolwall.engine",
    "JWTVerifier": "toolwall.identity",
    "Limits": "toolwall.config",
    "NoRules": "toolwall.policy",
    "PolicyError": "toolwall.errors",
    "Reason": "toolwall.model",
    "ReasonKind": "toolwall.model",
    "RuleEngine": "toolwall.policy",
    "RuleVerdict": "toolwall.model",
    "SQLiteQueue": "toolwall.approvals",
    "SchemaLoadError": "toolwall.errors",
    "SchemaRegistry": "toolwall.schemas",
    "SessionState": "toolwall.session",
    "SessionStore": "toolwall.session",
    "TokenRefused": "toolwall.identity",
    "ToolCall": "toolwall.model",
    "ToolSchema": "toolwall.schemas",
    "ToolwallError": "toolwall.errors",
    "TraceEntry": "toolwall.model",
    "call_digest": "toolwall.audit",
    "load_policy": "toolwall.dsl",
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
    "ApprovalError",
    "ApprovalRequest",
    "Approver",
    "Assertion",
    "AuditLog",
    "AuditSink",
    "Blocked",
    "Callback",
    "Caller",
    "CompiledPolicy",
    "Config",
    "ConfigError",
    "Console",
    "Decision",
    "DenyAll",
    "Diagnostic",
    "Firewall",
    "JWTVerifier",
    "Limits",
    "NoRules",
    "PolicyError",
    "Reason",
    "ReasonKind",
    "RuleEngine",
    "RuleVerdict",
    "SQLiteQueue",
    "SchemaLoadError",
    "SchemaRegistry",
    "SessionState",
    "SessionStore",
    "TokenRefused",
    "ToolCall",
    "ToolSchema",
    "ToolwallError",
    "TraceEntry",
    "__version__",
    "call_digest",
    "load_policy",
]
