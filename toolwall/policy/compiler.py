"""Checked syntax tree -> Python closures, and the rules stage that runs them.

Every expression becomes a function of one `Env` (the call's arguments, caller, session and
tool, and the quantifier variables). Nothing evaluates rule text: no `eval`, no `exec`. `let`
values are constants, computed once at load. Regexes are compiled once, by RE2.

Runtime type rules (see docs/DESIGN.md, "Types and errors"): comparisons and operators never
coerce; anything that does not fit raises `RuleEvalError`, which the rules stage turns into a
fail-closed outcome for the rule (block/escalate rules fire; rewrite rules become block).
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from toolwall.model import Action, Caller, Reason, ReasonKind, RuleVerdict, SessionView, TraceEntry
from toolwall.patterns import compile_pattern, is_glob
from toolwall.policy import ast
from toolwall.policy import builtins as _builtins
from toolwall.policy.errors import CompileError, RuleEvalError


class Env:
    """What an expression can see. One per evaluation; shared by all rules of the call."""

    __slots__ = ("args", "caller", "session", "tool", "vars")

    def __init__(
        self,
        args: Any,
        caller: Caller,
        session: SessionView,
        tool: str,
        slots: int,
    ) -> None:
        self.args = args
        self.caller = caller
        self.session = session
        self.tool = tool
        self.vars: list[Any] = [None] * slots


Fn = Callable[[Env], Any]

_MISSING = object()

_CALLER_FIELDS = frozenset({"sub", "iss", "groups", "tools", "claims", "authenticated", "session"})
_SESSION_FIELDS = frozenset({"tainted", "calls"})
ROOTS = frozenset({"args", "caller", "session", "tool"})


def type_name(value: Any) -> str:
    """The rule language's name for the type of a value, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, dict):
        return "object"
    if hasattr(value, "search"):
        return "regex"
    return type(value).__name__


def an(value: Any) -> str:
    """`a string`, `an integer`: the type of a value with its article, for messages."""
    name = type_name(value)
    return ("an " if name[0] in "aeiou" else "a ") + name


_NUMBER_TYPES = frozenset({int, float})


def _is_number(value: Any) -> bool:
    # `type(...) in` rather than isinstance: bool is an int subclass but not a number here.
    return type(value) in _NUMBER_TYPES


def _eq(a: Any, b: Any) -> bool:
    """JSON equality: values of different types are unequal; `1 == 1.0`; `true != 1`."""
    if a is b:
        return True
    ta, tb = type(a), type(b)
    if ta is tb:
        if ta is list or ta is tuple:
            return len(a) == len(b) and all(_eq(x, y) for x, y in zip(a, b, strict=True))
        if ta is dict:
            return a.keys() == b.keys() and all(_eq(v, b[k]) for k, v in a.items())
        return bool(a == b)
    if ta is bool or tb is bool:
        return False
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_eq(x, y) for x, y in zip(a, b, strict=True))
    return False


def _in(item: Any, container: Any) -> bool:
    """`item in container`: list membership, substring, or key of an object."""
    if isinstance(container, list | tuple):
        return any(_eq(item, x) for x in container)
    if isinstance(container, str):
        if not isinstance(item, str):
            raise RuleEvalError(f"`in` a string needs a string on the left, not {an(item)}")
        return item in container
    if isinstance(container, dict):
        if not isinstance(item, str):
            raise RuleEvalError(f"`in` an object needs a string key on the left, not {an(item)}")
        return item in container
    raise RuleEvalError(f"`in` needs a list, string or object on the right, not {an(container)}")


def _order(op: str) -> Callable[[Any, Any], bool]:
    compare: Callable[[Any, Any], bool] = {
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }[op]

    def ordered(a: Any, b: Any) -> bool:
        if _is_number(a) and _is_number(b):
            return compare(a, b)
        raise RuleEvalError(f"`{op}` compares numbers, not {an(a)} with {an(b)}")

    return ordered


def _strings(op: str, check: Callable[[str, str], bool]) -> Callable[[Any, Any], bool]:
    def strings(a: Any, b: Any) -> bool:
        if isinstance(a, str) and isinstance(b, str):
            return check(a, b)
        raise RuleEvalError(f"`{op}` needs two strings, not {an(a)} and {an(b)}")

    return strings


