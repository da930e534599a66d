"""Static types of expressions, checked against the tool schemas (the checker's expression half).

`ExpressionChecker.expr` returns the static type of an expression (`static_types`) and reports
what cannot work whatever the call: unknown names and functions, wrong arity, regexes RE2
rejects, `args.PATH` that the schemas of the covered tools do not have, operands whose types
cannot fit, comparisons that are always or never true. Builtin calls are typed from the
registry's declarations.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from toolwall.patterns import compile_pattern
from toolwall.policy import ast
from toolwall.policy.builtins.regexes import Regex, compile_regex
from toolwall.policy.constants import constant_number
from toolwall.policy.diagnostics import Findings
from toolwall.policy.errors import BuiltinError
from toolwall.policy.registry import BUILTINS, Builtin
from toolwall.policy.schema_lookup import FieldInfo, allowed_values, field_info, property_names
from toolwall.policy.semantics import ROOTS, equal
from toolwall.policy.static_types import (
    BOOLEAN,
    LIST,
    NULLABLE_STRING,
    NUMBER,
    OBJECT,
    REGEX,
    STRING,
    Types,
    article,
    compatible,
    names,
    static_type,
)
from toolwall.schemas.registry import SchemaRegistry

_CALLER_TYPES: Final[dict[str, Types]] = {
    "sub": NULLABLE_STRING,
    "iss": NULLABLE_STRING,
    "groups": LIST,
    "tools": LIST,
    "authenticated": BOOLEAN,
    "session": NULLABLE_STRING,
}
_SESSION_TYPES: Final[dict[str, Types]] = {"tainted": BOOLEAN, "calls": NUMBER}

# What a call about tools matching no known tool always gives, by its result type.
_EMPTY_ANSWER: Final = {"number": "0", "boolean": "false"}


@dataclass(frozen=True)
class Context:
    """Where an expression stands: the tools its rule covers, the paths guarded with a reference
    builtin such as has(), and the quantifier variables in scope with their types."""

    tools: list[str]
    guarded: set[tuple[Any, ...]]
    bound: set[str]
    var_types: dict[str, Types] = field(default_factory=dict)

    @classmethod
    def constant(cls, bound: Iterable[str] = ()) -> Context:
        """No schema context: a `let` value, or the items of a literal list."""
        return cls([], set(), set(bound))


class ExpressionChecker:
    """Types expressions and reports into `findings`. `lets` is shared with the checker, which
    fills it as it folds `let` values; `let_names` are every `let` declared, computed or not."""

    def __init__(
        self,
        findings: Findings,
        schemas: SchemaRegistry,
        tools: list[str],
        let_names: Mapping[str, ast.Let],
        lets: Mapping[str, Any],
    ) -> None:
        self.findings = findings
        self.schemas = schemas
        self.tools = tools
        self.let_names = let_names
        self.lets = lets

    def error(self, loc: ast.Loc, message: str) -> None:
        self.findings.error(loc, message)

    def warning(self, loc: ast.Loc, message: str) -> None:
        self.findings.warning(loc, message)

    def expr(self, expr: ast.Expr, ctx: Context) -> Types:
        if isinstance(expr, ast.Literal):
            return frozenset({static_type(expr.value)})
        if isinstance(expr, ast.Regex):
            self.regex(expr)
            return REGEX
        if isinstance(expr, ast.ListExpr):
            for item in expr.items:
                self.expr(item, ctx)
            return LIST
        if isinstance(expr, ast.Ref):
            return self.ref(expr, ctx)
        if isinstance(expr, ast.Call):
            return self._call(expr, ctx)
        if isinstance(expr, ast.Unary):
            inner = self.expr(expr.operand, ctx)
            if expr.op == "not":
                self.need(inner, BOOLEAN, expr.operand, "`not` needs true or false")
                return BOOLEAN
            self.need(inner, NUMBER, expr.operand, "unary `-` needs a number")
            return NUMBER
        if isinstance(expr, ast.BoolOp):
            for side in (expr.left, expr.right):
                types = self.expr(side, ctx)
                self.need(types, BOOLEAN, side, f"`{expr.op}` needs true or false")
            return BOOLEAN
        if isinstance(expr, ast.Binary):
            return self._binary(expr, ctx)
        if isinstance(expr, ast.Compare):
            return self._compare(expr, ctx)
        return self._quantifier(expr, ctx)

    def need(self, types: Types, want: Types, node: ast.Expr, message: str) -> None:
        """Report `message` when a value of `types` can never be one of `want`."""
        if types is not None and want is not None and not (types & want):
            self.error(node.loc, f"{message}, but this is {article(names(types))}")

    def regex(self, node: ast.Regex) -> None:
        try:
            compile_regex(node.source, node.flags)
        except BuiltinError as exc:
            self.error(node.loc, str(exc))

    def field(self, ref: ast.Ref, tools: list[str]) -> FieldInfo | None:
        """What the covered tools' schemas say about `args.PATH`; None without schemas."""
        return field_info(self.schemas, ref.steps, tools)

    # -- references

    def ref(self, ref: ast.Ref, ctx: Context, *, probing: bool = False) -> Types:
        """A reference; `probing` when it is the argument of a reference builtin such as has(),
        where a field that may be missing is the point, not a mistake."""
        for item in ref.steps:
            if isinstance(item, ast.Index):
                index = self.expr(item.expr, ctx)
                self.need(index, NUMBER, item.expr, "a list index must be an integer")
        root = ref.root
        if root in ctx.bound:
            return None if ref.steps else ctx.var_types.get(root)
        if root == "tool":
            if ref.steps:
                self.error(
                    ref.steps[0].loc, "`tool` is the tool's name, a string: it has no fields"
                )
            return STRING
        if root == "session":
            first = ref.steps[0] if ref.steps else None
            if not isinstance(first, ast.Key) or first.name not in _SESSION_TYPES:
                self.error(
                    first.loc if first else ref.loc,
                    "unknown session field: use session.tainted or session.calls",
                )
                return None
            if len(ref.steps) > 1:
                self.error(ref.steps[1].loc, f"session.{first.name} has no fields")
            return _SESSION_TYPES[first.name]
        if root == "caller":
            return self._caller_ref(ref)
        if root == "args":
            if not ref.steps:
                return OBJECT
            if probing:
                return None
            return self._args_ref(ref, ctx)
        if root in self.let_names:
            if root not in self.lets:
                return None  # its own error was reported
            if ref.steps:
                return None
            return frozenset({static_type(self.lets[root])})
        self.error(ref.loc, unknown_name(root, self.let_names, ctx.bound))
        return None

    def _caller_ref(self, ref: ast.Ref) -> Types:
        first = ref.steps[0] if ref.steps else None
        if not isinstance(first, ast.Key) or (
            first.name not in _CALLER_TYPES and first.name != "claims"
        ):
            self.error(
                first.loc if first else ref.loc,
                "unknown caller field: use caller.sub, caller.iss, caller.groups, "
                "caller.tools, caller.claims.NAME, caller.authenticated or caller.session",
            )
            return None
        if first.name == "claims":
            return None
        if len(ref.steps) > 1 and first.name not in ("groups", "tools"):
            self.error(ref.steps[1].loc, f"caller.{first.name} has no fields")
        return None if len(ref.steps) > 1 else _CALLER_TYPES[first.name]

    def _args_ref(self, ref: ast.Ref, ctx: Context) -> Types:
        info = self.field(ref, ctx.tools)
        if info is None:
            return None
        dotted = ref.dotted()
        guarded = path_key(ref) in ctx.guarded
        if not info.present and not info.open:
            self.error(
                ref.loc,
                f"{dotted} is not in the schema of {tool_list(info.absent)}"
                + self._suggest_field(ref, ctx.tools),
            )
            return None
        if info.open and not info.present:
            self.warning(
                ref.loc,
                f"{dotted} is not declared in the schema of {tool_list(info.open)}, which "
                "allows additional properties",
            )
        elif info.absent and not guarded:
            self.warning(
                ref.loc,
                f"{dotted} is not in the schema of {tool_list(info.absent)}: the rule will "
                f"fail closed on calls to {'it' if len(info.absent) == 1 else 'them'} "
                f"(guard with has({dotted}))",
            )
        if info.types is None or not info.types or info.open:
            return None
        return frozenset(info.types)

    def _suggest_field(self, ref: ast.Ref, tools: list[str]) -> str:
        """`; did you mean args.limit?` for a misspelt top-level field."""
        if len(ref.steps) != 1 or not isinstance(ref.steps[0], ast.Key):
            return ""
        close = closest(ref.steps[0].name, sorted(property_names(self.schemas, tools)))
        return f"; did you mean `args.{close}`?" if close else ""

    # -- builtin calls, typed from the registry

    def _call(self, call: ast.Call, ctx: Context) -> Types:
        name = call.func
        builtin = BUILTINS.get(name)
        if builtin is None:
            self.error(call.loc, unknown_function(name))
            for arg in call.args:
                self.expr(arg, ctx)
            return None
        if len(call.args) != builtin.arity:
            want = builtin.arity
            self.error(
                call.loc,
                f"{name}() takes {want} argument{'s' if want != 1 else ''}, {len(call.args)} given",
            )
            return builtin.result
        for param, arg in zip(builtin.params, call.args, strict=True):
            if param.form == "reference":
                if not isinstance(arg, ast.Ref) or arg.root not in ("args", "caller"):
                    self.error(
                        arg.loc,
                        f"{name}() takes a field reference such as {name}(args.cc) or "
                        f"{name}(caller.claims.team)",
                    )
                else:
                    self.ref(arg, ctx, probing=True)
            elif param.form == "regex":
                self.constant_regex(arg, ctx, f"{name}()")
            elif param.constant:
                self.constant_seconds(arg, ctx, f"{name}()")
            else:
                types = self.expr(arg, ctx)
                self.need(types, param.types, arg, f"{name}() needs {article(names(param.types))}")
                if param.tool_pattern:
                    self._tool_pattern(builtin, arg)
        return builtin.result

    def _tool_pattern(self, builtin: Builtin, arg: ast.Expr) -> None:
        if not (isinstance(arg, ast.Literal) and isinstance(arg.value, str)):
            return
        match = compile_pattern(arg.value)
        if any(match(t) for t in self.tools):
            return
        answer = _EMPTY_ANSWER.get(names(builtin.result))
        self.warning(
            arg.loc,
            f"{show(arg.value)} matches no known tool"
            + (f", so {builtin.name}() is always {answer}" if answer else ""),
        )

    def constant_seconds(self, node: ast.Expr, ctx: Context, what: str) -> None:
        """A duration known at load time: a positive number, literal or bound by a `let`."""
        if (
            isinstance(node, ast.Ref)
            and not node.steps
            and node.root in self.let_names
            and node.root not in self.lets
        ):
            return  # the let itself failed to fold; that error is reported already
        value = constant_number(node, self.lets)
        if value is None:
            self.expr(node, ctx)
            self.error(
                node.loc,
                f"{what} needs a number of seconds known at load time (a literal, or a let "
                "bound to one): a time window is part of the policy",
            )
        elif not value > 0 or value == float("inf"):
            self.error(node.loc, f"{what} needs a positive number of seconds, not {value}")

    def constant_regex(self, node: ast.Expr, ctx: Context, what: str) -> None:
        """A regex known at load time: a literal, or a `let` bound to one."""
        if isinstance(node, ast.Regex):
            self.regex(node)
            return
        if isinstance(node, ast.Ref) and not node.steps and node.root in self.let_names:
            if node.root in self.lets and not isinstance(self.lets[node.root], Regex):
                self.error(node.loc, f"{what} needs a regex, and `{node.root}` is not one")
            return
        self.expr(node, ctx)
        self.error(node.loc, f"{what} needs a regex literal /.../ (or a let bound to one)")

    # -- operators

    def _binary(self, expr: ast.Binary, ctx: Context) -> Types:
        left, right = self.expr(expr.left, ctx), self.expr(expr.right, ctx)
        if expr.op == "+":
            allowed = frozenset({"number", "string", "list"})
            for side, types in ((expr.left, left), (expr.right, right)):
                self.need(types, allowed, side, "`+` needs numbers, strings or lists")
            if left is not None and right is not None and not (left & right):
                self.error(
                    expr.op_loc,
                    f"`+` cannot combine {article(names(left))} and {article(names(right))}",
                )
            return left if left is not None and len(left) == 1 else None
        for side, types in ((expr.left, left), (expr.right, right)):
            self.need(types, NUMBER, side, f"`{expr.op}` needs numbers")
        return NUMBER

    def _compare(self, expr: ast.Compare, ctx: Context) -> Types:
        op = expr.op
        left = self.expr(expr.left, ctx)
        if op == "matches":
            self.need(left, STRING, expr.left, "`matches` needs a string on the left")
            self.constant_regex(expr.right, ctx, "`matches`")
            return BOOLEAN
        right = self.expr(expr.right, ctx)
        if op in ("<", "<=", ">", ">="):
            for side, types in ((expr.left, left), (expr.right, right)):
                if types is not None and not (types & NUMBER):
                    self.need(types, NUMBER, side, f"`{op}` compares numbers")
                    break
        elif op in ("startswith", "endswith", "under"):
            for side, types in ((expr.left, left), (expr.right, right)):
                self.need(types, STRING, side, f"`{op}` needs strings")
        elif op in ("in", "not in", "contains"):
            container, item = (right, left) if op != "contains" else (left, right)
            cnode = expr.right if op != "contains" else expr.left
            self.need(
                container,
                frozenset({"list", "string", "object"}),
                cnode,
                f"`{op}` needs a list, string or object",
            )
            if container is not None and item is not None and container == STRING:
                self.need(
                    item,
                    STRING,
                    expr.left if op != "contains" else expr.right,
                    "`in` a string needs a string",
                )
        elif (
            op in ("==", "!=")
            and left is not None
            and right is not None
            and not compatible(left, right)
        ):
            self.error(
                expr.op_loc,
                f"`{op}` compares {article(names(left))} with {article(names(right))}: "
                f"{'never' if op == '==' else 'always'} true",
            )
        elif op in ("==", "!="):
            self._enum_compare(expr, ctx)
        if op in ("in", "not in") and isinstance(expr.right, ast.ListExpr) and left is not None:
            items = [self.expr(i, Context.constant(ctx.bound)) for i in expr.right.items]
            known = [t for t in items if t is not None]
            if known and len(known) == len(items) and not any(compatible(left, t) for t in known):
                self.error(
                    expr.op_loc,
                    f"`{op}` looks for {article(names(left))} in a list of "
                    f"{names(frozenset().union(*known))} values: "
                    f"{'never' if op == 'in' else 'always'} true",
                )
        return BOOLEAN

    def _enum_compare(self, expr: ast.Compare, ctx: Context) -> None:
        """`args.collection == "hrr"` where the schema allows only "docs", "wiki", "hr"."""
        for ref, other in ((expr.left, expr.right), (expr.right, expr.left)):
            if not (isinstance(ref, ast.Ref) and ref.root == "args" and ref.root not in ctx.bound):
                continue
            if not isinstance(other, ast.Literal):
                continue
            info = self.field(ref, ctx.tools)
            allowed = allowed_values(info) if info is not None else None
            if info is None or allowed is None:
                return
            if not any(equal(other.value, v) for v in allowed):
                shown = ", ".join(dict.fromkeys(map(show, allowed)))
                self.error(
                    other.loc,
                    f"{show(other.value)} is never a value of {ref.dotted()}: the schema of "
                    f"{tool_list(info.present)} allows only {shown}",
                )
            return

    # -- quantifiers

    def _element_types(self, collection: ast.Expr, ctx: Context) -> Types:
        """What a quantifier variable can be: the schema's `items`, or a literal list's types."""
        if isinstance(collection, ast.ListExpr):
            types = [self.expr(i, Context.constant(ctx.bound)) for i in collection.items]
            if types and all(t is not None for t in types):
                return frozenset().union(*(t for t in types if t is not None))
            return None
        if not isinstance(collection, ast.Ref) or collection.root in ctx.bound:
            return None
        if collection.root == "caller" and [
            s.name for s in collection.steps if isinstance(s, ast.Key)
        ] in (["groups"], ["tools"]):
            return STRING
        if collection.root != "args" or not collection.steps:
            return None
        first = ast.Index(ast.Literal(0, collection.loc), collection.loc)
        info = self.field(ast.Ref("args", (*collection.steps, first), collection.loc), ctx.tools)
        if info is None or info.open or not info.present or not info.types:
            return None
        return frozenset(info.types)

    def _quantifier(self, expr: ast.Quantifier, ctx: Context) -> Types:
        coll = self.expr(expr.collection, ctx)
        self.need(coll, LIST, expr.collection, f"`{expr.kind} {expr.var} in` needs a list")
        if expr.var in ROOTS or expr.var in self.let_names:
            self.error(expr.var_loc, f"`{expr.var}` is already a name; choose another")
        element = self._element_types(expr.collection, ctx)
        inner = Context(
            ctx.tools, ctx.guarded, ctx.bound | {expr.var}, {**ctx.var_types, expr.var: element}
        )
        body = self.expr(expr.body, inner)
        self.need(body, BOOLEAN, expr.body, f"the body of `{expr.kind}` must be true or false")
        return BOOLEAN


