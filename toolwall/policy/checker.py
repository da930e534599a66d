"""Load-time checks of parsed rule files against the tool schemas (what `toolwall check` shows).

The checker proves what the evaluator then trusts: every name and function exists and is called
with the right number of arguments, names are unique across files, regexes compile under RE2,
`args.PATH` exists in the schemas of the tools a rule covers, comparisons can match the schema's
types, and rewrite values can satisfy the schema. It also computes the `let` constants, which
the compiler inlines.

Static types are sets of the names `string number boolean null list object regex`; `None`
means "unknown" (anything goes, nothing is reported).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator

from toolwall.patterns import compile_pattern, is_glob
from toolwall.policy import ast
from toolwall.policy import builtins as _builtins
from toolwall.policy.compiler import ARITY, ROOTS, type_name
from toolwall.policy.diagnostics import Diagnostic, Severity
from toolwall.schemas.registry import SchemaRegistry

Types = frozenset[str] | None

STRING: Types = frozenset({"string"})
NUMBER: Types = frozenset({"number"})
BOOLEAN: Types = frozenset({"boolean"})
LIST: Types = frozenset({"list"})
NULLABLE_STRING: Types = frozenset({"string", "null"})
REGEX: Types = frozenset({"regex"})

_CALLER_TYPES: dict[str, Types] = {
    "sub": NULLABLE_STRING,
    "iss": NULLABLE_STRING,
    "groups": LIST,
    "tools": LIST,
    "authenticated": BOOLEAN,
    "session": NULLABLE_STRING,
}
_SESSION_TYPES: dict[str, Types] = {"tainted": BOOLEAN, "calls": NUMBER}

_JSON_TYPES = {
    "string": "string",
    "integer": "number",
    "number": "number",
    "boolean": "boolean",
    "null": "null",
    "array": "list",
    "object": "object",
}

_FUNC_TYPES: dict[str, tuple[Types, Types]] = {
    # name: (argument type, result type)
    "len": (frozenset({"string", "list", "object"}), NUMBER),
    "lower": (STRING, STRING),
    "upper": (STRING, STRING),
    "domain": (STRING, STRING),
    "host": (STRING, STRING),
    "scheme": (STRING, STRING),
    "path": (STRING, STRING),
    "is_private": (STRING, BOOLEAN),
    "count": (STRING, NUMBER),
    "called": (STRING, BOOLEAN),
    "has": (None, BOOLEAN),
    "replace": (STRING, STRING),
}


@dataclass
class _Field:
    """What the schemas of the covered tools say about one `args.PATH`."""

    present: list[str] = field(default_factory=list)  # tools whose schema declares it
    open: list[str] = field(default_factory=list)  # tools that may have it (additional props)
    absent: list[str] = field(default_factory=list)  # tools whose schema cannot have it
    types: set[str] | None = field(default_factory=set)  # union of declared types; None: any
    schemas: list[tuple[str, Mapping[str, Any]]] = field(default_factory=list)
    required_by: list[str] = field(default_factory=list)


class Checker:
    """Checks a set of modules as one policy. `diagnostics` collects every finding."""

    def __init__(self, modules: list[ast.Module], schemas: SchemaRegistry) -> None:
        self.modules = modules
        self.schemas = schemas
        self.diagnostics: list[Diagnostic] = []
        self.lets: dict[str, Any] = {}
        self._sources = {m.file: m.text for m in modules}
        self._let_nodes: dict[str, ast.Let] = {}
        self._tools = schemas.names()
        self._tool_set = frozenset(self._tools)

    # -- reporting

    def report(self, severity: Severity, loc: ast.Loc, message: str) -> None:
        self.diagnostics.append(
            Diagnostic.at(severity, loc, message, self._sources.get(loc.file, ""))
        )

    def error(self, loc: ast.Loc, message: str) -> None:
        self.report("error", loc, message)

    def warning(self, loc: ast.Loc, message: str) -> None:
        self.report("warning", loc, message)

    # -- the whole policy

    def check(self) -> list[Diagnostic]:
        self._names()
        self._evaluate_lets()
        for module in self.modules:
            for stmt in module.statements:
                if isinstance(stmt, ast.Rule):
                    self._rule(stmt)
                elif isinstance(stmt, ast.Taint):
                    self._patterns(stmt.patterns, "taint")
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
        from toolwall.model import Caller
        from toolwall.policy.compiler import Scope, compile_expr
        from toolwall.policy.errors import CompileError, RuleEvalError
        from toolwall.state.sessions import SessionState

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
            for ref in _refs(node.value, set()):
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
                    self.error(ref.loc, _unknown_name(ref.root, self._let_nodes))
                    ok = False
            for call in _calls(node.value):
                if call.func in ("count", "called", "has"):
                    self.error(call.loc, f"{call.func}() cannot be used in a `let` value")
                    ok = False
            if ok:
                ok = self._expr_ok(node.value, set())
            if ok:
                try:
                    scope = Scope({k: v for k, v in self.lets.items()})
                    fn = compile_expr(node.value, scope)
                    from toolwall.policy.compiler import Env

                    self.lets[name] = fn(Env({}, Caller(), SessionState(), "", scope.max_depth))
                except (RuleEvalError, CompileError) as exc:
                    self.error(node.value.loc, f"`let {name}` cannot be computed: {exc}")
                    ok = False
            state[name] = "done" if ok else "failed"
            return ok

        for name in self._let_nodes:
            evaluate(name)

    # -- statements

    def _patterns(self, patterns: Iterable[ast.Pattern], what: str) -> list[str]:
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
        tools = self._patterns(rule.patterns, "rule")
        guarded = _guarded_paths(rule)
        ctx = _Ctx(tools, guarded, set())
        for cond in (rule.when, rule.unless):
            if cond is not None:
                self._condition(cond, ctx)
        for item in rule.rewrites:
            self._rewrite(item, ctx)
        if rule.because is not None:
            for part in rule.because.parts:
                if not isinstance(part, str):
                    self._expr(part, ctx)

    def _assert(self, stmt: ast.Assert) -> None:
        tools = self._patterns(stmt.patterns, "assert")
        seen: set[str] = set()
        for action in stmt.actions:
            if action in seen:
                self.error(stmt.loc, f"action `{action}` is listed twice")
            seen.add(action)
        self._condition(stmt.when, _Ctx(tools, _guarded_in(stmt.when), set()))

    def _condition(self, expr: ast.Expr, ctx: _Ctx) -> None:
        types = self._expr(expr, ctx)
        if types is not None and "boolean" not in types:
            self.error(
                _loc(expr),
                f"a condition must be true or false, but this is {_a(_names(types))}",
            )

    def _rewrite(self, item: ast.RewriteItem, ctx: _Ctx) -> None:
        target = item.target
        if target.root != "args" or not target.steps:
            self.error(target.loc, "a rewrite changes the arguments: write `args.PATH`")
            return
        if any(isinstance(s, ast.Index) and not _int_literal(s.expr) for s in target.steps):
            self.error(target.loc, "a rewrite target needs constant list indexes")
            return
        info = self._field(target, ctx.tools)
        dotted = target.dotted()
        if info is not None and not info.present and not info.open and info.absent:
            self.error(
                target.loc,
                f"{dotted} is not in the schema of {_tool_list(info.absent)}"
                + (" (dropping it changes nothing)" if isinstance(item, ast.DropItem) else ""),
            )
            return
        if isinstance(item, ast.DropItem):
            if info is not None and info.required_by:
                self.error(
                    item.loc,
                    f"drop {dotted}: the schema of {_tool_list(info.required_by)} requires it, "
                    "so the rewritten arguments could never be valid",
                )
            return
        value_types = self._expr(item.value, ctx)
        if info is None or not info.schemas:
            return
        try:
            constant = ast.literal_value(item.value)
        except ValueError:
            constant = _NOT_CONSTANT
        if constant is not _NOT_CONSTANT:
            for tool, subschema in info.schemas:
                problem = _schema_problem(subschema, constant)
                if problem is not None:
                    self.error(
                        _loc(item.value),
                        f"{_show(constant)} cannot be the value of {dotted}: "
                        f"the schema of {tool} says {problem}",
                    )
                    return
        elif (
            value_types is not None
            and info.types
            and not _compatible(value_types, frozenset(info.types))
        ):
            self.error(
                _loc(item.value),
                f"{dotted} is a {_names(frozenset(info.types))} in the schema of "
                f"{_tool_list(info.present)}, but this value is {_a(_names(value_types))}",
            )

    # -- expressions

    def _expr_ok(self, expr: ast.Expr, bound: set[str]) -> bool:
        """Checks for a `let` value (no schema context); True when no error was added."""
        before = sum(1 for d in self.diagnostics if d.is_error)
        self._expr(expr, _Ctx([], set(), set(bound)))
        return sum(1 for d in self.diagnostics if d.is_error) == before

    def _expr(self, expr: ast.Expr, ctx: _Ctx) -> Types:
        if isinstance(expr, ast.Literal):
            return frozenset({_static_type(expr.value)})
        if isinstance(expr, ast.Regex):
            self._regex(expr)
            return REGEX
        if isinstance(expr, ast.ListExpr):
            for item in expr.items:
                self._expr(item, ctx)
            return LIST
        if isinstance(expr, ast.Ref):
            return self._ref(expr, ctx)
        if isinstance(expr, ast.Call):
            return self._call(expr, ctx)
        if isinstance(expr, ast.Unary):
            inner = self._expr(expr.operand, ctx)
            if expr.op == "not":
                self._need(inner, BOOLEAN, expr.operand, "`not` needs true or false")
                return BOOLEAN
            self._need(inner, NUMBER, expr.operand, "unary `-` needs a number")
            return NUMBER
        if isinstance(expr, ast.BoolOp):
            for side in (expr.left, expr.right):
                types = self._expr(side, ctx)
                self._need(types, BOOLEAN, side, f"`{expr.op}` needs true or false")
            return BOOLEAN
        if isinstance(expr, ast.Binary):
            return self._binary(expr, ctx)
        if isinstance(expr, ast.Compare):
            return self._compare(expr, ctx)
        return self._quantifier(expr, ctx)

    def _need(self, types: Types, want: Types, node: ast.Expr, message: str) -> None:
        if types is not None and want is not None and not (types & want):
            self.error(_loc(node), f"{message}, but this is {_a(_names(types))}")

    def _regex(self, node: ast.Regex) -> None:
        try:
            _builtins.compile_regex(node.source, node.flags)
        except _builtins.BuiltinError as exc:
            self.error(node.loc, str(exc))

    def _ref(self, ref: ast.Ref, ctx: _Ctx, *, under_has: bool = False) -> Types:
        for step in ref.steps:
            if isinstance(step, ast.Index):
                index = self._expr(step.expr, ctx)
                self._need(index, NUMBER, step.expr, "a list index must be an integer")
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
        if root == "args":
            if not ref.steps:
                return frozenset({"object"})
            if under_has:
                return None
            return self._args_ref(ref, ctx)
        if root in self._let_nodes:
            if root not in self.lets:
                return None  # its own error was reported
            if ref.steps:
                return None
            return frozenset({_static_type(self.lets[root])})
        self.error(ref.loc, _unknown_name(root, self._let_nodes, ctx.bound))
        return None

    def _args_ref(self, ref: ast.Ref, ctx: _Ctx) -> Types:
        info = self._field(ref, ctx.tools)
        if info is None:
            return None
        dotted = ref.dotted()
        guarded = _path_key(ref) in ctx.guarded
        if not info.present and not info.open:
            self.error(
                ref.loc,
                f"{dotted} is not in the schema of {_tool_list(info.absent)}"
                + self._suggest_field(ref, ctx.tools),
            )
            return None
        if info.open and not info.present:
            self.warning(
                ref.loc,
                f"{dotted} is not declared in the schema of {_tool_list(info.open)}, which "
                "allows additional properties",
            )
        elif info.absent and not guarded:
            self.warning(
                ref.loc,
                f"{dotted} is not in the schema of {_tool_list(info.absent)}: the rule will "
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
        names: set[str] = set()
        for tool in tools:
            schema = self.schemas.get(tool)
            props = schema.schema.get("properties") if schema is not None else None
            if isinstance(props, Mapping):
                names.update(str(k) for k in props)
        close = _closest(ref.steps[0].name, sorted(names))
        return f"; did you mean `args.{close}`?" if close else ""

    def _field(self, ref: ast.Ref, tools: list[str]) -> _Field | None:
        """What the covered tools' schemas say about `args.PATH`; None without schemas."""
        if not tools:
            return None
        info = _Field()
        for tool in tools:
            schema = self.schemas.get(tool)
            if schema is None:
                continue
            found = _lookup(schema.schema, ref.steps)
            if found is _ABSENT:
                info.absent.append(tool)
            elif found is _OPEN:
                info.open.append(tool)
            else:
                assert isinstance(found, _Found)
                info.present.append(tool)
                info.schemas.extend((tool, s) for s in found.schemas)
                if found.required:
                    info.required_by.append(tool)
                types = _schema_types(found.schemas)
                if types is None or info.types is None:
                    info.types = None
                else:
                    info.types |= types
        return info

    def _call(self, call: ast.Call, ctx: _Ctx) -> Types:
        name = call.func
        if name not in ARITY:
            self.error(call.loc, _unknown_function(name))
            for arg in call.args:
                self._expr(arg, ctx)
            return None
        want = ARITY[name]
        if len(call.args) != want:
            self.error(
                call.loc,
                f"{name}() takes {want} argument{'s' if want != 1 else ''}, {len(call.args)} given",
            )
            return _FUNC_TYPES[name][1]
        arg_type, result = _FUNC_TYPES[name]
        if name == "has":
            target = call.args[0]
            if not isinstance(target, ast.Ref) or target.root not in ("args", "caller"):
                self.error(
                    _loc(target),
                    "has() takes a field reference such as has(args.cc) or has(caller.claims.team)",
                )
                return BOOLEAN
            self._ref(target, ctx, under_has=True)
            return BOOLEAN
        if name == "replace":
            subject, regex, repl = call.args
            self._need(self._expr(subject, ctx), STRING, subject, "replace() needs a string")
            self._need(self._expr(repl, ctx), STRING, repl, "replace() needs a string")
            self._constant_regex(regex, ctx, "replace()")
            return STRING
        types = self._expr(call.args[0], ctx)
        self._need(types, arg_type, call.args[0], f"{name}() needs {_a(_names(arg_type))}")
        pattern = call.args[0]
        if (
            name in ("count", "called")
            and isinstance(pattern, ast.Literal)
            and isinstance(pattern.value, str)
        ):
            match = compile_pattern(pattern.value)
            if not any(match(t) for t in self._tools):
                self.warning(
                    pattern.loc,
                    f"{_show(pattern.value)} matches no known tool, so {name}() is always "
                    f"{'0' if name == 'count' else 'false'}",
                )
        return result

    def _constant_regex(self, node: ast.Expr, ctx: _Ctx, what: str) -> None:
        if isinstance(node, ast.Regex):
            self._regex(node)
            return
        if isinstance(node, ast.Ref) and not node.steps and node.root in self._let_nodes:
            value = self.lets.get(node.root)
            if node.root in self.lets and not hasattr(value, "search"):
                self.error(node.loc, f"{what} needs a regex, and `{node.root}` is not one")
            return
        self._expr(node, ctx)
        self.error(_loc(node), f"{what} needs a regex literal /.../ (or a let bound to one)")

    def _binary(self, expr: ast.Binary, ctx: _Ctx) -> Types:
        left, right = self._expr(expr.left, ctx), self._expr(expr.right, ctx)
        if expr.op == "+":
            allowed = frozenset({"number", "string", "list"})
            for side, types in ((expr.left, left), (expr.right, right)):
                self._need(types, allowed, side, "`+` needs numbers, strings or lists")
            if left is not None and right is not None and not (left & right):
                self.error(
                    expr.op_loc,
                    f"`+` cannot combine {_a(_names(left))} and {_a(_names(right))}",
                )
            return left if left is not None and len(left) == 1 else None
        for side, types in ((expr.left, left), (expr.right, right)):
            self._need(types, NUMBER, side, f"`{expr.op}` needs numbers")
        return NUMBER

    def _compare(self, expr: ast.Compare, ctx: _Ctx) -> Types:
        op = expr.op
        left = self._expr(expr.left, ctx)
        if op == "matches":
            self._need(left, STRING, expr.left, "`matches` needs a string on the left")
            self._constant_regex(expr.right, ctx, "`matches`")
            return BOOLEAN
        right = self._expr(expr.right, ctx)
        if op in ("<", "<=", ">", ">="):
            for side, types in ((expr.left, left), (expr.right, right)):
                if types is not None and not (types & NUMBER):  # type: ignore[operator]
                    self._need(types, NUMBER, side, f"`{op}` compares numbers")
                    break
        elif op in ("startswith", "endswith", "under"):
            for side, types in ((expr.left, left), (expr.right, right)):
                self._need(types, STRING, side, f"`{op}` needs strings")
        elif op in ("in", "not in", "contains"):
            container, item = (right, left) if op != "contains" else (left, right)
            cnode = expr.right if op != "contains" else expr.left
            self._need(
                container,
                frozenset({"list", "string", "object"}),
                cnode,
                f"`{op}` needs a list, string or object",
            )
            if container is not None and item is not None and container == STRING:
                self._need(
                    item,
                    STRING,
                    expr.left if op != "contains" else expr.right,
                    "`in` a string needs a string",
                )
        elif (
            op in ("==", "!=")
            and left is not None
            and right is not None
            and not _compatible(left, right)
        ):
            self.error(
                expr.op_loc,
                f"`{op}` compares {_a(_names(left))} with {_a(_names(right))}: "
                f"{'never' if op == '==' else 'always'} true",
            )
        elif op in ("==", "!="):
            self._enum_compare(expr, ctx)
        if op in ("in", "not in") and isinstance(expr.right, ast.ListExpr) and left is not None:
            items = [self._expr(i, _Ctx([], set(), set(ctx.bound))) for i in expr.right.items]
            known = [t for t in items if t is not None]
            if known and len(known) == len(items) and not any(_compatible(left, t) for t in known):
                self.error(
                    expr.op_loc,
                    f"`{op}` looks for {_a(_names(left))} in a list of "
                    f"{_names(frozenset().union(*known))} values: "
                    f"{'never' if op == 'in' else 'always'} true",
                )
        return BOOLEAN

    def _enum_compare(self, expr: ast.Compare, ctx: _Ctx) -> None:
        """`args.collection == "hrr"` where the schema allows only "docs", "wiki", "hr"."""
        for ref, other in ((expr.left, expr.right), (expr.right, expr.left)):
            if not (isinstance(ref, ast.Ref) and ref.root == "args" and ref.root not in ctx.bound):
                continue
            if not isinstance(other, ast.Literal):
                continue
            info = self._field(ref, ctx.tools)
            if info is None or info.open or not info.schemas:
                return
            allowed: list[Any] = []
            for _, sub in info.schemas:
                if "const" in sub:
                    allowed.append(sub["const"])
                elif isinstance(sub.get("enum"), list):
                    allowed.extend(sub["enum"])
                else:
                    return
            if not any(_same(other.value, v) for v in allowed):
                shown = ", ".join(dict.fromkeys(map(_show, allowed)))
                self.error(
                    other.loc,
                    f"{_show(other.value)} is never a value of {ref.dotted()}: the schema of "
                    f"{_tool_list(info.present)} allows only {shown}",
                )
            return

    def _element_types(self, collection: ast.Expr, ctx: _Ctx) -> Types:
        """What a quantifier variable can be: the schema's `items`, or a literal list's types."""
        if isinstance(collection, ast.ListExpr):
            types = [self._expr(i, _Ctx([], set(), set(ctx.bound))) for i in collection.items]
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
        info = self._field(ast.Ref("args", (*collection.steps, first), collection.loc), ctx.tools)
        if info is None or info.open or not info.present or not info.types:
            return None
        return frozenset(info.types)

    def _quantifier(self, expr: ast.Quantifier, ctx: _Ctx) -> Types:
        coll = self._expr(expr.collection, ctx)
        self._need(coll, LIST, expr.collection, f"`{expr.kind} {expr.var} in` needs a list")
        if expr.var in ROOTS or expr.var in self._let_nodes:
            self.error(expr.var_loc, f"`{expr.var}` is already a name; choose another")
        element = self._element_types(expr.collection, ctx)
        inner = _Ctx(
            ctx.tools, ctx.guarded, ctx.bound | {expr.var}, {**ctx.var_types, expr.var: element}
        )
        body = self._expr(expr.body, inner)
        self._need(body, BOOLEAN, expr.body, f"the body of `{expr.kind}` must be true or false")
        return BOOLEAN