def _under(child: str, parent: str) -> bool:
    try:
        return bool(_builtins.under(child, parent))
    except _builtins.BuiltinError as exc:
        raise RuleEvalError(f"`under`: {exc}") from None


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": _eq,
    "!=": lambda a, b: not _eq(a, b),
    "<": _order("<"),
    "<=": _order("<="),
    ">": _order(">"),
    ">=": _order(">="),
    "in": _in,
    "not in": lambda a, b: not _in(a, b),
    "contains": lambda a, b: _in(b, a),
    "startswith": _strings("startswith", lambda a, b: a.startswith(b)),
    "endswith": _strings("endswith", lambda a, b: a.endswith(b)),
    "under": _strings("under", _under),
}


def _add(a: Any, b: Any) -> Any:
    if _is_number(a) and _is_number(b):
        return a + b
    if isinstance(a, str) and isinstance(b, str):
        return a + b
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return [*a, *b]
    raise RuleEvalError(f"`+` cannot combine {an(a)} and {an(b)}")


def _arith(op: str, fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def arith(a: Any, b: Any) -> Any:
        if _is_number(a) and _is_number(b):
            return fn(a, b)
        raise RuleEvalError(f"`{op}` needs numbers, not {an(a)} and {an(b)}")

    return arith


def _div(a: Any, b: Any) -> Any:
    if b == 0:
        raise RuleEvalError("division by zero")
    return a / b


_ARITH: dict[str, Callable[[Any, Any], Any]] = {
    "+": _add,
    "-": _arith("-", lambda a, b: a - b),
    "*": _arith("*", lambda a, b: a * b),
    "/": _arith("/", _div),
}


# -- references --------------------------------------------------------------------------------


def _step(value: Any, step: Any, label: Callable[[], str]) -> Any:
    """One step into a value; `_MISSING` when the field or element does not exist."""
    if isinstance(step, str):
        if isinstance(value, dict):
            return value.get(step, _MISSING)
        raise RuleEvalError(f"{label()} is {an(value)}, not an object")
    if isinstance(step, bool) or not isinstance(step, int):
        raise RuleEvalError(f"a list index must be an integer, not {an(step)}")
    if isinstance(value, list | tuple):
        return value[step] if 0 <= step < len(value) else _MISSING
    raise RuleEvalError(f"{label()} is {an(value)}, not a list")


@dataclass(slots=True)
class Scope:
    """Compile-time names: `let` constants and quantifier slots."""

    lets: dict[str, Any]
    slots: dict[str, int] = field(default_factory=dict)
    depth: int = 0
    max_depth: int = 0


def _const(value: Any) -> Fn:
    return lambda env: value


def compile_ref(node: ast.Ref, scope: Scope, *, probe: bool = False) -> Fn:
    """A reference. With `probe`, the function returns `_MISSING` instead of raising for a
    field that does not exist (what `has()` needs)."""
    root = node.root
    steps: list[Any] = []
    dynamic = False
    step_fns: list[Fn | None] = []
    for step in node.steps:
        if isinstance(step, ast.Key):
            steps.append(step.name)
            step_fns.append(None)
        elif isinstance(step.expr, ast.Literal) and isinstance(step.expr.value, int):
            steps.append(step.expr.value)
            step_fns.append(None)
        else:
            dynamic = True
            steps.append(None)
            step_fns.append(compile_expr(step.expr, scope))
    dotted = node.dotted()

    base: Fn
    if root == "args":
        base = _args_root
    elif root == "tool":
        base = _tool_root
    elif root == "caller":
        if not steps or steps[0] not in _CALLER_FIELDS:
            raise CompileError(node.loc, f"unknown caller field in {dotted}")
        base = _caller_root(steps[0])
        steps, step_fns = steps[1:], step_fns[1:]
    elif root == "session":
        if len(steps) != 1 or steps[0] not in _SESSION_FIELDS:
            raise CompileError(node.loc, f"unknown session field in {dotted}")
        name = steps[0]
        steps, step_fns = [], []
        base = _session_tainted if name == "tainted" else _session_calls
    elif root in scope.slots:
        slot = scope.slots[root]
        base = _var_root(slot)
    elif root in scope.lets:
        base = _const(scope.lets[root])
    else:
        raise CompileError(node.loc, f"unknown name {root}")

    if not steps:
        return base

    keys = tuple(steps)
    fns = tuple(step_fns)

    offset = len(node.steps) - len(keys)  # `caller.NAME` consumed its first step

    def label_upto(i: int) -> Callable[[], str]:
        # The reference up to (not including) step i, as written: for type errors.
        return lambda: ast.Ref(root, node.steps[: offset + i], node.loc).dotted()

    labels = tuple(label_upto(i) for i in range(len(keys)))

    if not dynamic and len(keys) == 1 and isinstance(keys[0], str):
        key = keys[0]
        label0 = labels[0]

        def one(env: Env) -> Any:
            value = base(env)
            # Fast path: a plain field of an object.
            found = value.get(key, _MISSING) if type(value) is dict else _step(value, key, label0)
            if found is _MISSING and not probe:
                raise RuleEvalError(f"missing field {dotted}")
            return found

        return one

    def walk(env: Env) -> Any:
        value = base(env)
        for i, key in enumerate(keys):
            if fns[i] is not None:
                key = fns[i](env)  # type: ignore[misc]
            value = _step(value, key, labels[i])
            if value is _MISSING:
                if probe:
                    return _MISSING
                raise RuleEvalError(f"missing field {dotted}")
        return value

    return walk


def _args_root(env: Env) -> Any:
    return env.args


def _tool_root(env: Env) -> Any:
    return env.tool


def _session_tainted(env: Env) -> Any:
    return env.session.tainted


def _session_calls(env: Env) -> Any:
    return env.session.calls


def _claims_root(env: Env) -> Any:
    claims = env.caller.claims
    return claims if isinstance(claims, dict) else dict(claims)


def _caller_root(name: str) -> Fn:
    if name == "claims":
        return _claims_root
    if name in ("groups", "tools"):
        return lambda env: list(getattr(env.caller, name))
    return lambda env: getattr(env.caller, name)


def _var_root(slot: int) -> Fn:
    return lambda env: env.vars[slot]


# -- expressions -------------------------------------------------------------------------------


def constant_regex(node: ast.Expr, scope: Scope) -> Any:
    """The compiled RE2 regex of a regex literal, or of a `let` bound to one."""
    if isinstance(node, ast.Regex):
        return _builtins.compile_regex(node.source, node.flags)
    if isinstance(node, ast.Ref) and not node.steps and node.root in scope.lets:
        value = scope.lets[node.root]
        if hasattr(value, "search"):
            return value
    raise CompileError(node.loc, "expected a regex literal /.../")


def _bool(value: Any, what: str) -> bool:
    if value is True or value is False:
        return value
    raise RuleEvalError(f"{what} needs true or false, not {an(value)}")


def compile_expr(node: ast.Expr, scope: Scope) -> Fn:
    if isinstance(node, ast.Literal):
        return _const(node.value)
    if isinstance(node, ast.Regex):
        return _const(constant_regex(node, scope))
    if isinstance(node, ast.ListExpr):
        items = tuple(compile_expr(i, scope) for i in node.items)
        return lambda env: [f(env) for f in items]
    if isinstance(node, ast.Ref):
        return compile_ref(node, scope)
    if isinstance(node, ast.Call):
        return _compile_call(node, scope)
    if isinstance(node, ast.Unary):
        operand = compile_expr(node.operand, scope)
        if node.op == "not":
            return lambda env: not _bool(operand(env), "`not`")

        def neg(env: Env) -> Any:
            value = operand(env)
            if _is_number(value):
                return -value
            raise RuleEvalError(f"unary `-` needs a number, not {an(value)}")

        return neg
    if isinstance(node, ast.BoolOp):
        return _compile_boolop(node, scope)
    if isinstance(node, ast.Binary):
        left, right = compile_expr(node.left, scope), compile_expr(node.right, scope)
        op = _ARITH[node.op]
        return lambda env: op(left(env), right(env))
    if isinstance(node, ast.Compare):
        return _compile_compare(node, scope)
    return _compile_quantifier(node, scope)


def _compile_boolop(node: ast.BoolOp, scope: Scope) -> Fn:
    left, right = compile_expr(node.left, scope), compile_expr(node.right, scope)
    if node.op == "and":

        def and_(env: Env) -> bool:
            if not _bool(left(env), "`and`"):
                return False
            return _bool(right(env), "`and`")

        return and_

    def or_(env: Env) -> bool:
        if _bool(left(env), "`or`"):
            return True
        return _bool(right(env), "`or`")

    return or_


def _compile_compare(node: ast.Compare, scope: Scope) -> Fn:
    left = compile_expr(node.left, scope)
    if node.op == "matches":
        regex = constant_regex(node.right, scope)
        search = regex.search

        def matches(env: Env) -> bool:
            value = left(env)
            if isinstance(value, str):
                try:
                    return bool(search(value))
                except _builtins.BuiltinError as exc:
                    raise RuleEvalError(f"`matches`: {exc}") from None
            raise RuleEvalError(f"`matches` needs a string on the left, not {an(value)}")

        literal = _literal_regex(regex)
        if literal is None:
            return matches
        anchored, text = literal

        def matches_literal(env: Env) -> bool:
            # A regex that is plain text (optionally anchored with `^`) is a substring or prefix
            # test; RE2 gives the same answer on any ASCII string. Anything else goes to RE2.
            value = left(env)
            if isinstance(value, str) and value.isascii():
                return value.startswith(text) if anchored else text in value
            return matches(env)

        return matches_literal
    if isinstance(node.right, ast.Literal):
        fast = _compare_constant(node.op, left, node.right.value)
        if fast is not None:
            return fast
    right = compile_expr(node.right, scope)
    op = _COMPARE[node.op]
    return lambda env: op(left(env), right(env))


# Characters that are literal in an RE2 pattern wherever they appear (no flags).
_PLAIN_REGEX_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-/:,;@=%'\"!&<>~`#"
)


