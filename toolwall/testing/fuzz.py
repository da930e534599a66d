"""The fuzzer behind `toolwall fuzz`: drive a firewall with generated calls and check properties.

For each tool, Hypothesis generates examples (a call, a caller, a session history) from the
strategies in `toolwall.testing.strategies`, aimed at the literals the policy mentions, and
looks for one that breaks a property:

- `decide` never raises and never ends in an internal error;
- decisions are deterministic: the same history and call on a fresh session decide the same;
- a call that runs (allow, rewrite) is granted to the caller, and every call that runs or waits
  for approval carries arguments that satisfy the tool's schema;
- every assertion of the policy (`assert never ACTION ... when EXPR`) holds.

The first example found is shrunk by Hypothesis to a minimal one and returned as a
`FuzzFailure`, which renders as a ready-to-paste policy test case.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from random import Random
from typing import Any, Protocol

import yaml
from hypothesis import HealthCheck, Phase, Verbosity, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample, Unsatisfiable

from toolwall.firewall import Firewall
from toolwall.model import Action, Caller, Decision, ReasonKind, SessionView, ToolCall
from toolwall.patterns import covered, matches
from toolwall.testing import DEFAULT_FUZZ_EXAMPLES
from toolwall.testing import strategies as tws
from toolwall.testing.cases import HistoryStep
from toolwall.testing.hints import Hints, PolicyHints

DEFAULT_EXAMPLES = DEFAULT_FUZZ_EXAMPLES
RUNS = (Action.ALLOW, Action.REWRITE)


class AssertionLike(Protocol):
    """What the fuzzer needs of a policy assertion (`toolwall.policy.Assertion`)."""

    name: str
    location: str
    source: str
    actions: frozenset[Action]

    def covers(self, tool: str) -> bool: ...

    def violated(
        self,
        tool: str,
        args: dict[str, Any],
        caller: Caller,
        session: SessionView,
        action: Action,
    ) -> bool: ...


@dataclass(frozen=True, slots=True)
class FuzzExample:
    """One generated input: who calls, what the session did before, and the call."""

    call: ToolCall
    caller: Caller
    history: tuple[HistoryStep, ...] = ()


@dataclass(frozen=True, slots=True)
class Violation:
    """A broken property. `property` is a short name; `message` says what happened."""

    property: str
    message: str
    assertion: AssertionLike | None = None


@dataclass(slots=True)
class Outcome:
    """What the firewall did with one example, and the first property it broke (if any)."""

    violation: Violation | None
    decision: Decision | None = None
    history: list[Decision] = field(default_factory=list)


@dataclass(slots=True)
class FuzzFailure:
    """A shrunk counterexample for one tool."""

    tool: str
    example: FuzzExample
    violation: Violation
    decision: Decision | None
    history: list[Decision]
    seed: int

    def test_case(self) -> dict[str, Any]:
        """The counterexample as a policy test case (a dict in the YAML format)."""
        return failure_case(self)

    def yaml(self) -> str:
        """The counterexample as a ready-to-paste YAML policy test case."""
        header = (
            f"# found by `toolwall fuzz --seed {self.seed}` ({self.violation.property}): "
            f"{_one_line(self.violation.message)}\n"
        )
        body = yaml.safe_dump([self.test_case()], sort_keys=False, allow_unicode=False, width=100)
        return header + body


@dataclass(slots=True)
class ToolReport:
    """The fuzzing of one tool: how many examples ran and what was found."""

    tool: str
    examples: int = 0
    valid: int = 0
    """Examples whose arguments satisfied the schema (so the rules saw them)."""
    failure: FuzzFailure | None = None
    skipped: str | None = None


class Fuzzer:
    """Fuzzes one firewall. `hints` aims generated values at the policy's literals."""

    def __init__(
        self,
        firewall: Firewall,
        *,
        hints: PolicyHints | None = None,
        assertions: Sequence[AssertionLike] | None = None,
        examples: int = DEFAULT_EXAMPLES,
        seed: int = 0,
        max_history: int = 3,
    ) -> None:
        self.firewall = firewall
        self.hints = hints or PolicyHints()
        self.assertions: list[AssertionLike] = list(
            assertions if assertions is not None else getattr(firewall.rules, "assertions", [])
        )
        self.examples = examples
        self.seed = seed
        self.max_history = max_history
        self.tools = firewall.schemas.names()

    # -- generating -------------------------------------------------------------------------------

    def examples_for(self, tool: str) -> st.SearchStrategy[FuzzExample]:
        """Examples for `tool`: valid, near-valid and raw-JSON calls, callers, histories."""
        schema = self.firewall.schemas.get(tool)
        if schema is None:
            raise KeyError(f"no schema for {tool}")
        hints = self.hints.for_tool(tool)
        loose = hints | self.hints.everything
        # The first strategy is what examples shrink toward: a plain valid call.
        calls = st.one_of(
            tws.tool_calls(schema, tool, hints=hints),
            tws.tool_calls(schema, tool, hints=hints, aimed=True),
            tws.near_valid_calls(schema, tool, hints=loose),
            tws.raw_json_arguments(schema, hints=hints).map(
                lambda text: ToolCall(tool=tool, args=text)
            ),
        )
        history_tools = self._history_tools(tool)
        histories = (
            tws.session_histories(
                self.firewall.schemas,
                tools=history_tools,
                taint_sources=self.hints.taint_sources,
                max_steps=self.max_history,
                hints=Hints(numbers=self.hints.everything.numbers),
            )
            if history_tools and self.max_history
            else st.just([])
        )
        callers = tws.callers(self.tools, granted=tool, hints=self.hints.everything)
        return st.builds(FuzzExample, call=calls, caller=callers, history=histories.map(tuple))

    def _history_tools(self, tool: str) -> list[str]:
        """Tools worth calling earlier in a session: taint sources, counted tools, this one."""
        patterns = [*self.hints.taint_sources, *self.hints.counted, tool]
        return [t for t in self.tools if any(matches(p, t) for p in patterns)]

    # -- checking ---------------------------------------------------------------------------------

    def check(self, example: FuzzExample) -> Outcome:
        """Decide the example twice, on fresh sessions, and check every property."""
        first_session = f"toolwall-fuzz:{uuid.uuid4().hex}"
        second_session = f"toolwall-fuzz:{uuid.uuid4().hex}"
        outcome = Outcome(violation=None)
        try:
            outcome.history = self._replay(example, first_session)
            before = copy.deepcopy(self.firewall.session(first_session))
            decision = self.firewall.decide(
                example.call, caller=example.caller, session=first_session
            )
            outcome.decision = decision
            again_history = self._replay(example, second_session)
            again = self.firewall.decide(
                example.call, caller=example.caller, session=second_session
            )
        except Exception as exc:  # the property under test: decide never raises
            outcome.violation = Violation("raises", f"decide raised {type(exc).__name__}: {exc}")
            return outcome
        finally:
            self.firewall.state.sessions.forget(first_session)
            self.firewall.state.sessions.forget(second_session)
        outcome.violation = (
            _internal_error([*outcome.history, decision])
            or _nondeterministic([*outcome.history, decision], [*again_history, again])
            or self._runs_only_what_it_may(example, decision)
            or self._assertions_hold(example, decision, before)
        )
        return outcome

    def _replay(self, example: FuzzExample, session: str) -> list[Decision]:
        decisions = []
        for step in example.history:
            for _ in range(step.repeat):
                decision = self.firewall.decide(step.call, caller=example.caller, session=session)
                decisions.append(decision)
                if step.has_result and decision.action.runs:
                    self.firewall.record_result(
                        {"tool": decision.tool, "args": decision.args or {}},
                        step.result,
                        session=session,
                    )
        return decisions

    def _runs_only_what_it_may(self, example: FuzzExample, decision: Decision) -> Violation | None:
        tool = decision.tool
        if decision.action.runs and not covered(example.caller.tools, tool):
            return Violation(
                "not granted",
                f"{decision.action.value} of {tool}, which the caller's grants "
                f"{list(example.caller.tools)} do not cover",
            )
        if decision.action is Action.BLOCK:
            return None
        schema = self.firewall.schemas.get(tool)
        if schema is None:
            if self.firewall.unknown_tool == "allow":
                return None
            return Violation(
                "unknown tool", f"{decision.action.value} of {tool}, which has no schema"
            )
        violation = schema.violation(decision.args)
        if violation is not None:
            return Violation(
                "schema",
                f"{decision.action.value} with arguments that do not satisfy the schema "
                f"of {tool}: {violation}",
            )
        return None

    def _assertions_hold(
        self, example: FuzzExample, decision: Decision, before: SessionView
    ) -> Violation | None:
        if not isinstance(decision.original_args, dict):
            return None
        for assertion in self.assertions:
            if assertion.violated(
                decision.tool, decision.original_args, example.caller, before, decision.action
            ):
                return Violation(
                    "assertion",
                    f"{decision.action.value} violates {assertion.location}: {assertion.source}",
                    assertion,
                )
        return None

    # -- searching --------------------------------------------------------------------------------

    def fuzz_tool(self, tool: str, on_example: Callable[[int], None] | None = None) -> ToolReport:
        """Search `tool` for a counterexample within the example budget; shrink what is found."""
        report = ToolReport(tool)
        schema = self.firewall.schemas.get(tool)

        def broken(example: FuzzExample) -> bool:
            report.examples += 1
            if on_example is not None:
                on_example(report.examples)
            outcome = self.check(example)
            args = outcome.decision.original_args if outcome.decision else None
            if schema is not None and isinstance(args, dict) and schema.is_valid(args):
                report.valid += 1
            return outcome.violation is not None

        try:
            found = find(
                self.examples_for(tool),
                broken,
                settings=settings(
                    max_examples=self.examples,
                    database=None,
                    deadline=None,
                    verbosity=Verbosity.quiet,
                    phases=[Phase.generate, Phase.shrink],
                    suppress_health_check=list(HealthCheck),
                ),
                random=Random(f"{self.seed}:{tool}"),
            )
        except NoSuchExample:
            if report.valid == 0:
                # Only malformed calls were tried: the rules were never exercised.
                report.skipped = "could not generate schema-valid arguments for this tool"
            return report
        except Unsatisfiable as exc:
            report.skipped = f"could not generate examples: {exc}"
            return report
        outcome = self.check(found)
        if outcome.violation is None:  # flaky: the property broke once but not on replay
            outcome.violation = Violation(
                "nondeterministic", "the shrunk example broke a property once but not again"
            )
        report.failure = FuzzFailure(
            tool=tool,
            example=found,
            violation=outcome.violation,
            decision=outcome.decision,
            history=outcome.history,
            seed=self.seed,
        )
        return report


