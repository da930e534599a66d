"""What is particular to each provider: SDK objects, ids, ignored items, unusual shapes."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from tests.integrations.formats import recorded
from tests.integrations.formats.recorded import ALLOWED, BLOCKED, BROKEN, ESCALATED, REWRITTEN
from toolwall import Action, Caller, Firewall, ReasonKind
from toolwall.integrations.formats import (
    FormatError,
    function_call_output,
    function_response,
    guard_anthropic,
    guard_gemini,
    guard_openai_chat,
    guard_openai_responses,
    tool_message,
    tool_result,
)

openai_types = pytest.importorskip("openai.types")


def test_openai_chat_sdk_object(wall: Firewall, assistant: Caller) -> None:
    from openai.types.chat import ChatCompletion

    completion = ChatCompletion.model_validate(recorded.openai_chat())
    guarded = guard_openai_chat(wall, completion, caller=assistant)
    assert [c.key for c in guarded.calls] == [ALLOWED, REWRITTEN]
    assert [r.key for r in guarded.refusals] == [BLOCKED, BROKEN]
    assert [c.key for c in guarded.escalated] == [ESCALATED]
    assert guarded.refusals[1].decision.reasons[0].kind is ReasonKind.STRICT_INPUT


def test_openai_chat_message_alone(wall: Firewall, assistant: Caller) -> None:
    message = recorded.openai_chat()["choices"][0]["message"]
    guarded = guard_openai_chat(wall, message, caller=assistant)
    assert len(guarded.decisions) == 5


def test_openai_chat_unknown_call_type_runs_nothing(wall: Firewall, assistant: Caller) -> None:
    response = recorded.openai_chat()
    response["choices"][0]["message"]["tool_calls"].append({"id": "x", "type": "mystery"})
    with pytest.raises(FormatError, match="unknown type 'mystery'"):
        guard_openai_chat(wall, response, caller=assistant)


def test_openai_chat_custom_tool_input_is_decided_as_json(
    wall: Firewall, assistant: Caller
) -> None:
    custom = {"id": "c1", "type": "custom", "custom": {"name": "shell.run", "input": "ls -la"}}
    response = {"choices": [{"message": {"role": "assistant", "tool_calls": [custom]}}]}
    (refusal,) = guard_openai_chat(wall, response, caller=assistant).refusals
    assert refusal.decision.reasons[0].kind is ReasonKind.STRICT_INPUT
    assert refusal.message["tool_call_id"] == "c1"


def test_openai_chat_legacy_function_call_is_reported(wall: Firewall) -> None:
    message = {"role": "assistant", "function_call": {"name": "fs.read", "arguments": "{}"}}
    guarded = guard_openai_chat(wall, {"choices": [{"message": message}]})
    assert guarded.decisions == () and guarded.ignored == ("function_call",)


def test_openai_responses_sdk_object(wall: Firewall, assistant: Caller) -> None:
    from openai.types.responses import Response

    response = Response.model_validate(recorded.openai_responses())
    guarded = guard_openai_responses(wall, response, caller=assistant)
    assert [c.key for c in guarded.calls] == [ALLOWED, REWRITTEN]
    assert [r.key for r in guarded.refusals] == [BLOCKED, BROKEN]
    # The hosted web search already ran at OpenAI; it is reported, not decided.
    assert guarded.ignored == ("web_search_call",)


def test_openai_responses_output_list_alone(wall: Firewall, assistant: Caller) -> None:
    guarded = guard_openai_responses(wall, recorded.openai_responses()["output"], caller=assistant)
    assert len(guarded.decisions) == 5


def test_anthropic_attribute_objects_and_server_tools(wall: Firewall, assistant: Caller) -> None:
    blocks: list[Any] = [
        SimpleNamespace(type="text", text="hi"),
        SimpleNamespace(type="server_tool_use", id="srv", name="web_search", input={}),
    ]
    blocks += [
        SimpleNamespace(type="tool_use", id=i, name=n, input=recorded._decoded(a))
        for i, n, a in recorded.CALLS
    ]
    guarded = guard_anthropic(wall, SimpleNamespace(content=blocks), caller=assistant)
    assert [c.key for c in guarded.calls] == [ALLOWED, REWRITTEN]
    assert guarded.ignored == ("server_tool_use",)


def test_anthropic_reply_is_one_user_message(wall: Firewall, assistant: Caller) -> None:
    guarded = guard_anthropic(wall, recorded.anthropic(), caller=assistant).resolve()
    (message,) = guarded.reply({ALLOWED: "notes", REWRITTEN: "rows"})
    assert message["role"] == "user"
    assert [b["tool_use_id"] for b in message["content"]] == [c[0] for c in recorded.CALLS]
    assert message["content"][0] == {
        "type": "tool_result",
        "tool_use_id": ALLOWED,
        "content": "notes",
    }
    assert [b.get("is_error", False) for b in message["content"]] == [
        False,
        False,
        True,
        True,
        True,
    ]


def test_gemini_without_ids_answers_by_name(wall: Firewall, assistant: Caller) -> None:
    guarded = guard_gemini(wall, recorded.gemini(with_ids=False), caller=assistant)
    # Part 0 is text, so the calls are parts 1..5.
    assert [c.key for c in guarded.calls] == ["fs.read#1", "db.query#2"]
    assert guarded.refusals[0].message == {
        "functionResponse": {
            "name": "shell.run",
            "response": {
                "error": "toolwall blocked the call to shell.run: rule shell_destructive: "
                "destructive shell command"
            },
        }
    }
    (content,) = guarded.resolve().reply({"fs.read#1": {"text": "notes"}, "db.query#2": []})
    assert content["role"] == "user"
    assert content["parts"][0] == {
        "functionResponse": {"name": "fs.read", "response": {"output": {"text": "notes"}}}
    }


def test_gemini_sdk_attributes_are_snake_case(wall: Firewall, assistant: Caller) -> None:
    parts = [
        SimpleNamespace(function_call=SimpleNamespace(name="fs.read", args=None, id="g1")),
        SimpleNamespace(
            function_call=SimpleNamespace(
                name="fs.read", args={"path": "/srv/workspace/a"}, id="g2"
            )
        ),
    ]
    response = SimpleNamespace(candidates=[SimpleNamespace(content=SimpleNamespace(parts=parts))])
    guarded = guard_gemini(wall, response, caller=assistant)
    # A call without `args` is a call with no arguments, which fs.read's schema refuses.
    assert guarded.refusals[0].decision.reasons[0].kind is ReasonKind.SCHEMA
    assert [c.key for c in guarded.calls] == ["g2"]


def test_gemini_candidate_without_content(wall: Firewall) -> None:
    guarded = guard_gemini(wall, {"candidates": [{"finishReason": "SAFETY"}]})
    assert guarded.decisions == ()


def test_a_call_without_a_name_is_blocked(wall: Firewall, assistant: Caller) -> None:
    response = {"content": [{"type": "tool_use", "id": "t1", "input": {}}]}
    (refusal,) = guard_anthropic(wall, response, caller=assistant).refusals
    assert refusal.decision.action is Action.BLOCK
    assert refusal.decision.reasons[0].kind is ReasonKind.STRICT_INPUT


def test_a_list_field_of_another_type_is_an_error(wall: Firewall) -> None:
    with pytest.raises(FormatError, match="must be a list"):
        guard_openai_chat(wall, {"choices": [{"message": {"tool_calls": "nope"}}]})


def test_result_builders_in_each_shape() -> None:
    assert tool_message("c1", {"rows": 2}) == {
        "role": "tool",
        "tool_call_id": "c1",
        "content": '{"rows": 2}',
    }
    assert function_call_output("c1", "done") == {
        "type": "function_call_output",
        "call_id": "c1",
        "output": "done",
    }
    assert tool_result("t1", "boom", is_error=True) == {
        "type": "tool_result",
        "tool_use_id": "t1",
        "content": "boom",
        "is_error": True,
    }
    assert function_response("fs.read", "text", call_id="g1") == {
        "functionResponse": {"name": "fs.read", "id": "g1", "response": {"output": "text"}}
    }


def test_a_token_without_identity_configured_refuses_every_call(wall: Firewall) -> None:
    guarded = guard_openai_chat(wall, recorded.openai_chat(), token="eyJ...")
    assert not guarded.calls
    assert all(r.decision.reasons[0].kind is ReasonKind.IDENTITY for r in guarded.refusals[:1])
