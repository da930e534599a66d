"""Enforcement for plain Python: run a call only as the firewall decided.

- allow: the executor runs with the arguments as proposed;
- rewrite: it runs with the rewritten arguments;
- escalate: the firewall's approver is asked; it runs only on an approval;
- block (or a denial): it never runs. `on_block="raise"` raises `Blocked` carrying the
  decision; `on_block="message"` returns the refusal text the model can read instead.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from toolwall import context
from toolwall.errors import Blocked
from toolwall.model import Action, Caller, Decision, Reason, ReasonKind, ToolCall, TraceEntry

if TYPE_CHECKING:
    from toolwall.firewall import CallLike, Firewall
    from toolwall.model import ApprovalAnswer

OnBlock = Literal["raise", "message"]


def run(
    firewall: Firewall,
    call: CallLike,
    executor: Callable[..., Any],
    caller: Caller | None,
    token: str | None,
    session: str | None,
    on_block: OnBlock,
) -> Any:
    _check_on_block(on_block)
    decision = firewall.decide(call, caller=caller, token=token, session=session)
    if decision.action is Action.ESCALATE:
        answer = firewall.request_approval(decision, caller_of(firewall, caller, token))
        if not answer.approved:
            return _refuse(denied(decision, answer), on_block)
    elif not decision.action.runs:
        return _refuse(decision, on_block)
    assert decision.args is not None
    return executor(**decision.args)


async def arun(
    firewall: Firewall,
    call: CallLike,
    executor: Callable[..., Any],
    caller: Caller | None,
    token: str | None,
    session: str | None,
    on_block: OnBlock,
) -> Any:
    _check_on_block(on_block)
    decision = await firewall.adecide(call, caller=caller, token=token, session=session)
    if decision.action is Action.ESCALATE:
        answer = await firewall.arequest_approval(decision, caller_of(firewall, caller, token))
        if not answer.approved:
            return _refuse(denied(decision, answer), on_block)
    elif not decision.action.runs:
        return _refuse(decision, on_block)
    assert decision.args is not None
    result = executor(**decision.args)
    if inspect.isawaitable(result):
        result = await result
    return result


def guard(
    firewall: Firewall, tool: str | None, on_block: OnBlock
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    _check_on_block(on_block)

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        name = tool or fn.__name__
        signature = inspect.signature(fn)
        if any(p.kind is p.POSITIONAL_ONLY for p in signature.parameters.values()):
            raise TypeError(f"{name}: guarded functions cannot take positional-only parameters")

        def to_call(args: tuple[Any, ...], kwargs: dict[str, Any]) -> ToolCall:
            bound = signature.bind(*args, **kwargs)
            arguments = dict(bound.arguments)
            for param in signature.parameters.values():
                if param.kind is param.VAR_KEYWORD and param.name in arguments:
                    arguments.update(arguments.pop(param.name))
            return ToolCall(tool=name, args=arguments)

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                who = context.current()
                return await arun(
                    firewall,
                    to_call(args, kwargs),
                    fn,
                    who.caller,
                    who.token,
                    who.session,
                    on_block,
                )

            return async_wrapper

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            who = context.current()
            return run(
                firewall, to_call(args, kwargs), fn, who.caller, who.token, who.session, on_block
            )

        return wrapper

    return decorate


def caller_of(firewall: Firewall, caller: Caller | None, token: str | None) -> Caller:
    if caller is not None:
        return caller
    if token is not None and firewall.identity is not None:
        return firewall.identity.caller_for(token)[0]
    return Caller.anonymous()


def denied(decision: Decision, answer: ApprovalAnswer) -> Decision:
    """The decision as enforced after a denial: the escalation becomes a block.

    The one form every enforcement path (guard, formats, adapters, gateway) uses.
    """
    note = f": {answer.note}" if answer.note else ""
    reason = Reason(ReasonKind.APPROVAL, f"denied by {answer.by}{note}")
    return decision.model_copy(
        update={
            "action": Action.BLOCK,
            "reasons": [*decision.reasons, reason],
            "trace": [*decision.trace, TraceEntry("approval", "denied", reason.message)],
        }
    )


def _refuse(decision: Decision, on_block: OnBlock) -> str:
    if on_block == "message":
        return decision.message()
    raise Blocked(decision)


def _check_on_block(on_block: str) -> None:
    if on_block not in ("raise", "message"):
        raise ValueError(f'on_block must be "raise" or "message", not {on_block!r}')
