"""The commands (`toolwall mcp run|serve|tools|lock`) on the example policy in examples/mcp,
with the real `mcp-server-git` against a repository made in tmp_path."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters
from mcp_helpers import free_port, http_agent, text_of

from toolwall.cli import main
from toolwall.identity.devkeys import generate_keypair, mint_token

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "mcp"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


class Example:
    def __init__(self, tmp_path: Path) -> None:
        self.dir = tmp_path / "example"
        shutil.copytree(
            EXAMPLE,
            self.dir,
            ignore=shutil.ignore_patterns("*.lock", "README.md", ".toolwall", "audit"),
        )
        self.keys = generate_keypair(self.dir / ".toolwall" / "keys")
        self.repo = tmp_path / "repo"
        self.repo.mkdir()
        git(self.repo, "init", "-q", "-b", "main")
        git(self.repo, "config", "user.email", "dev@example.test")
        git(self.repo, "config", "user.name", "Dev")
        (self.repo / "docs").mkdir()
        (self.repo / "docs" / "guide.md").write_text("guide\n")
        (self.repo / "app.py").write_text("print('hi')\n")
        self.config = self.dir / "toolwall.toml"
        text = self.config.read_text()
        server = (
            'command = "mcp-server-git"\nargs = ["--repository", "."]\n'
            'cwd = "../.."           # the repository the server may touch: here, this checkout\n'
        )
        assert server in text
        self.config.write_text(
            text.replace(
                server,
                f"command = {json.dumps(sys.executable)}\n"
                f'args = ["-m", "mcp_server_git", "--repository", {json.dumps(str(self.repo))}]\n',
            )
        )

    def token(self, tools: list[str], sub: str = "agent") -> str:
        return mint_token(
            self.keys.private_key,
            sub=sub,
            tools=tools,
            ttl_s=600,
            audience="toolwall",
            issuer="toolwall-dev",
        )

    def env(self, **extra: str) -> dict[str, str]:
        return {"PYTHONPATH": str(ROOT), **extra}


@pytest.fixture
def example(tmp_path: Path) -> Example:
    return Example(tmp_path)


def approve_all(asked: list[str]) -> Any:
    async def answer(ctx: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"approve": True})

    return answer


def test_lock_then_tools(example: Example, capsys: pytest.CaptureFixture[str]):
    assert main(["mcp", "lock", "--config", str(example.config)]) == 0
    lock = json.loads((example.dir / "toolwall.lock").read_text())
    assert "git.git_status" in lock["tools"]
    assert len(lock["tools"]) == 12
    capsys.readouterr()
    assert main(["mcp", "tools", "--config", str(example.config), "--json"]) == 0
    rows = {row["tool"]: row for row in json.loads(capsys.readouterr().out)}
    commit = rows["git.git_commit"]
    assert commit["wire"] == "git__git_commit"
    assert commit["schema"].endswith("git.git_commit.json")  # the local override
    assert rows["git.git_status"]["schema"] == "mcp server git"
    assert {"commit_on_a_feature_branch", "commit_after_untrusted_content"} <= set(commit["rules"])
    assert all(row["pinned"] for row in rows.values())


def test_tools_shows_grants_and_unpinned(example: Example, capsys: pytest.CaptureFixture[str]):
    token = example.token(["git.git_status", "git.git_log"], sub="reviewer")
    assert main(["mcp", "tools", "--config", str(example.config), "--token", token]) == 1
    assert "reviewer" in capsys.readouterr().out
    assert main(["mcp", "tools", "--config", str(example.config), "--json"]) == 1
    rows = json.loads(capsys.readouterr().out)
    assert {row["pin"] for row in rows} == {"not locked: no lock file"}
    main(["mcp", "lock", "--config", str(example.config)])
    capsys.readouterr()
    assert main(["mcp", "tools", "--config", str(example.config), "--token", token, "--json"]) == 0
    rows = {row["tool"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["git.git_status"]["granted_to"] == ["reviewer"]
    assert rows["git.git_add"]["granted_to"] == []


@pytest.fixture
def locked(example: Example) -> Example:
    assert main(["mcp", "lock", "--config", str(example.config)]) == 0
    return example


@pytest.mark.anyio
async def test_stdio_run_end_to_end(locked: Example):
    example = locked
    head_before = None
    asked: list[str] = []
    token = example.token(["git.*"])
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "toolwall", "mcp", "run", "--config", str(example.config)],
        env=example.env(TOOLWALL_TOKEN=token),
    )
    async with Client(params, elicitation_callback=approve_all(asked)) as agent:
        names = {t.name for t in (await agent.list_tools()).tools}
        assert "git__git_status" in names and "git__git_commit" in names
        status = await agent.call_tool("git__git_status", {"repo_path": str(example.repo)})
        assert "app.py" in text_of(status)

        # Staging docs needs nothing; staging code is escalated and the user approves it.
        docs = await agent.call_tool(
            "git__git_add", {"repo_path": str(example.repo), "files": ["docs/guide.md"]}
        )
        assert not docs.is_error, text_of(docs)
        assert asked == []
        code = await agent.call_tool(
            "git__git_add", {"repo_path": str(example.repo), "files": ["app.py"]}
        )
        assert not code.is_error, text_of(code)
        assert len(asked) == 1 and "staging files outside docs/ needs approval" in asked[0]

        # No feature branch yet: the commit is blocked and nothing is committed.
        commit = await agent.call_tool(
            "git__git_commit", {"repo_path": str(example.repo), "message": "add things"}
        )
        assert commit.is_error
        assert "commits to main are blocked" in text_of(commit)
        head_before = subprocess.run(
            ["git", "-C", str(example.repo), "rev-parse", "--verify", "HEAD"],
            capture_output=True,
            text=True,
        ).returncode
    assert head_before != 0  # still no commit at all
    assert git(example.repo, "diff", "--cached", "--name-only").split() == [
        "app.py",
        "docs/guide.md",
    ]
    records = [json.loads(line) for line in (example.dir / "audit" / "toolwall.jsonl").open()]
    assert {"decision", "approval", "result"} <= {r["type"] for r in records}


def wait_for_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"toolwall mcp serve exited: {proc.stderr.read()!r}")  # type: ignore[union-attr]
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError("toolwall mcp serve did not start")


@pytest.fixture
def served(example: Example) -> Iterator[str]:
    main(["mcp", "lock", "--config", str(example.config)])
    port = free_port()
    command = ["-m", "toolwall", "mcp", "serve", "--config", str(example.config)]
    proc = subprocess.Popen(
        [sys.executable, *command, "--port", str(port)],
        env={**os.environ, **example.env()},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        assert proc.stderr is not None
        proc.stderr.close()


@pytest.mark.anyio
async def test_http_serve_end_to_end(example: Example, served: str):
    reviewer = {"X-Toolwall-Identity": example.token(["git.git_status", "git.git_log"], "rev")}
    async with http_agent(served, reviewer) as agent:
        names = sorted(t.name for t in (await agent.list_tools()).tools)
        assert names == ["git__git_log", "git__git_status"]
        status = await agent.call_tool("git__git_status", {"repo_path": str(example.repo)})
        assert "app.py" in text_of(status)
        add = await agent.call_tool(
            "git__git_add", {"repo_path": str(example.repo), "files": ["app.py"]}
        )
        assert "rev is not granted git.git_add" in text_of(add)
    async with http_agent(served, {}) as agent:
        assert (await agent.list_tools()).tools == []
    assert git(example.repo, "diff", "--cached", "--name-only") == ""


def test_missing_extra_is_a_clear_usage_error(
    example: Example, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setitem(sys.modules, "mcp", None)
    assert main(["mcp", "tools", "--config", str(example.config)]) == 2
    assert "pip install 'toolwall[mcp]'" in capsys.readouterr().err


def test_unreadable_token_file_is_a_usage_error(
    example: Example, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    missing = tmp_path / "no-token"
    code = main(["mcp", "run", "--config", str(example.config), "--token-file", str(missing)])
    assert code == 2
    assert "cannot read the token" in capsys.readouterr().err


def test_lock_refuses_when_a_server_cannot_be_listed(
    example: Example, capsys: pytest.CaptureFixture[str]
):
    text = example.config.read_text()
    example.config.write_text(text + '\n[mcp.servers.gone]\ncommand = "/nonexistent/mcp-server"\n')
    assert main(["mcp", "lock", "--config", str(example.config)]) == 2
    assert "the lock was not written" in capsys.readouterr().err
    assert not (example.dir / "toolwall.lock").exists()


@pytest.mark.anyio
async def test_stdio_identity_from_token_file_and_anonymous(locked: Example, tmp_path: Path):
    token_file = tmp_path / "agent.jwt"
    token_file.write_text(locked.token(["git.git_status"], sub="reader") + "\n")
    run = ["-m", "toolwall", "mcp", "run", "--config", str(locked.config)]
    with_file = StdioServerParameters(
        command=sys.executable, args=[*run, "--token-file", str(token_file)], env=locked.env()
    )
    async with Client(with_file) as agent:
        assert [t.name for t in (await agent.list_tools()).tools] == ["git__git_status"]
    # No TOOLWALL_TOKEN and no --token-file: anonymous, nothing listed, everything blocked.
    anonymous = StdioServerParameters(command=sys.executable, args=run, env=locked.env())
    async with Client(anonymous) as agent:
        assert (await agent.list_tools()).tools == []
        result = await agent.call_tool("git__git_status", {"repo_path": str(locked.repo)})
        assert result.is_error
        assert "the anonymous caller is not granted git.git_status" in text_of(result)
