"""Enforcement for plain Python: run a call only as the firewall decided.

- allow: the executor runs with the arguments as proposed;
- rewrite: it runs with the rewritten arguments;
- escalate: the firewall's approver is asked (`toolwall.enforce.settle`); it runs only on an
  approval;
- block (or a denial): it never runs. `on_block="raise"` raises `Blocked` carrying the
  decision; `on_block="message"` returns the refusal text the model can read instead.

What the executor returns goes to `Firewall.record_result` under the decision's caller and
session, so `taint` rules see what a guarded tool read.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, Literal, Protocol

import toolwall.context as context
from toolwall.enforce.settle import Settlement
from toolwall.errors import Blocked
from toolwall.model import Caller, CallLike, Decision, ToolCall

OnBlock = Literal["raise", "message"]


class Firewall(Protocol):
    """What enforcement needs of a firewall (`toolwall.Firewall` is one)."""

    @property
    def settlement(self) -> Settlement: ...

    def decide(
        self,
        call: CallLike,
        caller: Caller | None = None,
        token: str | None = None,
        session: str | None = None,
    ) -> Decision: ...

    async def adecide(
        self,
        call: CallLike,
        caller: Caller | None = None,
        token: str | None = None,
        session: str | None = None,
    ) -> Decision: ...

    def record_result(
        self,
        call: CallLike | Decision,
        result: Any,
        session: str | None = None,
        caller: Caller | None = None,
    ) -> bool: ...


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
    decision = firewall.settlement.settle(
        firewall.decide(call, caller=caller, token=token, session=session)
    )
    if not decision.action.runs or decision.args is None:
        return _refuse(decision, on_block)
    result = executor(**decision.args)
    firewall.record_result(decision, result)
    return result


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
    decision = await firewall.settlement.asettle(
        await firewall.adecide(call, caller=caller, token=token, session=session)
    )
    if not decision.action.runs or decision.args is None:
        return _refuse(decision, on_block)
    result = executor(**decision.args)
    if inspect.isawaitable(result):
        result = await result
    firewall.record_result(decision, result)
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


def _refuse(decision: Decision, on_block: OnBlock) -> str:
    if on_block == "message":
        return decision.message()
    raise Blocked(decision)


def _check_on_block(on_block: str) -> None:
    if on_block not in ("raise", "message"):
        raise ValueError(f'on_block must be "raise" or "message", not {on_block!r}')
