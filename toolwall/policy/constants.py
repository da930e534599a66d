"""Constant expressions evaluated at load time: the values of `let`s, and regex arguments.

A `let` value may use literals, lists, regexes, other `let`s, quantifiers and operators over
them, and the builtins that read nothing of a call (`Builtin.constant`); the checker refuses
anything else before `fold` runs. Folding needs no call, caller or session: it evaluates the
syntax tree directly, with the operators of `semantics` and the implementations of the builtin
registry, so a `let` means what the same expression means inside a rule (a differential test
holds `fold` to the compiled closures).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from toolwall.policy import ast
from toolwall.policy.builtins.regexes import Regex, compile_regex
from toolwall.policy.errors import RuleEvalError
from toolwall.policy.registry import BUILTINS
from toolwall.policy.semantics import (
    ARITH,
    COMPARE,
    MISSING,
    matcher,
    negate,
    require_bool,
    require_list,
    step,
)


def constant_regex(node: ast.Expr, lets: Mapping[str, Any]) -> Regex | None:
    """The regex a regex argument stands for: a literal (compiled here; RE2 refusing it is a
    `BuiltinError`) or a `let` bound to a regex. None for anything else."""
    if isinstance(node, ast.Regex):
        return compile_regex(node.source, node.flags)
    if isinstance(node, ast.Ref) and not node.steps and node.root in lets:
        value = lets[node.root]
        if isinstance(value, Regex):
            return value
    return None


def constant_number(node: ast.Expr, lets: Mapping[str, Any]) -> int | float | None:
    """The number an argument known at load time stands for (a literal, `-` a literal, or a
    `let` bound to a number); None for anything else."""
    sign = 1
    if isinstance(node, ast.Unary) and node.op == "-":
        sign, node = -1, node.operand
    value: Any = None
    if isinstance(node, ast.Literal):
        value = node.value
    elif isinstance(node, ast.Ref) and not node.steps and node.root in lets:
        value = lets[node.root]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return sign * value


def fold(expr: ast.Expr, lets: Mapping[str, Any]) -> Any:
    """The value of a constant expression over the `let`s computed so far.

    Raises `RuleEvalError` when the expression has no value (a type error, a missing field, a
    builtin refusing its input), with the message a rule evaluating it would give.
    """
    return _Folder(lets).value(expr)


class _Folder:
    def __init__(self, lets: Mapping[str, Any]) -> None:
        self.lets = lets
        self.variables: dict[str, Any] = {}  # quantifier variables in scope

    def value(self, node: ast.Expr) -> Any:
        if isinstance(node, ast.Literal):
            return node.value
        if isinstance(node, ast.Regex):
            return compile_regex(node.source, node.flags)
        if isinstance(node, ast.ListExpr):
            return [self.value(item) for item in node.items]
        if isinstance(node, ast.Ref):
            return self.ref(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Unary):
            operand = self.value(node.operand)
            return not require_bool(operand, "`not`") if node.op == "not" else negate(operand)
        if isinstance(node, ast.BoolOp):
            what = f"`{node.op}`"
            left = require_bool(self.value(node.left), what)
            if left is (node.op == "or"):  # short-circuit, as in a rule
                return left
            return require_bool(self.value(node.right), what)
        if isinstance(node, ast.Binary):
            return ARITH[node.op](self.value(node.left), self.value(node.right))
        if isinstance(node, ast.Compare):
            left = self.value(node.left)
            if node.op == "matches":
                regex = constant_regex(node.right, self.lets)
                if regex is None:
                    raise RuleEvalError("`matches` needs a regex literal /.../")
                return matcher(regex)(left)
            return COMPARE[node.op](left, self.value(node.right))
        return self.quantifier(node)

    def ref(self, node: ast.Ref) -> Any:
        if node.root in self.variables:
            value = self.variables[node.root]
        elif node.root in self.lets:
            value = self.lets[node.root]
        else:
            raise RuleEvalError(f"`{node.root}` is not a constant")
        for i, item in enumerate(node.steps):
            key = item.name if isinstance(item, ast.Key) else self.value(item.expr)
            value = step(value, key, functools.partial(node.dotted_upto, i))
            if value is MISSING:
                raise RuleEvalError(f"missing field {node.dotted()}")
        return value

    def call(self, node: ast.Call) -> Any:
        builtin = BUILTINS.get(node.func)
        if builtin is None or not builtin.constant or builtin.arity != len(node.args):
            raise RuleEvalError(f"{node.func}() cannot be used in a `let` value")
        values: list[Any] = []
        for param, arg in zip(builtin.params, node.args, strict=True):
            if param.form == "regex":
                regex = constant_regex(arg, self.lets)
                if regex is None:
                    raise RuleEvalError(f"{node.func}() needs a regex literal /.../")
                values.append(regex)
            else:
                values.append(self.value(arg))
        return builtin.implementation(*values)

    def quantifier(self, node: ast.Quantifier) -> bool:
        what = f"`{node.kind} {node.var} in ...`"
        items = require_list(self.value(node.collection), what)
        want_any = node.kind == "any"
        outer = self.variables.get(node.var, MISSING)
        try:
            for item in items:
                self.variables[node.var] = item
                if require_bool(self.value(node.body), what) is want_any:
                    return want_any
            return not want_any
        finally:
            if outer is MISSING:
                self.variables.pop(node.var, None)
            else:
                self.variables[node.var] = outer