@dataclass(frozen=True)
class _Ctx:
    tools: list[str]
    guarded: set[tuple[Any, ...]]
    bound: set[str]
    var_types: dict[str, Types] = field(default_factory=dict)  # quantifier variables


# -- schema lookups ----------------------------------------------------------------------------

_ABSENT = object()
_OPEN = object()
_NOT_CONSTANT = object()


@dataclass
class _Found:
    schemas: list[Mapping[str, Any]]
    required: bool = False


def _branches(schema: Any) -> list[Mapping[str, Any]]:
    """The schema and the alternatives of its anyOf / oneOf / allOf, flattened."""
    if not isinstance(schema, Mapping):
        return []
    out = [schema]
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, ()) or ():
            out.extend(_branches(sub))
    return out


def _lookup(schema: Mapping[str, Any], steps: tuple[ast.Step, ...]) -> Any:
    """Follow `steps` through a JSON Schema: `_Found`, `_ABSENT` or `_OPEN`."""
    current: list[Mapping[str, Any]] = [schema]
    required = True
    for step in steps:
        nxt: list[Mapping[str, Any]] = []
        open_ = False
        for branch in (b for s in current for b in _branches(s)):
            if "$ref" in branch or "patternProperties" in branch:
                open_ = True
                continue
            if isinstance(step, ast.Key):
                props = branch.get("properties")
                if isinstance(props, Mapping) and step.name in props:
                    nxt.append(props[step.name])
                    if step.name not in (branch.get("required") or ()):
                        required = False
                    continue
                extra = branch.get("additionalProperties", True)
                if _declares_object(branch) and extra is False:
                    continue
                if isinstance(extra, Mapping):
                    nxt.append(extra)
                    required = False
                    continue
                if _declares_object(branch) or not _declares_type(branch):
                    open_ = True
            else:
                items = branch.get("items")
                prefix = branch.get("prefixItems")
                if isinstance(items, Mapping):
                    nxt.append(items)
                elif isinstance(prefix, list) and prefix:
                    nxt.extend(p for p in prefix if isinstance(p, Mapping))
                elif _declares_type(branch) and "array" not in _declared(branch):
                    continue
                else:
                    open_ = True
                required = False
        if nxt:
            current = nxt
            continue
        return _OPEN if open_ else _ABSENT
    return _Found(current, required)


