"""Rich renderings of decisions, shared by the commands (`eval --explain`, `demo`, `test`)."""

from __future__ import annotations

import json
from typing import Any

from rich.markup import escape
from rich.text import Text
from rich.tree import Tree

from toolwall.model import Action, Decision, TraceEntry

ACTION_STYLE = {
    Action.ALLOW: "bold green",
    Action.REWRITE: "bold cyan",
    Action.ESCALATE: "bold yellow",
    Action.BLOCK: "bold red",
}


def action_text(action: Action | str, label: str | None = None) -> Text:
    act = Action(action)
    return Text(label or act.value, style=ACTION_STYLE[act])


def compact(value: Any, limit: int = 120) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def decision_tree(decision: Decision) -> Tree:
    """The explain tree: each pipeline stage, each rule considered, the reasons."""
    head = Text.assemble(
        action_text(decision.action, decision.action.value.upper()),
        " ",
        (decision.tool, "bold"),
        (f"  decision {decision.id}  {decision.latency_us:.0f} µs", "dim"),
    )
    tree = Tree(head)
    tree.add(
        Text(f"caller {decision.caller or 'anonymous'}  session {decision.session or '-'}", "dim")
    )
    stages = tree.add("pipeline")
    rules = None
    for entry in decision.trace:
        if entry.stage == "rule":
            if rules is None:
                rules = tree.add("rules")
            rules.add(_rule_node(entry))
        else:
            style = "red" if entry.outcome in ("block", "denied", "refused") else "green"
            detail = f"  {escape(entry.detail)}" if entry.detail else ""
            stages.add(f"{entry.stage}: [{style}]{escape(entry.outcome)}[/]{detail}")
    if decision.reasons:
        reasons = tree.add("reasons")
        for reason in decision.reasons:
            where = f"  [dim]{escape(reason.location)}[/]" if reason.location else ""
            # `[rule]` would be read as rich markup: escape the kind too.
            reasons.add(f"{escape(f'[{reason.kind.value}]')} {escape(str(reason))}{where}")
    if decision.action is Action.REWRITE:
        change = tree.add("arguments")
        change.add(Text("- " + compact(decision.original_args, 400), "red"))
        change.add(Text("+ " + compact(decision.args, 400), "green"))
    return tree


def _rule_node(entry: TraceEntry) -> Text:
    text = Text()
    if entry.fired:
        text.append("● ", ACTION_STYLE.get(entry.action or Action.BLOCK, "bold"))
    else:
        text.append("○ ", "dim")
    text.append(entry.rule or "?", "bold")
    if entry.location:
        text.append(f"  {entry.location}", "dim")
    if entry.outcome == "error" and entry.action is not None:
        # The condition could not be evaluated: the rule failed closed.
        text.append(f"  failed closed -> {entry.action.value}", ACTION_STYLE[entry.action])
    elif entry.fired and entry.action is not None:
        text.append(f"  fired -> {entry.action.value}", ACTION_STYLE[entry.action])
    elif not entry.fired:
        text.append("  not fired", "dim")
    if entry.when is not None:
        text.append(f"  when={compact(entry.when, 60)}")
    if entry.unless is not None:
        text.append(f"  unless={compact(entry.unless, 60)}")
    if entry.error:
        text.append(f"  error: {entry.error}", "red")
    return text
