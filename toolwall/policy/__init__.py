"""The rule language: `.tw` files parsed with Lark, checked against the tool schemas, compiled to
closures and indexed by tool name.

    policy = load_policy([Path("rules")], SchemaRegistry.load("schemas"))
    Firewall(schemas=schemas, rules=policy)

One way through, one module per job (`load` drives it):

- parse: `grammar.lark` is the language; `grammar` builds the Lark parsers, `fastpath` the fast
  one (`lexer` and shared rule names, each self-tested, each with an off switch), `parser` turns
  text into the syntax tree (`ast`), `syntax_errors` words what does not parse;
- check: `checker` (statements, `let` folding by `constants`), `typecheck` (expressions),
  `schema_lookup` (what the schemas say about `args.PATH`), `static_types`; findings are
  `diagnostics`;
- compile: `compiler` turns the tree into closures (`env`), a `compiled_rule` per rule, and the
  `compiled` policy that indexes them;
- evaluate: `evaluate` runs a call's rules and combines their verdicts.

What values and operators mean is `semantics`, shared by the checker, the folder and the
compiler; the builtins are declared once in `registry` (`reference` renders its table for
docs/builtins.md), with the string-level implementations in `builtins` (hosts, urls, private,
paths, regexes), below the operators. Every exception is in `errors`.
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
