"""The core package imports no framework or provider SDK: adapters are optional extras."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

FRAMEWORKS = (
    "langchain",
    "langchain_core",
    "langgraph",
    "openai",
    "anthropic",
    "google.genai",
    "agents",
    "pydantic_ai",
    "mcp",
    "redis",
)


def _imported_after(statement: str) -> list[str]:
    probe = (
        f"import sys, json\n{statement}\n"
        f"names = {list(FRAMEWORKS)!r}\n"
        "print(json.dumps(sorted(n for n in names if n in sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    loaded: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    return loaded


def test_import_toolwall_loads_no_framework() -> None:
    assert _imported_after("import toolwall") == []


def test_the_provider_formats_load_no_sdk() -> None:
    statement = (
        "import toolwall.integrations.formats\n"
        "from toolwall.integrations.formats import guard_openai_chat"
    )
    assert _imported_after(statement) == []


def test_deciding_a_call_from_the_demo_policy_loads_no_framework() -> None:
    statement = (
        "from toolwall import Firewall, Caller\n"
        "from toolwall.integrations.formats import guard_anthropic\n"
        "fw = Firewall.from_config('toolwall.toml')\n"
        "r = {'content': [{'type': 'tool_use', 'id': 't', 'name': 'fs.read',"
        " 'input': {'path': '/srv/workspace/a'}}]}\n"
        "assert guard_anthropic(fw, r, caller=Caller(tools=('fs.read',))).calls\n"
    )
    assert _imported_after(statement) == []


def test_the_probe_sees_a_framework_when_one_is_imported() -> None:
    # Guards the test itself: the probe does notice an import.
    assert "langgraph" in _imported_after("import toolwall.integrations.adapters.langchain")


def test_toolwall_works_with_the_frameworks_absent() -> None:
    # A finder that makes every framework unimportable, as in an install without extras.
    statement = (
        "import importlib.abc\n"
        f"blocked = {list(FRAMEWORKS)!r}\n"
        "class Absent(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if any(name == b or name.startswith(b + '.') for b in blocked):\n"
        "            raise ModuleNotFoundError(name)\n"
        "        return None\n"
        "sys.meta_path.insert(0, Absent())\n"
        "import toolwall, toolwall.integrations.formats\n"
        "from toolwall import Firewall, Caller\n"
        "fw = Firewall.from_config('toolwall.toml')\n"
        "r = {'choices': [{'message': {'tool_calls': [{'id': 'c', 'type': 'function',"
        " 'function': {'name': 'fs.read', 'arguments': '{\"path\": \"/etc/passwd\"}'}}]}}]}\n"
        "g = toolwall.integrations.formats.guard_openai_chat(\n"
        "    fw, r, caller=Caller(tools=('fs.read',)))\n"
        "assert g.refusals and not g.calls\n"
        "try:\n"
        "    import toolwall.integrations.adapters.langchain\n"
        "except ModuleNotFoundError:\n"
        "    pass\n"
        "else:\n"
        "    raise AssertionError('the langchain adapter imported without langchain')\n"
    )
    assert _imported_after(statement) == []