def _declared(schema: Mapping[str, Any]) -> set[str]:
    t = schema.get("type")
    if isinstance(t, str):
        return {t}
    if isinstance(t, list):
        return {x for x in t if isinstance(x, str)}
    return set()


def _declares_type(schema: Mapping[str, Any]) -> bool:
    return "type" in schema


def _declares_object(schema: Mapping[str, Any]) -> bool:
    return "object" in _declared(schema) or "properties" in schema


def _schema_types(schemas: list[Mapping[str, Any]]) -> set[str] | None:
    """The static types a value satisfying one of `schemas` can have; None when unknown."""
    out: set[str] = set()
    for schema in schemas:
        declared = _declared(schema)
        if declared:
            out |= {_JSON_TYPES[t] for t in declared if t in _JSON_TYPES}
        elif "const" in schema:
            out.add(_static_type(schema["const"]))
        elif isinstance(schema.get("enum"), list):
            out |= {_static_type(v) for v in schema["enum"]}
        else:
            return None
    return out


def _schema_problem(schema: Mapping[str, Any], value: Any) -> str | None:
    """Why `value` cannot satisfy `schema`, or None. Schemas with references are skipped."""
    if "$ref" in str(schema):
        return None
    try:
        validator = Draft202012Validator(dict(schema))
        errors = sorted(validator.iter_errors(value), key=lambda e: list(e.path))
    except Exception:  # a sub-schema we cannot use alone: do not guess
        return None
    if not errors:
        return None
    return str(errors[0].message)


