"""`toolwall state stats` and `toolwall approvals` over a shared `[state]`."""

from __future__ import annotations

import json
from pathlib import Path

from tests.audit.helpers import toolwall_cli
from tests.state.helpers import BOB, open_project, project
from tests.state.redis_server import RedisServer, free_port
from toolwall import Action, ToolCall


def test_stats_count_what_redis_holds(tmp_path: Path, redis_server: RedisServer) -> None:
    config = project(tmp_path, "redis", redis_server.url, key_prefix=f"{tmp_path.name}:")
    firewall = open_project(config)
    for session in ("a", "b"):
        firewall.decide({"tool": "email.send", "args": {}}, BOB, session=session)
    firewall.record_result({"tool": "web.fetch", "args": {}}, "<page>", session="a", caller=BOB)
    shown = toolwall_cli("state", "stats", "--config", str(config), "--json")
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    assert report["healthy"] is True and report["backend"] == "redis"
    assert (report["sessions"], report["callers"], report["approvals"]) == (2, 1, 0)
    assert report["used_memory"] and report["maxmemory_policy"] == "noeviction"
    table = toolwall_cli("state", "stats", "--config", str(config))
    assert "sessions" in table.stdout and "healthy" in table.stdout


def test_stats_say_when_the_state_is_unusable(tmp_path: Path) -> None:
    config = project(tmp_path, "redis", f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.2)
    shown = toolwall_cli("state", "stats", "--config", str(config), "--json")
    assert shown.returncode == 1
    report = json.loads(shown.stdout)
    assert report["healthy"] is False and "cannot be reached" in report["health"]


def test_stats_of_sqlite_and_memory(tmp_path: Path) -> None:
    config = project(tmp_path / "s", "sqlite", "state.db")
    open_project(config).decide({"tool": "email.send", "args": {}}, BOB, session="a")
    report = json.loads(toolwall_cli("state", "stats", "--config", str(config), "--json").stdout)
    assert (report["sessions"], report["callers"], report["healthy"]) == (1, 1, True)
    memory = project(tmp_path / "m", "memory")
    report = json.loads(toolwall_cli("state", "stats", "--config", str(memory), "--json").stdout)
    assert report["sessions"] == 0 and "inside each firewall process" in report["note"]


def test_approvals_are_answered_from_the_command_line_through_redis(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    config = project(tmp_path, "redis", redis_server.url, key_prefix=f"{tmp_path.name}:")
    firewall = open_project(config)
    firewall.record_result({"tool": "web.fetch", "args": {}}, "<page>", session="s", caller=BOB)
    held = firewall.decide(
        ToolCall(tool="bank.transfer", args={"amount": 5}, id="c1"), BOB, session="s"
    )
    request = firewall.settlement.open(held)
    assert request.approval_id is not None
    listed = toolwall_cli("approvals", "list", "--config", str(config))
    assert request.approval_id in listed.stdout and "[state] redis" in listed.stdout
    answered = toolwall_cli(
        "approvals", "approve", request.approval_id, "--config", str(config), "--by", "carol"
    )
    assert answered.returncode == 0, answered.stderr
    assert firewall.settlement.conclude(request, held).action is Action.ALLOW
