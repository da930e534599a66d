"""Provider wire formats: decide every tool call in a model response as the app received it.

For apps that call a model API directly. Each `guard_*` takes the response (a dict decoded
from JSON, or the provider SDK's object, read by attribute without importing the SDK), decides
every tool call in it and returns `GuardedCalls`:

    guarded = guard_openai_chat(firewall, response, caller=me, session=thread_id)
    guarded = guarded.resolve()                 # ask the approver about escalated calls
    outputs = {c.key: TOOLS[c.tool](**c.args) for c in guarded.calls}
    messages += [assistant_message, *guarded.reply(outputs)]

Refusals are already tool-result messages in the provider's own shape, so the model reads why
its call did not run.
"""

from toolwall.integrations.formats._base import (
    FormatError,
    GuardedCall,
    GuardedCalls,
    Refusal,
    WireFormat,
)
from toolwall.integrations.formats.anthropic import guard_anthropic, tool_result
from toolwall.integrations.formats.gemini import function_response, guard_gemini
from toolwall.integrations.formats.openai_chat import guard_openai_chat, tool_message
from toolwall.integrations.formats.openai_responses import (
    function_call_output,
    guard_openai_responses,
)

__all__ = [
    "FormatError",
    "GuardedCall",
    "GuardedCalls",
    "Refusal",
    "WireFormat",
    "function_call_output",
    "function_response",
    "guard_anthropic",
    "guard_gemini",
    "guard_openai_chat",
    "guard_openai_responses",
    "tool_message",
    "tool_result",
]
