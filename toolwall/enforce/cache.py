"""One decision per call, shared by every adapter.

Some framework hooks run twice for one call (an approval callback and then the invocation; a
LangGraph node re-run after an interrupt is resumed). `DecisionCache` keys decisions by
(session, call id) so each call is decided and audited once, and `take_approval` lets an
approval given for a call be used exactly once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from toolwall.canonical import args_digest
from toolwall.firewall import CallLike, Firewall
from toolwall.model import Caller, Decision, ToolCall


@dataclass
class _Entry:
    digest: str
    decision: Decision
    approved: bool | None = None
    used: bool = False


class DecisionCache:
    """Decisions by call id for one firewall, bounded (oldest forgotten first)."""

    def __init__(self, firewall: Firewall, max_entries: int = 4096) -> None:
        self.firewall = firewall
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str | None, str], _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def decide(
        self,
        call: ToolCall,
        caller: Caller | None = None,
        token: str | None = None,
        session: str | None = None,
    ) -> Decision:
        """The decision for `call`, made once per (session, call id) and the same arguments.

        A call without an id is decided every time. A second call with the same id but other
        arguments is decided afresh (and audited): an id is never a way to reuse a decision.
        """
        if call.id is None:
            return self.firewall.decide(call, caller=caller, token=token, session=session)
        key = (session, call.id)
        digest = _digest(call)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.digest == digest:
                return entry.decision
        decision = self.firewall.decide(call, caller=caller, token=token, session=session)
        with self._lock:
            self._entries[key] = _Entry(digest, decision)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return decision

    def lookup(self, session: str | None, call_id: str) -> Decision | None:
        with self._lock:
            entry = self._entries.get((session, call_id))
            return entry.decision if entry else None

    def set_approval(self, session: str | None, call_id: str, approved: bool) -> None:
        """Remember the answer given for an escalated call."""
        with self._lock:
            entry = self._entries.get((session, call_id))
            if entry is not None and entry.approved is None:
                entry.approved = approved

    def take_approval(self, session: str | None, call_id: str) -> bool | None:
        """The answer for a call, usable once: an approval is consumed by the run it allows."""
        with self._lock:
            entry = self._entries.get((session, call_id))
            if entry is None or entry.approved is None:
                return None
            if entry.approved and entry.used:
                return False
            entry.used = True
            return entry.approved


def _digest(call: CallLike) -> str:
    if isinstance(call, ToolCall):
        return args_digest([call.tool, call.args])
    return args_digest(
        [call.get("tool", call.get("name")), call.get("args", call.get("arguments"))]
    )