def _literal_regex(regex: Any) -> tuple[bool, str] | None:
    """(anchored, text) when `regex` is plain ASCII text, optionally after a leading `^`."""
    if not isinstance(regex, _builtins.Regex) or regex.flags:
        return None
    source = regex.source
    anchored = source.startswith("^")
    text = source[1:] if anchored else source
    if all(c in _PLAIN_REGEX_CHARS for c in text):
        return anchored, text
    return None


_ORDER_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _compare_constant(op: str, left: Fn, const: Any) -> Fn | None:
    """The common `args.limit > 100` / `args.collection == "hr"`, specialised (same semantics
    as the general operators, fewer calls on the hot path)."""
    numeric = type(const) in _NUMBER_TYPES
    if op in _ORDER_OPS and numeric:
        compare = _ORDER_OPS[op]
        general = _COMPARE[op]

        def order(env: Env) -> bool:
            value = left(env)
            if type(value) in _NUMBER_TYPES:
                return compare(value, const)
            return general(value, const)  # raises the type error

        return order
    if op in ("==", "!=") and (numeric or type(const) is str):
        kinds = _NUMBER_TYPES if numeric else frozenset({str})
        equal = op == "=="

        def eq(env: Env) -> bool:
            value = left(env)
            return (type(value) in kinds and value == const) is equal

        return eq
    return None