def _same(a: Any, b: Any) -> bool:
    from toolwall.policy.compiler import _eq

    return _eq(a, b)


def _static_type(value: Any) -> str:
    name = type_name(value)
    return "number" if name == "integer" else name


def _compatible(a: frozenset[str], b: frozenset[str]) -> bool:
    return bool(a & b) or ("null" in a and "null" in b)


# -- helpers -----------------------------------------------------------------------------------


def _refs(expr: ast.Expr, bound: set[str]) -> Iterator[ast.Ref]:
    """Every free reference in an expression (quantifier variables excluded)."""
    if isinstance(expr, ast.Ref):
        if expr.root not in bound:
            yield expr
        for step in expr.steps:
            if isinstance(step, ast.Index):
                yield from _refs(step.expr, bound)
    elif isinstance(expr, ast.ListExpr):
        for item in expr.items:
            yield from _refs(item, bound)
    elif isinstance(expr, ast.Call):
        for arg in expr.args:
            yield from _refs(arg, bound)
    elif isinstance(expr, ast.Unary):
        yield from _refs(expr.operand, bound)
    elif isinstance(expr, ast.BoolOp | ast.Binary | ast.Compare):
        yield from _refs(expr.left, bound)
        yield from _refs(expr.right, bound)
    elif isinstance(expr, ast.Quantifier):
        yield from _refs(expr.collection, bound)
        yield from _refs(expr.body, bound | {expr.var})


