"""The real `mcp-server-git` behind the gateway, against a repository made in tmp_path."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from mcp import Client
from mcp_helpers import Keys, TinyRules, git_server_command, text_of, verdict

from toolwall import Action, Firewall
from toolwall.config import McpConfig
from toolwall.integrations.mcp import Gateway
from toolwall.schemas.registry import SchemaRegistry

pytestmark = pytest.mark.anyio


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "dev@example.test")
    git(repo, "config", "user.name", "Dev")
    (repo / "README.md").write_text("hello\n")
    git(repo, "add", "README.md")
    git(repo, "commit", "-q", "-m", "first")
    (repo / "notes.txt").write_text("draft\n")
    return repo


def git_gateway(repo: Path, tmp_path: Path, token: str, keys: Keys) -> Gateway:
    command, args = git_server_command(repo)
    config = McpConfig.model_validate(
        {
            "servers": {"git": {"command": command, "args": args}},
            "lock_file": str(tmp_path / "toolwall.lock"),
        }
    )
    rules = TinyRules(
        {
            "git.git_commit": lambda t, a, c, s: verdict(
                Action.BLOCK, "commits go through review, not through the agent"
            ),
            "git.git_add": lambda t, a, c, s: verdict(Action.BLOCK, "staging is not allowed"),
        }
    )
    firewall = Firewall(schemas=SchemaRegistry(), rules=rules, identity=keys.verifier)
    return Gateway(firewall, config, base_dir=tmp_path, token=token)


async def test_granted_status_returns_the_real_status(repo: Path, tmp_path: Path, keys: Keys):
    token = keys.token("alice", ["git.git_status", "git.git_add", "git.git_commit"])
    async with git_gateway(repo, tmp_path, token, keys) as gateway, Client(gateway.server) as agent:
        listed = sorted(t.name for t in (await agent.list_tools()).tools)
        assert listed == ["git__git_add", "git__git_commit", "git__git_status"]
        result = await agent.call_tool("git__git_status", {"repo_path": str(repo)})
        assert not result.is_error
        assert "notes.txt" in text_of(result)
        assert "On branch main" in text_of(result)


async def test_add_and_commit_denied_by_rules_leave_the_repo_unchanged(
    repo: Path, tmp_path: Path, keys: Keys
):
    token = keys.token("alice", ["git.*"])
    head = git(repo, "rev-parse", "HEAD")
    async with git_gateway(repo, tmp_path, token, keys) as gateway, Client(gateway.server) as agent:
        added = await agent.call_tool(
            "git__git_add", {"repo_path": str(repo), "files": ["notes.txt"]}
        )
        assert added.is_error
        assert "staging is not allowed" in text_of(added)
        committed = await agent.call_tool(
            "git__git_commit", {"repo_path": str(repo), "message": "sneaky"}
        )
        assert committed.is_error
        assert "commits go through review" in text_of(committed)
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "status", "--porcelain") == "?? notes.txt\n"


async def test_ungranted_tool_is_hidden_and_blocked(repo: Path, tmp_path: Path, keys: Keys):
    token = keys.token("bob", ["git.git_status", "git.git_log"])
    async with git_gateway(repo, tmp_path, token, keys) as gateway, Client(gateway.server) as agent:
        listed = {t.name for t in (await agent.list_tools()).tools}
        assert listed == {"git__git_status", "git__git_log"}
        result = await agent.call_tool("git__git_reset", {"repo_path": str(repo)})
        assert result.is_error
        assert "bob is not granted git.git_reset" in text_of(result)
        log = await agent.call_tool("git__git_log", {"repo_path": str(repo)})
        assert "first" in text_of(log)


async def test_upstream_schema_is_enforced(repo: Path, tmp_path: Path, keys: Keys):
    token = keys.token("alice", ["git.git_status"])
    async with git_gateway(repo, tmp_path, token, keys) as gateway, Client(gateway.server) as agent:
        result = await agent.call_tool("git__git_status", {"path": str(repo)})
        assert result.is_error
        assert "do not satisfy the schema of git.git_status" in text_of(result)