def _compile_quantifier(node: ast.Quantifier, scope: Scope) -> Fn:
    collection = compile_expr(node.collection, scope)
    previous = scope.slots.get(node.var)
    slot = scope.depth
    scope.depth += 1
    scope.max_depth = max(scope.max_depth, scope.depth)
    scope.slots[node.var] = slot
    try:
        body = compile_expr(node.body, scope)
    finally:
        scope.depth -= 1
        if previous is None:
            del scope.slots[node.var]
        else:
            scope.slots[node.var] = previous
    want_any = node.kind == "any"
    what = f"`{node.kind} {node.var} in ...`"

    def quantify(env: Env) -> bool:
        items = collection(env)
        if not isinstance(items, list | tuple):
            raise RuleEvalError(f"{what} needs a list, not {an(items)}")
        variables = env.vars
        for item in items:
            variables[slot] = item
            if _bool(body(env), what) is want_any:
                return want_any
        return not want_any

    return quantify


def _string_fn(name: str, fn: Callable[[str], Any]) -> Callable[[Any], Any]:
    def call(value: Any) -> Any:
        if not isinstance(value, str):
            raise RuleEvalError(f"{name}() needs a string, not {an(value)}")
        try:
            return fn(value)
        except _builtins.BuiltinError as exc:
            raise RuleEvalError(f"{name}(): {exc}") from None

    return call


