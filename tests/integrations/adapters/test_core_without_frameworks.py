"""The core package never imports an agent framework; the adapters are the only ones that do."""

from __future__ import annotations

import subprocess
import sys

from tests.integrations.adapters.agents_support import REPO

# Runs in a fresh interpreter where importing either framework fails, as if it were not installed.
PROGRAM = """
import sys

class NoFrameworks:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("agents", "pydantic_ai"):
            raise ImportError(f"{name} is not installed here")
        return None

sys.meta_path.insert(0, NoFrameworks())

import toolwall
import toolwall.integrations.adapters
import toolwall.integrations.adapters._base
import toolwall.integrations.adapters._context
import toolwall.enforce.settle
from toolwall import Caller, Firewall, ToolCall

decision = Firewall(unknown_tool="allow").decide(
    ToolCall(tool="x", args={}), caller=Caller(sub="a", tools=("x",))
)
assert decision.allowed, decision.reason
for module in (
    "toolwall.integrations.adapters.openai_agents",
    "toolwall.integrations.adapters.pydantic_ai",
):
    try:
        __import__(module)
    except ImportError as exc:
        print(module, "needs its framework:", exc)
    else:
        raise AssertionError(module + " imported without its framework")
assert not any(m.split(".")[0] in ("agents", "pydantic_ai") for m in sys.modules)
print("ok")
"""


def test_core_imports_without_the_frameworks() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO), "PATH": ""},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("ok")
