"""Checked syntax tree -> Python closures: the compiler.

Every expression becomes a function of one `Env` (the call's arguments, caller, session and
tool, and the quantifier variables). Nothing evaluates rule text: no `eval`, no `exec`. `let`
values are constants folded at check time (`constants`) and inlined here; regexes are compiled
once, by RE2; a builtin call is a closure that calls the registry's implementation directly
(the registry is read here, at compile time, never during an evaluation).

What values and operators mean is `semantics`; the closures below only wire them together,
with fast paths for the common shapes (`args.limit > 100`, a plain-text regex). A rule compiles
to a `CompiledRule`, an assertion to an `Assertion`; `evaluate` runs the rules.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from toolwall.model import READS_NOTHING, Action, SessionNeeds
from toolwall.policy import ast
from toolwall.policy.builtins.regexes import Regex
from toolwall.policy.compiled import Assertion
from toolwall.policy.compiled_rule import CompiledRewrite, CompiledRule
from toolwall.policy.constants import constant_number, constant_regex
from toolwall.policy.env import Env, Fn
from toolwall.policy.errors import CompileError, RuleEvalError
from toolwall.policy.registry import BUILTINS, Builtin, Need
from toolwall.policy.semantics import (
    ARITH,
    CALLER_FIELDS,
    COMPARE,
    MISSING,
    NUMBER_TYPES,
    SESSION_FIELDS,
    matcher,
    negate,
    require_bool,
    require_list,
    step,
)


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
    """A reference. With `probe`, the function returns `MISSING` instead of raising for a
    field that does not exist (what `has()` needs)."""
    root = node.root
    steps: list[Any] = []
    dynamic = False
    step_fns: list[Fn | None] = []
    for item in node.steps:
        if isinstance(item, ast.Key):
            steps.append(item.name)
            step_fns.append(None)
        elif isinstance(item.expr, ast.Literal) and isinstance(item.expr.value, int):
            steps.append(item.expr.value)
            step_fns.append(None)
        else:
            dynamic = True
            steps.append(None)
            step_fns.append(compile_expr(item.expr, scope))
    dotted = node.dotted()

    base: Fn
    if root == "args":
        base = _args_root
    elif root == "tool":
        base = _tool_root
    elif root == "caller":
        if not steps or steps[0] not in CALLER_FIELDS:
            raise CompileError(node.loc, f"unknown caller field in {dotted}")
        base = _caller_root(steps[0])
        steps, step_fns = steps[1:], step_fns[1:]
    elif root == "session":
        if len(steps) != 1 or steps[0] not in SESSION_FIELDS:
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

    # What a type error on the way names: the reference up to (not including) each step.
    labels = tuple(functools.partial(node.dotted_upto, offset + i) for i in range(len(keys)))

    if not dynamic and len(keys) == 1 and isinstance(keys[0], str):
        key = keys[0]
        label0 = labels[0]

        def one(env: Env) -> Any:
            value = base(env)
            # Fast path: a plain field of an object.
            found = value.get(key, MISSING) if type(value) is dict else step(value, key, label0)
            if found is MISSING and not probe:
                raise RuleEvalError(f"missing field {dotted}")
            return found

        return one

    def walk(env: Env) -> Any:
        value = base(env)
        for i, key in enumerate(keys):
            if fns[i] is not None:
                key = fns[i](env)  # type: ignore[misc]
            value = step(value, key, labels[i])
            if value is MISSING:
                if probe:
                    return MISSING
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


def _regex(node: ast.Expr, scope: Scope) -> Regex:
    """The compiled RE2 regex of a regex literal, or of a `let` bound to one."""
    regex = constant_regex(node, scope.lets)
    if regex is None:
        raise CompileError(node.loc, "expected a regex literal /.../")
    return regex


def compile_expr(node: ast.Expr, scope: Scope) -> Fn:
    if isinstance(node, ast.Literal):
        return _const(node.value)
    if isinstance(node, ast.Regex):
        return _const(_regex(node, scope))
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
            return lambda env: not require_bool(operand(env), "`not`")
        return lambda env: negate(operand(env))
    if isinstance(node, ast.BoolOp):
        return _compile_boolop(node, scope)
    if isinstance(node, ast.Binary):
        left, right = compile_expr(node.left, scope), compile_expr(node.right, scope)
        op = ARITH[node.op]
        return lambda env: op(left(env), right(env))
    if isinstance(node, ast.Compare):
        return _compile_compare(node, scope)
    return _compile_quantifier(node, scope)


def _compile_boolop(node: ast.BoolOp, scope: Scope) -> Fn:
    left, right = compile_expr(node.left, scope), compile_expr(node.right, scope)
    if node.op == "and":

        def and_(env: Env) -> bool:
            if not require_bool(left(env), "`and`"):
                return False
            return require_bool(right(env), "`and`")

        return and_

    def or_(env: Env) -> bool:
        if require_bool(left(env), "`or`"):
            return True
        return require_bool(right(env), "`or`")

    return or_


def _compile_compare(node: ast.Compare, scope: Scope) -> Fn:
    left = compile_expr(node.left, scope)
    if node.op == "matches":
        regex = _regex(node.right, scope)
        matches = matcher(regex)
        literal = _literal_regex(regex)
        if literal is None:
            return lambda env: matches(left(env))
        anchored, text = literal

        def matches_literal(env: Env) -> bool:
            # A regex that is plain text (optionally anchored with `^`) is a substring or prefix
            # test; RE2 gives the same answer on any ASCII string. Anything else goes to RE2.
            value = left(env)
            if isinstance(value, str) and value.isascii():
                return value.startswith(text) if anchored else text in value
            return matches(value)

        return matches_literal
    if isinstance(node.right, ast.Literal):
        fast = _compare_constant(node.op, left, node.right.value)
        if fast is not None:
            return fast
    right = compile_expr(node.right, scope)
    op = COMPARE[node.op]
    return lambda env: op(left(env), right(env))


# Characters that are literal in an RE2 pattern wherever they appear (no flags).
_PLAIN_REGEX_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-/:,;@=%'\"!&<>~`#"
)


def _literal_regex(regex: Regex) -> tuple[bool, str] | None:
    """(anchored, text) when `regex` is plain ASCII text, optionally after a leading `^`."""
    if regex.flags:
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
    numeric = type(const) in NUMBER_TYPES
    if op in _ORDER_OPS and numeric:
        compare = _ORDER_OPS[op]
        general = COMPARE[op]

        def order(env: Env) -> bool:
            value = left(env)
            if type(value) in NUMBER_TYPES:
                return compare(value, const)
            return general(value, const)  # raises the type error

        return order
    if op in ("==", "!=") and (numeric or type(const) is str):
        kinds = NUMBER_TYPES if numeric else frozenset({str})
        wanted = op == "=="

        def eq(env: Env) -> bool:
            value = left(env)
            return (type(value) in kinds and value == const) is wanted

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
        items = require_list(collection(env), what)
        variables = env.vars
        for item in items:
            variables[slot] = item
            if require_bool(body(env), what) is want_any:
                return want_any
        return not want_any

    return quantify


# -- builtin calls -----------------------------------------------------------------------------

# Where a builtin's `needs` come from.
_NEEDED: dict[Need, Fn] = {
    "session": lambda env: env.session,
    "caller": lambda env: env.caller,
}


def _compile_call(node: ast.Call, scope: Scope) -> Fn:
    builtin = BUILTINS.get(node.func)
    if builtin is None or builtin.arity != len(node.args):
        raise CompileError(node.loc, f"bad call of {node.func}()")
    arguments = tuple(_compile_argument(builtin, i, arg, scope) for i, arg in enumerate(node.args))
    function = builtin.implementation
    # The shapes every builtin has today get a closure without argument tuples.
    if builtin.needs == ("session",) and len(arguments) == 1:
        (argument,) = arguments
        return lambda env: function(env.session, argument(env))
    if not builtin.needs and len(arguments) == 1:
        (argument,) = arguments
        return lambda env: function(argument(env))
    everything = tuple(_NEEDED[need] for need in builtin.needs) + arguments
    return lambda env: function(*[part(env) for part in everything])


def _compile_argument(builtin: Builtin, index: int, node: ast.Expr, scope: Scope) -> Fn:
    form = builtin.params[index].form
    if form == "regex":
        return _const(_regex(node, scope))
    if form == "reference":
        if not isinstance(node, ast.Ref):
            raise CompileError(node.loc, f"{builtin.name}() takes a reference")
        probe = compile_ref(node, scope, probe=True)

        def field_or_missing(env: Env) -> Any:
            # Whatever stands in the way (a string where an object was expected, a bad index),
            # the field does not exist: a reference argument never fails.
            try:
                return probe(env)
            except RuleEvalError:
                return MISSING

        return field_or_missing
    return compile_expr(node, scope)


# -- rewrites ----------------------------------------------------------------------------------


def _rewrite_steps(target: ast.Ref) -> tuple[str | int, ...]:
    out: list[str | int] = []
    for item in target.steps:
        if isinstance(item, ast.Key):
            out.append(item.name)
        elif isinstance(item.expr, ast.Literal) and isinstance(item.expr.value, int):
            out.append(item.expr.value)
        else:
            raise CompileError(item.loc, "a rewrite target needs constant indexes")
    if target.root != "args" or not out:
        raise CompileError(target.loc, "a rewrite target is args.PATH")
    return tuple(out)


def compile_rule(rule: ast.Rule, scope: Scope, order: int) -> CompiledRule:
    """One rule; `order` is its place in (file, line) order across the policy."""
    when = compile_expr(rule.when, scope) if rule.when is not None else None
    unless = compile_expr(rule.unless, scope) if rule.unless is not None else None
    rewrites = tuple(
        CompiledRewrite(
            _rewrite_steps(item.target),
            compile_expr(item.value, scope) if isinstance(item, ast.SetItem) else None,
            item.target.dotted(),
        )
        for item in rule.rewrites
    )
    because: tuple[str | Fn, ...] | None = None
    if rule.because is not None:
        because = tuple(
            p if isinstance(p, str) else compile_expr(p, scope) for p in rule.because.parts
        )
    return CompiledRule(
        rule.name,
        str(rule.loc),
        order,
        _ACTIONS[rule.action],
        tuple(p.text for p in rule.patterns),
        when,
        unless,
        rewrites,
        because,
        session_needs(rule, scope.lets),
    )


def session_needs(rule: ast.Rule, lets: dict[str, Any]) -> SessionNeeds:
    """What a rule reads of the past (`SessionNeeds`): whether it reads the session at all, and
    the time windows it asks for (their `seconds` are load-time constants, checked)."""
    expressions = [rule.when, rule.unless]
    expressions += [item.value for item in rule.rewrites if isinstance(item, ast.SetItem)]
    if rule.because is not None:
        expressions += [p for p in rule.because.parts if not isinstance(p, str)]
    reads = False
    windows: dict[str, set[float]] = {"session": set(), "caller": set()}
    for expr in expressions:
        if expr is None:
            continue
        if any(ref.root == "session" for ref in ast.free_refs(expr)):
            reads = True
        for call in ast.calls_in(expr):
            builtin = BUILTINS.get(call.func)
            if builtin is None or "session" not in builtin.needs:
                continue
            reads = True
            if builtin.window is not None and call.args:
                seconds = constant_number(call.args[-1], lets)
                if seconds is not None:
                    windows[builtin.window].add(seconds)
    if not reads:
        return READS_NOTHING
    return SessionNeeds(True, frozenset(windows["session"]), frozenset(windows["caller"]))


def compile_assertion(node: ast.Assert, scope: Scope) -> Assertion:
    """`assert never ...`: its condition compiled like a rule's."""
    condition = compile_expr(node.when, scope)
    return Assertion(
        name=f"assert@{node.loc.file}:{node.loc.line}",
        location=str(node.loc),
        source=node.source,
        actions=frozenset(Action(a) for a in node.actions),
        patterns=tuple(p.text for p in node.patterns),
        condition=condition,
        slots=scope.max_depth,  # the quantifier depth reached so far covers its own
    )


_ACTIONS = {
    "block": Action.BLOCK,
    "escalate": Action.ESCALATE,
    "rewrite": Action.REWRITE,
}
