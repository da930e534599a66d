"""The rule language: `.tw` files parsed with Lark, checked against the tool schemas, compiled to
closures and indexed by tool name.

    policy = load_policy([Path("rules")], SchemaRegistry.load("schemas"))
    Firewall(schemas=schemas, rules=policy)

`grammar.lark` is the language; `parser` builds the AST (`ast`), `checker` finds the errors
(`diagnostics`), `compiler` builds the closures and `compiled` holds the rules stage.
"""

from toolwall.policy.ast import Module
from toolwall.policy.compiled import Assertion, CompiledPolicy
from toolwall.policy.diagnostics import Diagnostic
from toolwall.policy.errors import ParseError, RuleEvalError
from toolwall.policy.load import (
    check_sources,
    compile_sources,
    compile_text,
    load_policy,
    rule_files,
)
from toolwall.policy.parser import parse_text

__all__ = [
    "Assertion",
    "CompiledPolicy",
    "Diagnostic",
    "Module",
    "ParseError",
    "RuleEvalError",
    "check_sources",
    "compile_sources",
    "compile_text",
    "load_policy",
    "parse_text",
    "rule_files",
]
