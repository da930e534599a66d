"""The syntax tree of a `.tw` file: small frozen dataclasses, each with its location, and walks
over expressions.

The parser builds these from Lark's parse tree; the checker reads them against the tool schemas;
the compiler turns them into closures. Nothing here evaluates anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Loc:
    """Where a node starts (1-based line and column) and, when known, where it ends."""

    file: str
    line: int
    col: int
    end_line: int = 0
    end_col: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


# -- expressions -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Literal:
    """A string, integer, float, `true`, `false` or `null`."""

    value: str | int | float | bool | None
    loc: Loc


@dataclass(frozen=True, slots=True)
class Regex:
    """`/source/flags`: an RE2 regular expression."""

    source: str
    flags: str
    loc: Loc


@dataclass(frozen=True, slots=True)
class ListExpr:
    items: tuple[Expr, ...]
    loc: Loc


@dataclass(frozen=True, slots=True)
class Key:
    """`.name` or `["name"]`: a field of an object."""

    name: str
    loc: Loc


@dataclass(frozen=True, slots=True)
class Index:
    """`[expr]` with a non-string index: an element of a list."""

    expr: Expr
    loc: Loc


Step = Key | Index


@dataclass(frozen=True, slots=True)
class Ref:
    """A name and the steps into it: `args.a.b`, `args["odd-key"]`, `caller.groups`, `company`."""

    root: str
    steps: tuple[Step, ...]
    loc: Loc

    def dotted(self) -> str:
        """The reference as written, normalised: `args.items[0]`, `args["odd-key"]`."""
        out = [self.root]
        for step in self.steps:
            if isinstance(step, Key):
                out.append(f".{step.name}" if step.name.isidentifier() else f'["{step.name}"]')
            elif isinstance(step.expr, Literal):
                out.append(f"[{step.expr.value!r}]")
            else:
                out.append("[...]")
        return "".join(out)

    def dotted_upto(self, count: int) -> str:
        """The reference with only its first `count` steps, as written: what a type error found
        on the way names (`args.a is a string, not an object`)."""
        return Ref(self.root, self.steps[:count], self.loc).dotted()


@dataclass(frozen=True, slots=True)
class Call:
    """A builtin function call: `path(args.path)`, `count("email.send")`."""

    func: str
    args: tuple[Expr, ...]
    loc: Loc


@dataclass(frozen=True, slots=True)
class Unary:
    """`not x` (op "not") or `-x` (op "-")."""

    op: str
    operand: Expr
    loc: Loc


@dataclass(frozen=True, slots=True)
class BoolOp:
    """`a and b`, `a or b`; short-circuit."""

    op: str
    left: Expr
    right: Expr
    loc: Loc


@dataclass(frozen=True, slots=True)
class Binary:
    """Arithmetic: `+ - * /`."""

    op: str
    left: Expr
    right: Expr
    loc: Loc
    op_loc: Loc


@dataclass(frozen=True, slots=True)
class Compare:
    """A comparison: `== != < <= > >= in`, `not in`, `matches startswith endswith contains`,
    `under`."""

    op: str
    left: Expr
    right: Expr
    loc: Loc
    op_loc: Loc


@dataclass(frozen=True, slots=True)
class Quantifier:
    """`any NAME in EXPR: EXPR` or `all NAME in EXPR: EXPR`."""

    kind: str
    var: str
    collection: Expr
    body: Expr
    loc: Loc
    var_loc: Loc


Expr = Literal | Regex | ListExpr | Ref | Call | Unary | BoolOp | Binary | Compare | Quantifier


# -- statements --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pattern:
    """A tool name or `*` glob after `on`, `taint` or `assert never ...`."""

    text: str
    loc: Loc


@dataclass(frozen=True, slots=True)
class SetItem:
    """`args.PATH = EXPR` in a rewrite."""

    target: Ref
    value: Expr
    loc: Loc


@dataclass(frozen=True, slots=True)
class DropItem:
    """`drop args.PATH` in a rewrite."""

    target: Ref
    loc: Loc


RewriteItem = SetItem | DropItem


@dataclass(frozen=True, slots=True)
class Template:
    """A `because` string: literal text and `{expr}` parts, in order."""

    parts: tuple[str | Expr, ...]
    text: str
    loc: Loc


@dataclass(frozen=True, slots=True)
class Let:
    name: str
    value: Expr
    loc: Loc
    name_loc: Loc


@dataclass(frozen=True, slots=True)
class Taint:
    patterns: tuple[Pattern, ...]
    loc: Loc


@dataclass(frozen=True, slots=True)
class Rule:
    """`rule NAME: on PATTERNS [when EXPR] [unless EXPR] ACTION [because "..."]`."""

    name: str
    patterns: tuple[Pattern, ...]
    when: Expr | None
    unless: Expr | None
    action: str
    rewrites: tuple[RewriteItem, ...]
    because: Template | None
    loc: Loc
    name_loc: Loc
    action_loc: Loc


@dataclass(frozen=True, slots=True)
class Assert:
    """`assert never ACTION[, ACTION] PATTERNS when EXPR`: a property of the policy."""

    actions: tuple[str, ...]
    patterns: tuple[Pattern, ...]
    when: Expr
    source: str
    loc: Loc


Statement = Let | Taint | Rule | Assert


@dataclass(frozen=True, slots=True)
class Module:
    """One parsed `.tw` file."""

    file: str
    text: str
    statements: tuple[Statement, ...]

    def lines(self) -> list[str]:
        return self.text.splitlines()


def literal_value(node: Any) -> Any:
    """The Python value of a constant literal node (used by the checker for rewrite values)."""
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, ListExpr):
        return [literal_value(i) for i in node.items]
    if isinstance(node, Unary) and node.op == "-" and isinstance(node.operand, Literal):
        value = node.operand.value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return -value
    raise ValueError("not a constant literal")


# -- walks -------------------------------------------------------------------------------------


def free_refs(expr: Expr, bound: frozenset[str] = frozenset()) -> Iterator[Ref]:
    """Every free reference in an expression (quantifier variables excluded)."""
    if isinstance(expr, Ref):
        if expr.root not in bound:
            yield expr
        for step in expr.steps:
            if isinstance(step, Index):
                yield from free_refs(step.expr, bound)
    elif isinstance(expr, ListExpr):
        for item in expr.items:
            yield from free_refs(item, bound)
    elif isinstance(expr, Call):
        for arg in expr.args:
            yield from free_refs(arg, bound)
    elif isinstance(expr, Unary):
        yield from free_refs(expr.operand, bound)
    elif isinstance(expr, BoolOp | Binary | Compare):
        yield from free_refs(expr.left, bound)
        yield from free_refs(expr.right, bound)
    elif isinstance(expr, Quantifier):
        yield from free_refs(expr.collection, bound)
        yield from free_refs(expr.body, bound | {expr.var})


def calls_in(expr: Expr) -> Iterator[Call]:
    """Every builtin call in an expression, outermost first."""
    if isinstance(expr, Call):
        yield expr
        for arg in expr.args:
            yield from calls_in(arg)
    elif isinstance(expr, ListExpr):
        for item in expr.items:
            yield from calls_in(item)
    elif isinstance(expr, Unary):
        yield from calls_in(expr.operand)
    elif isinstance(expr, BoolOp | Binary | Compare):
        yield from calls_in(expr.left)
        yield from calls_in(expr.right)
    elif isinstance(expr, Quantifier):
        yield from calls_in(expr.collection)
        yield from calls_in(expr.body)
    elif isinstance(expr, Ref):
        for step in expr.steps:
            if isinstance(step, Index):
                yield from calls_in(step.expr)