def _calls(expr: ast.Expr) -> Iterator[ast.Call]:
    if isinstance(expr, ast.Call):
        yield expr
        for arg in expr.args:
            yield from _calls(arg)
    elif isinstance(expr, ast.ListExpr):
        for item in expr.items:
            yield from _calls(item)
    elif isinstance(expr, ast.Unary):
        yield from _calls(expr.operand)
    elif isinstance(expr, ast.BoolOp | ast.Binary | ast.Compare):
        yield from _calls(expr.left)
        yield from _calls(expr.right)
    elif isinstance(expr, ast.Quantifier):
        yield from _calls(expr.collection)
        yield from _calls(expr.body)
    elif isinstance(expr, ast.Ref):
        for step in expr.steps:
            if isinstance(step, ast.Index):
                yield from _calls(step.expr)


def _path_key(ref: ast.Ref) -> tuple[Any, ...]:
    out: list[Any] = [ref.root]
    for step in ref.steps:
        if isinstance(step, ast.Key):
            out.append(step.name)
        elif isinstance(step.expr, ast.Literal):
            out.append(step.expr.value)
        else:
            out.append("[*]")
    return tuple(out)


def _guarded_in(expr: ast.Expr | None) -> set[tuple[Any, ...]]:
    """Paths tested with has() somewhere in the expression: their other uses are guarded."""
    if expr is None:
        return set()
    return {
        _path_key(call.args[0])
        for call in _calls(expr)
        if call.func == "has" and len(call.args) == 1 and isinstance(call.args[0], ast.Ref)
    }


