"""One rule as the compiler leaves it: patterns, conditions, rewrites and message as closures,
and what evaluation builds from them (trace entries, reasons, messages)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from toolwall.model import READS_SESSION, Action, Reason, ReasonKind, SessionNeeds, TraceEntry
from toolwall.patterns import compile_pattern, is_glob
from toolwall.policy.env import Env, Fn
from toolwall.policy.errors import RuleEvalError
from toolwall.policy.semantics import MISSING, step

DEFAULT_MESSAGE = {
    "block": "blocked",
    "escalate": "needs approval",
    "rewrite": "arguments rewritten",
}


def render_value(value: Any) -> str:
    """How a value appears in a `because` message: strings as they are, the rest as JSON."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):
        return str(value)


@dataclass(frozen=True, slots=True)
class CompiledRewrite:
    """`args.PATH = EXPR` (`value` its closure) or `drop args.PATH` (`value` None)."""

    steps: tuple[str | int, ...]
    value: Fn | None
    dotted: str

    def apply(self, doc: Any, value: Any) -> None:
        """Set (or drop) the target in `doc`; the parent must exist (else `RuleEvalError`)."""
        parent = self._container(doc)
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

    def _container(self, doc: Any) -> Any:
        value = doc
        for key in self.steps[:-1]:
            value = step(value, key, lambda: self.dotted)
            if value is MISSING:
                raise RuleEvalError(f"cannot rewrite {self.dotted}: its parent does not exist")
        return value


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
        "needs",
        "order",
        "patterns",
        "rewrites",
        "unless",
        "when",
    )

    def __init__(
        self,
        name: str,
        location: str,
        order: int,
        action: Action,
        patterns: tuple[str, ...],
        when: Fn | None,
        unless: Fn | None,
        rewrites: tuple[CompiledRewrite, ...],
        because: tuple[str | Fn, ...] | None,
        needs: SessionNeeds = READS_SESSION,
    ) -> None:
        self.name = name
        self.location = location
        self.needs = needs  # what it reads of the past, for the state's round trip
        self.order = order
        self.action = action
        self.patterns = patterns
        self.names = frozenset(p for p in patterns if not is_glob(p))
        self.globs = tuple(p for p in patterns if is_glob(p))
        self.when = when
        self.unless = unless
        self.rewrites = rewrites
        self.because = because
        self._traces: dict[tuple[Any, Any, bool], TraceEntry] = {}
        self._reason: Reason | None = None
        if because is None or all(isinstance(p, str) for p in because):
            self._reason = Reason(
                ReasonKind.RULE,
                "".join(p for p in because or () if isinstance(p, str))
                or DEFAULT_MESSAGE[action.value],
                rule=name,
                location=location,
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
            return DEFAULT_MESSAGE[self.action.value]
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