def _len(value: Any) -> int:
    if isinstance(value, str | list | tuple | dict):
        return len(value)
    raise RuleEvalError(f"len() needs a string, list or object, not {an(value)}")


_UNARY_FUNCS: dict[str, Callable[[Any], Any]] = {
    "len": _len,
    "lower": _string_fn("lower", str.lower),
    "upper": _string_fn("upper", str.upper),
    "domain": _string_fn("domain", lambda s: _builtins.domain(s)),
    "host": _string_fn("host", lambda s: _builtins.host(s)),
    "scheme": _string_fn("scheme", lambda s: _builtins.scheme(s)),
    "path": _string_fn("path", lambda s: _builtins.norm_path(s)),
    "is_private": _string_fn("is_private", lambda s: _builtins.is_private(s)),
}

# name -> number of arguments: the checker's table too.
ARITY: dict[str, int] = {
    **dict.fromkeys(_UNARY_FUNCS, 1),
    "has": 1,
    "count": 1,
    "called": 1,
    "replace": 3,
}


def _compile_call(node: ast.Call, scope: Scope) -> Fn:
    name = node.func
    if ARITY.get(name) != len(node.args):
        raise CompileError(node.loc, f"bad call of {name}()")
    if name == "has":
        target = node.args[0]
        if not isinstance(target, ast.Ref):
            raise CompileError(node.loc, "has() takes a reference")
        probe = compile_ref(target, scope, probe=True)

        def has(env: Env) -> bool:
            # Whatever stands in the way (a string where an object was expected, a bad index),
            # the path does not exist: has() never fails.
            try:
                return probe(env) is not _MISSING
            except RuleEvalError:
                return False

        return has
    if name in ("count", "called"):
        pattern = compile_expr(node.args[0], scope)

        def count(env: Env) -> int:
            value = pattern(env)
            if not isinstance(value, str):
                raise RuleEvalError(f"{name}() needs a tool pattern string")
            return env.session.count(value)

        if name == "count":
            return count
        return lambda env: count(env) > 0
    if name == "replace":
        subject = compile_expr(node.args[0], scope)
        regex = constant_regex(node.args[1], scope)
        replacement = compile_expr(node.args[2], scope)

        def replace(env: Env) -> Any:
            value, repl = subject(env), replacement(env)
            if not isinstance(value, str) or not isinstance(repl, str):
                raise RuleEvalError(f"replace() needs strings, not {an(value)} and {an(repl)}")
            try:
                return _builtins.replace(value, regex, repl)
            except _builtins.BuiltinError as exc:
                raise RuleEvalError(f"replace(): {exc}") from None

        return replace
    fn = _UNARY_FUNCS[name]
    arg = compile_expr(node.args[0], scope)
    return lambda env: fn(arg(env))


# -- rewrites ----------------------------------------------------------------------------------


def _rewrite_steps(target: ast.Ref) -> tuple[str | int, ...]:
    out: list[str | int] = []
    for step in target.steps:
        if isinstance(step, ast.Key):
            out.append(step.name)
        elif isinstance(step.expr, ast.Literal) and isinstance(step.expr.value, int):
            out.append(step.expr.value)
        else:
            raise CompileError(step.loc, "a rewrite target needs constant indexes")
    if target.root != "args" or not out:
        raise CompileError(target.loc, "a rewrite target is args.PATH")
    return tuple(out)


def _container(doc: Any, steps: tuple[str | int, ...], dotted: str) -> Any:
    value = doc
    for key in steps[:-1]:
        value = _step(value, key, lambda: dotted)
        if value is _MISSING:
            raise RuleEvalError(f"cannot rewrite {dotted}: its parent does not exist")
    return value


