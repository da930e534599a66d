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
    from toolwall.audit.log import AuditLog, AuditSink
    from toolwall.canonical import call_digest
    from toolwall.config import Config, Limits
    from toolwall.enforce.approvers import (
        ApprovalError,
        Approver,
        Callback,
        Console,
        DenyAll,
        SQLiteQueue,
    )
    from toolwall.errors import Blocked, ConfigError, PolicyError, SchemaLoadError, ToolwallError
    from toolwall.firewall import Firewall
    from toolwall.identity import JWTVerifier, TokenRefused
    from toolwall.model import (
        Action,
        ApprovalAnswer,
        ApprovalRequest,
        Caller,
        Decision,
        Reason,
        ReasonKind,
        RuleVerdict,
        ToolCall,
        TraceEntry,
    )
    from toolwall.pipeline.rules import NoRules, RuleEngine
    from toolwall.policy import Assertion, CompiledPolicy, Diagnostic, load_policy
    from toolwall.schemas.registry import SchemaRegistry, ToolSchema
    from toolwall.state.sessions import SessionState, SessionStore

# Public names load on first use (PEP 562), so `import toolwall` stays cheap: the pytest plugin
# and the command line import the package without paying for the rule compiler, the JWT
# library or the approval queue they may not need.
_EXPORTS: dict[str, str] = {
    "Action": "toolwall.model",
    "ApprovalAnswer": "toolwall.model",
    "ApprovalError": "toolwall.enforce.approvers",
    "ApprovalRequest": "toolwall.model",
    "Approver": "toolwall.enforce.approvers",
    "Assertion": "toolwall.policy",
    "AuditLog": "toolwall.audit.log",
    "AuditSink": "toolwall.audit.log",
    "Blocked": "toolwall.errors",
    "Callback": "toolwall.enforce.approvers",
    "Caller": "toolwall.model",
    "CompiledPolicy": "toolwall.policy",
    "Config": "toolwall.config",
    "ConfigError": "toolwall.errors",
    "Console": "toolwall.enforce.approvers",
    "Decision": "toolwall.model",
    "DenyAll": "toolwall.enforce.approvers",
    "Diagnostic": "toolwall.policy",
    "Firewall": "toolwall.firewall",
    "JWTVerifier": "toolwall.identity.verifier",
    "Limits": "toolwall.config",
    "NoRules": "toolwall.pipeline.rules",
    "PolicyError": "toolwall.errors",
    "Reason": "toolwall.model",
    "ReasonKind": "toolwall.model",
    "RuleEngine": "toolwall.pipeline.rules",
    "RuleVerdict": "toolwall.model",
    "SQLiteQueue": "toolwall.enforce.approvers",
    "SchemaLoadError": "toolwall.errors",
    "SchemaRegistry": "toolwall.schemas.registry",
    "SessionState": "toolwall.state.sessions",
    "SessionStore": "toolwall.state.sessions",
    "TokenRefused": "toolwall.identity.refusals",
    "ToolCall": "toolwall.model",
    "ToolSchema": "toolwall.schemas.registry",
    "ToolwallError": "toolwall.errors",
    "TraceEntry": "toolwall.model",
    "call_digest": "toolwall.canonical",
    "load_policy": "toolwall.policy",
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