# -- guarded paths -----------------------------------------------------------------------------


def path_key(ref: ast.Ref) -> tuple[Any, ...]:
    """A reference as a comparable path (`[*]` for an index computed at run time)."""
    out: list[Any] = [ref.root]
    for item in ref.steps:
        if isinstance(item, ast.Key):
            out.append(item.name)
        elif isinstance(item.expr, ast.Literal):
            out.append(item.expr.value)
        else:
            out.append("[*]")
    return tuple(out)


def guarded_in(expr: ast.Expr | None) -> set[tuple[Any, ...]]:
    """Paths tested by a reference builtin (has()) somewhere in the expression: their other
    uses are guarded, so a field some covered tools lack is not worth a warning there."""
    if expr is None:
        return set()
    guarded: set[tuple[Any, ...]] = set()
    for call in ast.calls_in(expr):
        builtin = BUILTINS.get(call.func)
        if builtin is None or builtin.arity != len(call.args):
            continue
        for param, arg in zip(builtin.params, call.args, strict=True):
            if param.form == "reference" and isinstance(arg, ast.Ref):
                guarded.add(path_key(arg))
    return guarded


# -- wording -----------------------------------------------------------------------------------


def tool_list(tools: list[str]) -> str:
    return ", ".join(tools)


def show(value: Any) -> str:
    """A constant as it would be written in a rule (JSON)."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def unknown_name(name: str, lets: Iterable[str], bound: Iterable[str] = ()) -> str:
    known = sorted({*ROOTS, *lets, *bound})
    close = closest(name, known)
    hint = f"; did you mean `{close}`?" if close else ""
    return f"unknown name `{name}`{hint}"


def unknown_function(name: str) -> str:
    known = sorted(BUILTINS)
    close = closest(name, known)
    hint = f"; did you mean `{close}`?" if close else ""
    return f"unknown function `{name}()`{hint} (known: {', '.join(known)})"


def closest(name: str, candidates: list[str]) -> str | None:
    found = difflib.get_close_matches(name, candidates, n=1, cutoff=0.75)
    return found[0] if found else None
