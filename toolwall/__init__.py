"""toolwall: a firewall for the tool calls of LLM agents.

from toolwall import Firewall, ToolCall, Caller

firewall = Firewall.from_config("toolwall.toml")
decision = firewall.decide(ToolCall(tool="fs.read", args={"path": "/etc/passwd"}), caller=me)
decision.action   # Action.BLOCK
decision.reason   # 'rule files_in_workspace: path /etc/passwd is outside the workspace'
"""

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