def _internal_error(decisions: list[Decision]) -> Violation | None:
    for decision in decisions:
        for reason in decision.reasons:
            if reason.kind is ReasonKind.INTERNAL:
                return Violation("internal error", f"a call to {decision.tool}: {reason.message}")
    return None


def _nondeterministic(first: list[Decision], second: list[Decision]) -> Violation | None:
    for a, b in zip(first, second, strict=True):
        left = (a.action, a.args, a.reasons, a.rules)
        right = (b.action, b.args, b.reasons, b.rules)
        if left != right:
            return Violation(
                "nondeterministic",
                f"{a.tool} was decided {a.action.value} ({a.reason or 'no reason'}) and then "
                f"{b.action.value} ({b.reason or 'no reason'}) on the same input",
            )
    return None


# -- counterexamples as policy test cases ---------------------------------------------------------


def failure_case(failure: FuzzFailure) -> dict[str, Any]:
    example = failure.example
    violation = failure.violation
    name = f"fuzz: {failure.tool} {violation.property}"
    if violation.assertion is not None:
        name += f" ({violation.assertion.location.rsplit('/', 1)[-1]})"
    case: dict[str, Any] = {"name": name, "caller": caller_mapping(example.caller)}
    history = history_mapping(example.history, failure.history)
    if history:
        case["history"] = history
    case["call"] = {"tool": example.call.tool, "args": example.call.args}
    case["expect"] = {"action": _expected_actions(failure)}
    return case