def _guarded_paths(rule: ast.Rule) -> set[tuple[Any, ...]]:
    return _guarded_in(rule.when) | _guarded_in(rule.unless)


def _int_literal(expr: ast.Expr) -> bool:
    return isinstance(expr, ast.Literal) and type(expr.value) is int


def _loc(expr: ast.Expr) -> ast.Loc:
    """Where to point for an expression: its operator for a comparison, else its start."""
    return expr.loc


def _names(types: Types) -> str:
    if types is None:
        return "value"
    order = ["string", "number", "boolean", "null", "list", "object", "regex"]
    names = [t for t in order if t in types] + sorted(t for t in types if t not in order)
    return " or ".join(names)


def _a(text: str) -> str:
    return ("an " if text[:1] in ("a", "e", "i", "o", "u") else "a ") + text


def _tool_list(tools: list[str]) -> str:
    return ", ".join(tools)


def _show(value: Any) -> str:
    import json

    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _unknown_name(name: str, lets: Mapping[str, Any], bound: Iterable[str] = ()) -> str:
    known = sorted({*ROOTS, *lets, *bound})
    close = _closest(name, known)
    hint = f"; did you mean `{close}`?" if close else ""
    return f"unknown name `{name}`{hint}"


def _unknown_function(name: str) -> str:
    close = _closest(name, sorted(ARITY))
    hint = f"; did you mean `{close}`?" if close else ""
    return f"unknown function `{name}()`{hint} (known: {', '.join(sorted(ARITY))})"


def _closest(name: str, candidates: list[str]) -> str | None:
    import difflib

    found = difflib.get_close_matches(name, candidates, n=1, cutoff=0.75)
    return found[0] if found else None


def check_modules(
    modules: list[ast.Module], schemas: SchemaRegistry
) -> tuple[list[Diagnostic], dict[str, Any]]:
    """Every finding about the policy made of `modules`, and the computed `let` constants."""
    checker = Checker(modules, schemas)
    diagnostics = checker.check()
    return diagnostics, checker.lets
