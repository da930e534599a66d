"""A compiled policy: the rules stage the pipeline calls (`RuleEngine`), and the assertions.

Rules are indexed by tool name: a dict from exact names to rules, plus the glob rules. The rules
covering one tool are resolved once per tool name and cached, so a decision costs the rules of
the called tool, whatever the size of the policy.
"""

from __future__ import annotations

import threading
from typing import Any

from toolwall.model import (
    ALLOW_VERDICT,
    READS_NOTHING,
    Action,
    Caller,
    RuleVerdict,
    SessionNeeds,
    SessionView,
)
from toolwall.patterns import compile_pattern, is_glob
from toolwall.policy.compiled_rule import CompiledRule
from toolwall.policy.diagnostics import Diagnostic
from toolwall.policy.env import Env, Fn
from toolwall.policy.evaluate import evaluate_rules
from toolwall.policy.semantics import require_bool

# Tool names seen by one policy are bounded in practice (unknown tools are blocked before the
# rules stage); the cap keeps a policy with `unknown_tool = "allow"` from growing without end.
_CACHE_LIMIT = 4096


class _Index:
    """Exact names in a dict, globs resolved once per tool name and cached."""

    def __init__(self, items: list[tuple[tuple[str, ...], Any]]) -> None:
        self._exact: dict[str, list[tuple[int, Any]]] = {}
        self._globs: list[tuple[int, tuple[str, ...], Any]] = []
        for order, (patterns, item) in enumerate(items):
            globs = tuple(p for p in patterns if is_glob(p))
            for name in {p for p in patterns if not is_glob(p)}:
                self._exact.setdefault(name, []).append((order, item))
            if globs:
                self._globs.append((order, globs, item))
        self._cache: dict[str, tuple[Any, ...]] = {}
        self._lock = threading.Lock()

    def get(self, tool: str) -> tuple[Any, ...]:
        found = self._cache.get(tool)
        if found is not None:
            return found
        hits = {order: item for order, item in self._exact.get(tool, ())}
        for order, globs, item in self._globs:
            if order not in hits and any(compile_pattern(g)(tool) for g in globs):
                hits[order] = item
        result = tuple(hits[o] for o in sorted(hits))
        with self._lock:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[tool] = result
        return result


def merged_needs(needs: list[SessionNeeds]) -> SessionNeeds:
    """Everything any of the rules reads."""
    reading = [n for n in needs if n.reads]
    if not reading:
        return READS_NOTHING
    if len(reading) == 1:
        return reading[0]
    return SessionNeeds(
        True,
        frozenset().union(*(n.windows for n in reading)),
        frozenset().union(*(n.caller_windows for n in reading)),
    )


class Assertion:
    """`assert never ACTION[, ACTION] PATTERN[, PATTERN] when EXPR`: a property of the policy.

    Checked by `toolwall fuzz` against real decisions. `violated` is True when the decision's
    action is one of the listed actions and EXPR is true on the original arguments; an
    evaluation error (missing field, type error) counts as a violation, like a rule fails closed.
    """

    __slots__ = ("_condition", "_slots", "actions", "location", "name", "patterns", "source")

    def __init__(
        self,
        name: str,
        location: str,
        source: str,
        actions: frozenset[Action],
        patterns: tuple[str, ...],
        condition: Fn,
        slots: int,
    ) -> None:
        self.name = name
        self.location = location
        self.source = source
        self.actions = actions
        self.patterns = patterns
        self._condition = condition
        self._slots = slots

    def covers(self, tool: str) -> bool:
        return any(compile_pattern(p)(tool) for p in self.patterns)

    def violated(
        self,
        tool: str,
        args: dict[str, Any],
        caller: Caller,
        session: SessionView,
        action: Action,
    ) -> bool:
        if action not in self.actions or not self.covers(tool):
            return False
        try:
            env = Env(args, caller, session, tool, self._slots)
            return require_bool(self._condition(env), "`when`")
        except Exception:  # a rule error (RuleEvalError) or anything else: fail closed, as rules do
            return True

    def __repr__(self) -> str:
        return f"<Assertion {self.name}: {self.source}>"


class CompiledPolicy:
    """The rules stage compiled from `.tw` files (a `toolwall.pipeline.rules.RuleEngine`)."""

    def __init__(
        self,
        rules: list[CompiledRule],
        taint_patterns: list[str],
        assertions: list[Assertion],
        lets: dict[str, Any],
        warnings: list[Diagnostic],
        slots: int,
        files: list[str],
    ) -> None:
        self.rules = rules
        self.assertions = assertions
        self.lets = lets
        self.warnings = warnings
        self.files = files
        self.taint_patterns = tuple(taint_patterns)
        self._slots = slots
        self._index = _Index([(r.patterns, r) for r in rules])
        self._taints = _Index([((p,), True) for p in taint_patterns])
        self._needs: dict[str, SessionNeeds] = {}

    def evaluate(
        self, tool: str, args: dict[str, Any], caller: Caller, session: SessionView
    ) -> RuleVerdict:
        rules = self._index.get(tool)
        if not rules:
            return ALLOW_VERDICT
        return evaluate_rules(rules, tool, args, caller, session, self._slots)

    def taints(self, tool: str) -> bool:
        return bool(self._taints.get(tool))

    def rules_for(self, tool: str) -> list[str]:
        return [r.name for r in self._index.get(tool)]

    def session_needs(self, tool: str) -> SessionNeeds:
        """What the rules covering `tool` read of the past, so that the state fetches it with
        the turn (one round trip to a remote backend); cached per tool name."""
        needs = self._needs.get(tool)
        if needs is None:
            needs = merged_needs([r.needs for r in self._index.get(tool)])
            if len(self._needs) >= _CACHE_LIMIT:
                self._needs.clear()
            self._needs[tool] = needs
        return needs

    def __len__(self) -> int:
        return len(self.rules)

    def __repr__(self) -> str:
        return (
            f"<CompiledPolicy {len(self.rules)} rules, {len(self.assertions)} assertions, "
            f"{len(self.files)} files>"
        )
