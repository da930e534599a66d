"""Text -> syntax tree. `grammar.lark` is the language; this module parses with the fast path
(`fastpath`, falling back to the reference parser on any error) and turns Lark's parse tree into
`toolwall.policy.ast` nodes. What a syntax error says is `syntax_errors`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput

from toolwall.errors import ToolwallError
from toolwall.policy import ast
from toolwall.policy.diagnostics import Diagnostic
from toolwall.policy.errors import ParseError
from toolwall.policy.fastpath import fast_path
from toolwall.policy.grammar import reference_parser
from toolwall.policy.syntax_errors import expected, syntax_diagnostic


def _parse(text: str, start: str) -> Tree[Any]:
    return _parse_with(fast_path().parser, text, start)


def _parse_with(first: Lark | None, text: str, start: str) -> Tree[Any]:
    reference = reference_parser()
    if first is None:
        return reference.parse(text, start=start)
    try:
        return first.parse(text, start=start)
    except UnexpectedInput:
        # A text that does not parse is parsed again by the reference, whose exception carries
        # what the diagnostics need; were it to accept the text, its tree would stand.
        return reference.parse(text, start=start)


def _parse_expr(source: str) -> Tree[Any]:
    """An expression inside a `because` string."""
    return _parse_expr_with(fast_path().parser, source)


# Cached per parser (a new fast path after `fastpath.configure` parses afresh), as messages
# repeat `{args.x}`.
@lru_cache(maxsize=1024)
def _parse_expr_with(first: Lark | None, source: str) -> Tree[Any]:
    return _parse_with(first, source, "expr")


def parse_text(text: str, filename: str = "<text>") -> ast.Module:
    """Parse one `.tw` text. Raises `ParseError` (and nothing else) when it is not well formed."""
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        col = text.index("\x00") - (text.rfind("\n", 0, text.index("\x00")) + 1) + 1
        loc = ast.Loc(filename, line, col)
        raise ParseError([Diagnostic.at("error", loc, "NUL character in the rule file", text)])
    try:
        tree = _parse(text, "start")
    except UnexpectedInput as exc:
        raise ParseError([syntax_diagnostic(exc, text, filename)]) from None
    except RecursionError:
        loc = ast.Loc(filename, 1, 1)
        raise ParseError(
            [Diagnostic.at("error", loc, "expression nested too deeply", text)]
        ) from None
    builder = _Builder(filename, text)
    try:
        children: list[Any] = list(tree.children)
        statements = tuple(builder.statement(child) for child in children)
    except _BuildError as exc:
        raise ParseError([Diagnostic.at("error", exc.loc, exc.message, text)]) from None
    except RecursionError:
        loc = ast.Loc(filename, 1, 1)
        raise ParseError(
            [Diagnostic.at("error", loc, "expression nested too deeply", text)]
        ) from None
    return ast.Module(filename, text, statements)


# -- parse tree -> AST -------------------------------------------------------------------------


class _BuildError(ToolwallError):
    def __init__(self, loc: ast.Loc, message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


_ESCAPES = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "r": "\r", "{": "{", "}": "}"}


class _Builder:
    """Builds AST nodes from Lark trees. `line_shift`/`col_shift` place the nodes of an
    expression parsed out of a `because` string at their spot in the file."""

    def __init__(self, file: str, text: str, line_shift: int = 0, col_shift: int = 0) -> None:
        self.file = file
        self.text = text
        self.line_shift = line_shift
        self.col_shift = col_shift

    # locations

    def _loc(self, line: int, col: int, end_line: int, end_col: int) -> ast.Loc:
        if line == 1:
            col += self.col_shift
        if end_line == 1:
            end_col += self.col_shift
        return ast.Loc(self.file, line + self.line_shift, col, end_line + self.line_shift, end_col)

    def loc(self, node: Tree[Any] | Token) -> ast.Loc:
        """From the first token of `node` to the end of its last token."""
        if isinstance(node, Token):
            first = last = node
        else:
            found_first, found_last = _edge(node, 0), _edge(node, -1)
            if found_first is None or found_last is None:
                return self._loc(1, 1, 0, 0)
            first, last = found_first, found_last
        if self.line_shift or self.col_shift:
            return self._loc(
                first.line or 1, first.column or 1, last.end_line or 0, last.end_column or 0
            )
        return ast.Loc(
            self.file, first.line or 1, first.column or 1, last.end_line or 0, last.end_column or 0
        )

    # statements

    def statement(self, tree: Tree[Any]) -> ast.Statement:
        kind = tree.data
        if kind == "let_stmt":
            _, name, value = tree.children
            return ast.Let(str(name), self.expr(value), self.loc(tree), self.loc(name))
        if kind == "taint_stmt":
            return ast.Taint(self.patterns(tree.children[1]), self.loc(tree))
        if kind == "assert_stmt":
            _, actions_tree, patterns, cond = tree.children
            actions = tuple(str(a.children[0]) for a in actions_tree.children)
            loc = self.loc(tree)
            source = _source_span(self.text, tree)
            return ast.Assert(actions, self.patterns(patterns), self.expr(cond), source, loc)
        return self.rule(tree)

    def rule(self, tree: Tree[Any]) -> ast.Rule:
        name_tok = tree.children[1]
        patterns = self.patterns(tree.children[2])
        when = unless = None
        because = None
        action = "block"
        action_loc = self.loc(tree)
        rewrites: tuple[ast.RewriteItem, ...] = ()
        for child in tree.children[3:]:
            kind = child.data
            if kind == "when_clause":
                when = self.expr(child.children[0])
            elif kind == "unless_clause":
                unless = self.expr(child.children[0])
            elif kind == "because_clause":
                because = self.template(_token(child.children[0]))
            else:
                action = str(kind).removesuffix("_action")
                action_loc = self.loc(child)
                rewrites = tuple(
                    self.rewrite_item(item) for item in child.children if isinstance(item, Tree)
                )
        return ast.Rule(
            str(name_tok),
            patterns,
            when,
            unless,
            action,
            rewrites,
            because,
            self.loc(tree),
            self.loc(name_tok),
            action_loc,
        )

    def patterns(self, tree: Tree[Any]) -> tuple[ast.Pattern, ...]:
        return tuple(ast.Pattern(str(tok), self.loc(tok)) for tok in tree.children)

    def rewrite_item(self, tree: Tree[Any]) -> ast.RewriteItem:
        target = self.ref(tree.children[0] if tree.data == "set_item" else tree.children[-1])
        if tree.data == "set_item":
            return ast.SetItem(target, self.expr(tree.children[1]), self.loc(tree))
        return ast.DropItem(target, self.loc(tree))

    def template(self, tok: Token) -> ast.Template:
        """A `because` string: text with `{expr}` parts; `{{` and `}}` are literal braces."""
        raw = str(tok)[1:-1]
        line = tok.line or 1
        base_col = (tok.column or 1) + 1  # column of the first character inside the quotes
        parts: list[str | ast.Expr] = []
        buf: list[str] = []
        i = 0
        while i < len(raw):
            ch = raw[i]
            if ch == "\\":
                buf.append(self._escape(raw, i, line, base_col))
                i += 2
            elif ch == "{" and raw.startswith("{{", i):
                buf.append("{")
                i += 2
            elif ch == "}" and raw.startswith("}}", i):
                buf.append("}")
                i += 2
            elif ch == "{":
                end = _closing_brace(raw, i + 1)
                if end < 0:
                    raise _BuildError(
                        self._loc(line, base_col + i, line, base_col + i + 1),
                        "`{` in a because string opens an expression that is never closed "
                        "(write `{{` for a literal brace)",
                    )
                if buf:
                    parts.append("".join(buf))
                    buf = []
                parts.append(self._interpolated(raw[i + 1 : end], line, base_col + i + 1))
                i = end + 1
            elif ch == "}":
                raise _BuildError(
                    self._loc(line, base_col + i, line, base_col + i + 1),
                    "`}` without `{` in a because string (write `}}` for a literal brace)",
                )
            else:
                buf.append(ch)
                i += 1
        if buf:
            parts.append("".join(buf))
        text = "".join(p if isinstance(p, str) else "{...}" for p in parts)
        return ast.Template(tuple(parts), text, self.loc(tok))

    def _interpolated(self, source: str, line: int, col: int) -> ast.Expr:
        # Inside a string, quotes are escaped: `{args[\"odd-key\"]}`.
        unescaped = source.replace('\\"', '"').replace("\\\\", "\\")
        loc = self._loc(line, col, line, col + max(1, len(source)))
        if not unescaped.strip():
            raise _BuildError(loc, "empty `{}` in a because string")
        try:
            tree = _parse_expr(unescaped)
        except UnexpectedInput as exc:
            raise _BuildError(
                loc, f"the expression in `{{{source}}}` is not valid: " + expected(exc)
            ) from None
        nested = _Builder(self.file, self.text, line - 1 + self.line_shift, col - 1)
        return nested.expr(tree)

    def _escape(self, raw: str, i: int, line: int, base_col: int) -> str:
        nxt = raw[i + 1] if i + 1 < len(raw) else ""
        if nxt not in _ESCAPES:
            raise _BuildError(
                self._loc(line, base_col + i, line, base_col + i + 2),
                f'unknown escape `\\{nxt}` in a string (known: \\\\ \\" \\n \\t \\r \\{{ \\}})',
            )
        return _ESCAPES[nxt]

    def string(self, tok: Token) -> str:
        raw = str(tok)[1:-1]
        if "\\" not in raw:
            return raw
        out: list[str] = []
        i = 0
        while i < len(raw):
            if raw[i] == "\\":
                out.append(self._escape(raw, i, tok.line or 1, (tok.column or 1) + 1))
                i += 2
            else:
                out.append(raw[i])
                i += 1
        return "".join(out)

    # expressions

    def expr(self, node: Tree[Any] | Token) -> ast.Expr:
        if isinstance(node, Token):
            raise _BuildError(self.loc(node), f"unexpected {node!s}")
        method = _EXPR_BUILDERS.get(node.data)
        if method is None:
            raise _BuildError(self.loc(node), f"unsupported construct {node.data}")
        return method(self, node)

    def _x_or_op(self, t: Tree[Any]) -> ast.Expr:
        return ast.BoolOp("or", self.expr(t.children[0]), self.expr(t.children[1]), self.loc(t))

    def _x_and_op(self, t: Tree[Any]) -> ast.Expr:
        return ast.BoolOp("and", self.expr(t.children[0]), self.expr(t.children[1]), self.loc(t))

    def _x_not_op(self, t: Tree[Any]) -> ast.Expr:
        return ast.Unary("not", self.expr(t.children[-1]), self.loc(t))

    def _x_neg(self, t: Tree[Any]) -> ast.Expr:
        return ast.Unary("-", self.expr(t.children[-1]), self.loc(t))

    def _x_quantifier(self, t: Tree[Any]) -> ast.Expr:
        kind, var, collection, body = t.children
        return ast.Quantifier(
            str(kind.children[0]),
            str(var),
            self.expr(collection),
            self.expr(body),
            self.loc(t),
            self.loc(var),
        )

    def _x_compare(self, t: Tree[Any]) -> ast.Expr:
        left, op, right = t.children
        return ast.Compare(
            str(op.children[0]),
            self.expr(left),
            self.expr(right),
            self.loc(t),
            self.loc(op),
        )

    def _x_not_in(self, t: Tree[Any]) -> ast.Expr:
        left, not_tok, right = t.children
        start = self.loc(not_tok)
        # The operator spans `not in`; point at it as a whole when it is on one line.
        op_loc = ast.Loc(start.file, start.line, start.col, start.line, start.col + 6)
        return ast.Compare("not in", self.expr(left), self.expr(right), self.loc(t), op_loc)

    def _x_binary(self, t: Tree[Any]) -> ast.Expr:
        left, op, right = t.children
        return ast.Binary(
            str(op.children[0]), self.expr(left), self.expr(right), self.loc(t), self.loc(op)
        )

    def _x_paren(self, t: Tree[Any]) -> ast.Expr:
        return self.expr(t.children[1])

    def _x_call(self, t: Tree[Any]) -> ast.Expr:
        name, *args = t.children
        items = tuple(self.expr(a) for a in args if isinstance(a, Tree))
        return ast.Call(str(name), items, self.loc(t))

    def _x_ref(self, t: Tree[Any]) -> ast.Expr:
        return self.ref(t)

    def ref(self, t: Tree[Any]) -> ast.Ref:
        root, *steps = t.children
        out: list[ast.Step] = []
        for step in steps:
            if step.data == "key_step":
                out.append(ast.Key(str(step.children[0]), self.loc(step)))
                continue
            index = self.expr(step.children[0])
            if isinstance(index, ast.Literal) and isinstance(index.value, str):
                out.append(ast.Key(index.value, self.loc(step)))
            else:
                out.append(ast.Index(index, self.loc(step)))
        return ast.Ref(str(root), tuple(out), self.loc(t))

    def _x_string(self, t: Tree[Any]) -> ast.Expr:
        return ast.Literal(self.string(_token(t.children[0])), self.loc(t))

    def _x_integer(self, t: Tree[Any]) -> ast.Expr:
        return ast.Literal(int(str(t.children[0])), self.loc(t))

    def _x_float(self, t: Tree[Any]) -> ast.Expr:
        value = float(str(t.children[0]))
        if value in (float("inf"), float("-inf")):
            raise _BuildError(self.loc(t), "number too large")
        return ast.Literal(value, self.loc(t))

    def _x_true(self, t: Tree[Any]) -> ast.Expr:
        return ast.Literal(True, self.loc(t))

    def _x_false(self, t: Tree[Any]) -> ast.Expr:
        return ast.Literal(False, self.loc(t))

    def _x_null(self, t: Tree[Any]) -> ast.Expr:
        return ast.Literal(None, self.loc(t))

    def _x_regex(self, t: Tree[Any]) -> ast.Expr:
        raw = str(t.children[0])
        end = raw.rfind("/")
        # `\/` inside a regex literal is a slash; every other escape belongs to RE2.
        source = raw[1:end].replace("\\/", "/")
        return ast.Regex(source, raw[end + 1 :], self.loc(t))

    def _x_list(self, t: Tree[Any]) -> ast.Expr:
        items = tuple(self.expr(c) for c in t.children if isinstance(c, Tree))
        return ast.ListExpr(items, self.loc(t))


def _closing_brace(raw: str, start: int) -> int:
    """Where the `{expr}` opened before `start` ends: the first `}` outside a string literal
    (inside the because string, the expression's quotes are escaped: `{args[\"a}b\"]}`)."""
    in_string = False
    j = start
    while j < len(raw):
        if raw.startswith('\\"', j):
            in_string = not in_string
            j += 2
        elif raw[j] == "\\":
            j += 2
        elif raw[j] == "}" and not in_string:
            return j
        else:
            j += 1
    return -1


def _edge(node: Tree[Any] | Token, side: int) -> Token | None:
    """The first (side 0) or last (side -1) token of a subtree: where it starts or ends."""
    # The parser runs with maybe_placeholders=False: children are never None.
    while isinstance(node, Tree):
        children = node.children
        if not children:
            return None
        node = children[side]
    return node


def _token(node: Any) -> Token:
    if not isinstance(node, Token):
        raise TypeError("expected a token")
    return node


_EXPR_BUILDERS: dict[str, Callable[[_Builder, Tree[Any]], ast.Expr]] = {
    name.removeprefix("_x_"): getattr(_Builder, name)
    for name in dir(_Builder)
    if name.startswith("_x_")
}


def _source_span(text: str, tree: Tree[Any]) -> str:
    first, last = _edge(tree, 0), _edge(tree, -1)
    start = first.start_pos if first is not None else None
    end = last.end_pos if last is not None else None
    if start is None or end is None:
        return ""
    return " ".join(text[start:end].split())
