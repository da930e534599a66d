"""Load-time checks of parsed rule files against the tool schemas (what `toolwall check` shows).

The checker proves what the evaluator then trusts: every name and function exists and is called
with the right number of arguments, names are unique across files, regexes compile under RE2,
`args.PATH` exists in the schemas of the tools a rule covers, comparisons can match the schema's
types, and rewrite values can satisfy the schema. It also folds the `let` constants
(`constants.fold`), which the compiler inlines.

This module checks statements; `typecheck` types the expressions inside them and
`schema_lookup` reads the schemas.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from toolwall.patterns import compile_pattern, is_glob
from toolwall.policy import ast
from toolwall.policy.constants import fold
from toolwall.policy.diagnostics import Diagnostic, Findings
from toolwall.policy.errors import BuiltinError, RuleEvalError
from toolwall.policy.registry import BUILTINS
from toolwall.policy.schema_lookup import schema_problem
from toolwall.policy.semantics import ROOTS
from toolwall.policy.static_types import article, compatible, names
from toolwall.policy.typecheck import (
    Context,
    ExpressionChecker,
    guarded_in,
    show,
    tool_list,
    unknown_name,
)
from toolwall.schemas.registry import SchemaRegistry

_NOT_CONSTANT: Final = object()


class Checker:
    """Checks a set of modules as one policy. `diagnostics` collects every finding."""

    def __init__(self, modules: list[ast.Module], schemas: SchemaRegistry) -> None:
        self.modules = modules
        self.schemas = schemas
        self.findings = Findings({m.file: m.text for m in modules})
        self.diagnostics: list[Diagnostic] = self.findings.diagnostics
        self.lets: dict[str, Any] = {}
        self._let_nodes: dict[str, ast.Let] = {}
        self._tools = schemas.names()
        self._tool_set = frozenset(self._tools)
        self.types = ExpressionChecker(
            self.findings, schemas, self._tools, self._let_nodes, self.lets
        )

    def error(self, loc: ast.Loc, message: str) -> None:
        self.findings.error(loc, message)

    def warning(self, loc: ast.Loc, message: str) -> None:
        self.findings.warning(loc, message)

    # -- the whole policy

    def check(self) -> list[Diagnostic]:
        self._names()
        self._evaluate_lets()
        for module in self.modules:
            for stmt in module.statements:
                if isinstance(stmt, ast.Rule):
                    self._rule(stmt)
                elif isinstance(stmt, ast.Taint):
                    self._patterns(stmt.patterns)
                elif isinstance(stmt, ast.Assert):
                    self._assert(stmt)
        return self.diagnostics

    def _names(self) -> None:
        """Rule and `let` names share one namespace across every file."""
        seen: dict[str, ast.Loc] = {}
        for module in self.modules:
            for stmt in module.statements:
                if isinstance(stmt, ast.Rule | ast.Let):
                    loc = stmt.name_loc
                    if stmt.name in ROOTS:
                        self.error(loc, f"`{stmt.name}` is a built-in name; choose another name")
                        continue
                    if stmt.name in seen:
                        self.error(
                            loc,
                            f"duplicate name `{stmt.name}`: already defined at {seen[stmt.name]}"
                            " (rule and let names share one namespace across all files)",
                        )
                        continue
                    seen[stmt.name] = loc
                    if isinstance(stmt, ast.Let):
                        self._let_nodes[stmt.name] = stmt

    def _evaluate_lets(self) -> None:
        """`let` values are constants: literals, other lets, and builtins of constants."""
        state: dict[str, str] = {}  # name -> "doing" | "done" | "failed"

        def evaluate(name: str) -> bool:
            status = state.get(name)
            if status == "done":
                return True
            if status == "failed":
                return False
            node = self._let_nodes[name]
            if status == "doing":
                self.error(node.name_loc, f"`let {name}` refers to itself (through other lets)")
                state[name] = "failed"
                return False
            state[name] = "doing"
            ok = True
            for ref in ast.free_refs(node.value):
                if ref.root in ROOTS:
                    self.error(
                        ref.loc,
                        f"a `let` value must be a constant; `{ref.root}` differs from call to "
                        "call (use it in a rule's condition instead)",
                    )
                    ok = False
                elif ref.root in self._let_nodes:
                    ok = evaluate(ref.root) and ok
                else:
                    self.error(ref.loc, unknown_name(ref.root, self._let_nodes))
                    ok = False
            for call in ast.calls_in(node.value):
                builtin = BUILTINS.get(call.func)
                if builtin is not None and not builtin.constant:
                    self.error(call.loc, f"{call.func}() cannot be used in a `let` value")
                    ok = False
            if ok:
                ok = self._expr_ok(node.value)
            if ok:
                try:
                    self.lets[name] = fold(node.value, self.lets)
                except (RuleEvalError, BuiltinError) as exc:
                    self.error(node.value.loc, f"`let {name}` cannot be computed: {exc}")
                    ok = False
            state[name] = "done" if ok else "failed"
            return ok

        for name in self._let_nodes:
            evaluate(name)

    def _expr_ok(self, expr: ast.Expr) -> bool:
        """Checks for a `let` value (no schema context); True when no error was added."""
        before = self.findings.errors
        self.types.expr(expr, Context.constant())
        return self.findings.errors == before

    # -- statements

    def _patterns(self, patterns: Iterable[ast.Pattern]) -> list[str]:
        """The known tools the patterns cover; a pattern that covers none is a warning."""
        covered: list[str] = []
        for pattern in patterns:
            if is_glob(pattern.text):
                match = compile_pattern(pattern.text)
                tools = [t for t in self._tools if match(t)]
            else:  # an exact name: one lookup, not a scan of every tool
                tools = [pattern.text] if pattern.text in self._tool_set else []
            if not tools:
                self.warning(
                    pattern.loc, f"`{pattern.text}` matches no known tool (no schema has that name)"
                )
            covered.extend(t for t in tools if t not in covered)
        return covered

    def _rule(self, rule: ast.Rule) -> None:
        tools = self._patterns(rule.patterns)
        ctx = Context(tools, guarded_in(rule.when) | guarded_in(rule.unless), set())
        for cond in (rule.when, rule.unless):
            if cond is not None:
                self._condition(cond, ctx)
        for item in rule.rewrites:
            self._rewrite(item, ctx)
        if rule.because is not None:
            for part in rule.because.parts:
                if not isinstance(part, str):
                    self.types.expr(part, ctx)

    def _assert(self, stmt: ast.Assert) -> None:
        tools = self._patterns(stmt.patterns)
        seen: set[str] = set()
        for action in stmt.actions:
            if action in seen:
                self.error(stmt.loc, f"action `{action}` is listed twice")
            seen.add(action)
        self._condition(stmt.when, Context(tools, guarded_in(stmt.when), set()))

    def _condition(self, expr: ast.Expr, ctx: Context) -> None:
        types = self.types.expr(expr, ctx)
        if types is not None and "boolean" not in types:
            self.error(
                expr.loc,
                f"a condition must be true or false, but this is {article(names(types))}",
            )

    def _rewrite(self, item: ast.RewriteItem, ctx: Context) -> None:
        target = item.target
        if target.root != "args" or not target.steps:
            self.error(target.loc, "a rewrite changes the arguments: write `args.PATH`")
            return
        if any(isinstance(s, ast.Index) and not _int_literal(s.expr) for s in target.steps):
            self.error(target.loc, "a rewrite target needs constant list indexes")
            return
        info = self.types.field(target, ctx.tools)
        dotted = target.dotted()
        if info is not None and not info.present and not info.open and info.absent:
            self.error(
                target.loc,
                f"{dotted} is not in the schema of {tool_list(info.absent)}"
                + (" (dropping it changes nothing)" if isinstance(item, ast.DropItem) else ""),
            )
            return
        if isinstance(item, ast.DropItem):
            if info is not None and info.required_by:
                self.error(
                    item.loc,
                    f"drop {dotted}: the schema of {tool_list(info.required_by)} requires it, "
                    "so the rewritten arguments could never be valid",
                )
            return
        value_types = self.types.expr(item.value, ctx)
        if info is None or not info.schemas:
            return
        try:
            constant = ast.literal_value(item.value)
        except ValueError:
            constant = _NOT_CONSTANT
        if constant is not _NOT_CONSTANT:
            for tool, subschema in info.schemas:
                problem = schema_problem(subschema, constant)
                if problem is not None:
                    self.error(
                        item.value.loc,
                        f"{show(constant)} cannot be the value of {dotted}: "
                        f"the schema of {tool} says {problem}",
                    )
                    return
        elif (
            value_types is not None
            and info.types
            and not compatible(value_types, frozenset(info.types))
        ):
            self.error(
                item.value.loc,
                f"{dotted} is a {names(frozenset(info.types))} in the schema of "
                f"{tool_list(info.present)}, but this value is {article(names(value_types))}",
            )


def _int_literal(expr: ast.Expr) -> bool:
    return isinstance(expr, ast.Literal) and type(expr.value) is int


def check_modules(
    modules: list[ast.Module], schemas: SchemaRegistry
) -> tuple[list[Diagnostic], dict[str, Any]]:
    """Every finding about the policy made of `modules`, and the computed `let` constants."""
    checker = Checker(modules, schemas)
    diagnostics = checker.check()
    return diagnostics, checker.lets