@dataclass(frozen=True, slots=True)
class CompiledRewrite:
    steps: tuple[str | int, ...]
    value: Fn | None  # None: drop
    dotted: str

    def apply(self, doc: Any, value: Any) -> None:
        parent = _container(doc, self.steps, self.dotted)
        key = self.steps[-1]
        if self.value is None:
            if isinstance(parent, dict) and isinstance(key, str):
                parent.pop(key, None)
            elif isinstance(parent, list) and isinstance(key, int) and 0 <= key < len(parent):
                del parent[key]
            return
        if isinstance(parent, dict) and isinstance(key, str):
            parent[key] = value
            return
        if isinstance(parent, list) and isinstance(key, int) and 0 <= key < len(parent):
            parent[key] = value
        else:
            raise RuleEvalError(f"cannot rewrite {self.dotted}: no such place in the arguments")


def deep_copy(value: Any) -> Any:
    """A copy of JSON data (dicts, lists, scalars): faster than `copy.deepcopy` for it."""
    if type(value) is dict:
        return {k: deep_copy(v) for k, v in value.items()}
    if type(value) is list:
        return [deep_copy(v) for v in value]
    return value


# -- rules -------------------------------------------------------------------------------------


def render_value(value: Any) -> str:
    """How a value appears in a `because` message: strings as they are, the rest as JSON."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):
        return str(value)


_DEFAULT_MESSAGE = {
    "block": "blocked",
    "escalate": "needs approval",
    "rewrite": "arguments rewritten",
}
_ACTIONS = {
    "block": Action.BLOCK,
    "escalate": Action.ESCALATE,
    "rewrite": Action.REWRITE,
}


class CompiledRule:
    """One rule, ready to run: its patterns, conditions, action and message as closures."""

    __slots__ = (
        "_reason",
        "_traces",
        "action",
        "because",
        "globs",
        "location",
        "name",
        "names",
        "order",
        "patterns",
        "rewrites",
        "unless",
        "when",
    )

    def __init__(self, rule: ast.Rule, scope: Scope, order: int) -> None:
        self.name = rule.name
        self.location = str(rule.loc)
        self.order = order
        self.action = _ACTIONS[rule.action]
        self.patterns = tuple(p.text for p in rule.patterns)
        self.names = frozenset(p for p in self.patterns if not is_glob(p))
        self.globs = tuple(p for p in self.patterns if is_glob(p))
        self.when = compile_expr(rule.when, scope) if rule.when is not None else None
        self.unless = compile_expr(rule.unless, scope) if rule.unless is not None else None
        self.rewrites = tuple(
            CompiledRewrite(
                _rewrite_steps(item.target),
                compile_expr(item.value, scope) if isinstance(item, ast.SetItem) else None,
                item.target.dotted(),
            )
            for item in rule.rewrites
        )
        self.because: tuple[str | Fn, ...] | None = None
        if rule.because is not None:
            self.because = tuple(
                p if isinstance(p, str) else compile_expr(p, scope) for p in rule.because.parts
            )
        self._traces: dict[tuple[Any, Any, bool], TraceEntry] = {}
        self._reason: Reason | None = None
        if self.because is None or all(isinstance(p, str) for p in self.because):
            self._reason = Reason(
                ReasonKind.RULE,
                "".join(p for p in self.because or () if isinstance(p, str))
                or _DEFAULT_MESSAGE[self.action.value],
                rule=self.name,
                location=self.location,
            )

    def covers(self, tool: str) -> bool:
        return tool in self.names or any(compile_pattern(g)(tool) for g in self.globs)

    def trace_entry(self, when: Any, unless: Any, fires: bool) -> TraceEntry:
        """The trace entry of an evaluation that succeeded. Its values are booleans or None,
        so the few possible entries are built once and shared (they are immutable)."""
        key = (when, unless, fires)
        entry = self._traces.get(key)
        if entry is None:
            entry = TraceEntry(
                "rule",
                "fired" if fires else "not fired",
                rule=self.name,
                location=self.location,
                when=when,
                unless=unless,
                fired=fires,
                action=self.action,
            )
            self._traces[key] = entry
        return entry

    def reason(self, env: Env) -> Reason:
        """The reason of a firing: built once when the message has no `{expr}`."""
        if self._reason is not None:
            return self._reason
        return Reason(ReasonKind.RULE, self.message(env), rule=self.name, location=self.location)

    def message(self, env: Env) -> str:
        if self.because is None:
            return _DEFAULT_MESSAGE[self.action.value]
        out = []
        for part in self.because:
            if isinstance(part, str):
                out.append(part)
                continue
            try:
                out.append(render_value(part(env)))
            except RuleEvalError as exc:
                out.append(f"<{exc.message}>")
            except Exception as exc:  # a message must never change the outcome
                out.append(f"<{type(exc).__name__}>")
        return "".join(out)


@dataclass(slots=True)
class _Fired:
    rule: CompiledRule
    action: Action
    reason: Reason
    values: list[Any] | None = None


def evaluate_rules(
    rules: Sequence[CompiledRule],
    tool: str,
    args: dict[str, Any],
    caller: Caller,
    session: SessionView,
    slots: int,
) -> RuleVerdict:
    """Run the rules covering `tool` (in (file, line) order) and combine their outcomes."""
    env = Env(args, caller, session, tool, slots)
    trace: list[TraceEntry] = []
    fired: list[_Fired] = []
    for rule in rules:
        when_value: Any = None
        unless_value: Any = None
        error: str | None = None
        fires = True
        try:
            if rule.when is not None:
                when_value = rule.when(env)
                fires = _bool(when_value, "`when`")
            # `unless` only matters when `when` holds, so it is only evaluated then: an error in
            # an `unless` that cannot change the outcome must not make the rule fire.
            if fires and rule.unless is not None:
                unless_value = rule.unless(env)
                fires = not _bool(unless_value, "`unless`")
        except RuleEvalError as exc:
            error = exc.message
        except Exception as exc:  # fail closed on anything unexpected too
            error = f"{type(exc).__name__}: {exc}"
        values: list[Any] | None = None
        if error is None and fires and rule.rewrites:
            try:
                values = [r.value(env) if r.value is not None else None for r in rule.rewrites]
            except RuleEvalError as exc:
                error = exc.message
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
        if error is not None:
            action = Action.BLOCK if rule.action is Action.REWRITE else rule.action
            reason = Reason(
                ReasonKind.RULE_ERROR,
                f"could not evaluate the rule ({error}); {action.value} (fail closed)",
                rule=rule.name,
                location=rule.location,
            )
            fired.append(_Fired(rule, action, reason))
            trace.append(
                TraceEntry(
                    "rule",
                    "error",
                    rule=rule.name,
                    location=rule.location,
                    when=when_value,
                    unless=unless_value,
                    fired=True,
                    action=action,
                    error=error,
                )
            )
            continue
        if fires:
            fired.append(_Fired(rule, rule.action, rule.reason(env), values))
        trace.append(rule.trace_entry(when_value, unless_value, fires))
    if not fired:
        return RuleVerdict(Action.ALLOW, None, (), (), tuple(trace))
    winner = max(fired, key=lambda f: f.action.strength).action
    new_args: dict[str, Any] | None = None
    if winner is not Action.BLOCK:
        rewrites = [f for f in fired if f.values is not None]
        if rewrites:
            new_args = deep_copy(args)
            for f in rewrites:
                assert f.values is not None
                try:
                    for rewrite, value in zip(f.rule.rewrites, f.values, strict=True):
                        # A value taken from the original arguments is copied, so the
                        # rewritten arguments never share a list or object with them.
                        rewrite.apply(new_args, deep_copy(value))
                except RuleEvalError as exc:
                    reason = Reason(
                        ReasonKind.RULE_ERROR,
                        f"could not apply the rewrite ({exc.message}); block (fail closed)",
                        rule=f.rule.name,
                        location=f.rule.location,
                    )
                    fired.append(_Fired(f.rule, Action.BLOCK, reason))
                    trace.append(
                        TraceEntry(
                            "rule",
                            "error",
                            rule=f.rule.name,
                            location=f.rule.location,
                            fired=True,
                            action=Action.BLOCK,
                            error=exc.message,
                        )
                    )
                    winner = Action.BLOCK
                    new_args = None
                    break
    reasons = tuple(
        [f.reason for f in fired if f.action is winner]
        + [f.reason for f in fired if f.action is not winner]
    )
    names = tuple(dict.fromkeys(f.rule.name for f in fired))
    return RuleVerdict(winner, new_args, reasons, names, tuple(trace))