def caller_mapping(caller: Caller) -> dict[str, Any]:
    out: dict[str, Any] = {"sub": caller.sub, "tools": list(caller.tools)}
    if caller.groups:
        out["groups"] = list(caller.groups)
    if caller.claims:
        out["claims"] = dict(caller.claims)
    if not caller.authenticated:
        out["authenticated"] = False
    return out


def history_mapping(
    steps: Sequence[HistoryStep], decisions: Sequence[Decision]
) -> list[dict[str, Any]]:
    """History steps as YAML mappings; a step that did not run says so with `expect`."""
    out: list[dict[str, Any]] = []
    index = 0
    for step in steps:
        actions = {d.action.value for d in decisions[index : index + step.repeat]}
        index += step.repeat
        item: dict[str, Any] = {"tool": step.call.tool, "args": step.call.args}
        if step.repeat != 1:
            item["repeat"] = step.repeat
        if step.has_result:
            item["result"] = step.result
        if actions and not actions <= {a.value for a in RUNS}:
            item["expect"] = sorted(actions)
        out.append(item)
    return out


def _expected_actions(failure: FuzzFailure) -> str | list[str]:
    """What the policy should have decided, as far as the broken property tells."""
    violation = failure.violation
    if violation.assertion is not None:
        allowed = [a.value for a in Action if a not in violation.assertion.actions]
        return allowed if len(allowed) != 1 else allowed[0]
    if violation.property in ("not granted", "schema", "unknown tool", "internal error"):
        return Action.BLOCK.value
    if failure.decision is not None:
        return failure.decision.action.value
    return Action.BLOCK.value


def _one_line(text: str) -> str:
    return " ".join(text.split())
