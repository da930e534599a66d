"""Running the rules that cover a call, and combining their outcomes into one verdict.

Every condition is evaluated on the original arguments, in (file, line) order; the strongest
action wins (block > escalate > rewrite > allow); rewrites apply afterwards, in (file, line)
order, to a deep copy, unless `block` wins. A rule that cannot be evaluated fails closed: a
`block` or `escalate` rule fires, a `rewrite` rule blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from toolwall.model import Action, Caller, Reason, ReasonKind, RuleVerdict, SessionView, TraceEntry
from toolwall.policy.compiled_rule import CompiledRule
from toolwall.policy.env import Env
from toolwall.policy.errors import RuleEvalError
from toolwall.policy.semantics import require_bool


def deep_copy(value: Any) -> Any:
    """A copy of JSON data (dicts, lists, scalars): faster than `copy.deepcopy` for it."""
    if type(value) is dict:
        return {k: deep_copy(v) for k, v in value.items()}
    if type(value) is list:
        return [deep_copy(v) for v in value]
    return value


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
                fires = require_bool(when_value, "`when`")
            # `unless` only matters when `when` holds, so it is only evaluated then: an error in
            # an `unless` that cannot change the outcome must not make the rule fire.
            if fires and rule.unless is not None:
                unless_value = rule.unless(env)
                fires = not require_bool(unless_value, "`unless`")
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
