"""What the fuzzer learns from the rule files to aim its values."""

from __future__ import annotations

from toolwall.testing.hints import Hints, PolicyHints

SOURCE = r"""
let home = "/home/app"          # a let: its literal goes to every rule naming `home`
let limit = 50
taint web.*, mail.read
rule one:
    on fs.read, fs.*
    when not (path(args.path) under home) or args.size > 4096
    block
    because "outside {args.path}"   # messages are not hints
rule two:
    on shell.run
    when args.cmd matches /rm\s+-rf/i and count("shell.run") >= limit
    escalate
assert never allow db.* when args.rows / 2 > 10
"""


def test_hints_are_scoped_to_the_tools_of_the_rules_using_them() -> None:
    hints = PolicyHints.from_sources([SOURCE])
    fs = hints.for_tool("fs.write")
    assert fs.strings == ("/home/app",)
    assert fs.numbers == (4096.0,)
    assert fs.fields == ("path", "size")
    shell = hints.for_tool("shell.run")
    assert shell.regexes == (r"rm\s+-rf",)
    assert shell.numbers == (50.0,), "the let bound to `limit`"
    assert shell.strings == (), "count() patterns are tools, not values"
    db = hints.for_tool("db.query")
    assert db.numbers == (2.0, 10.0), "a `/` after a value divides"
    assert hints.for_tool("email.send") == Hints()
    assert hints.taint_sources == ("web.*", "mail.read")
    assert hints.counted == ("shell.run",)
    assert "outside {args.path}" not in hints.everything.strings


def test_hints_of_the_demo_policy() -> None:
    from tests.conftest import ROOT

    hints = PolicyHints.from_files([ROOT / "rules"])
    assert "/srv/workspace" in hints.for_tool("fs.read").strings
    assert "acme.test" in hints.for_tool("email.send").strings
    assert hints.for_tool("email.send").numbers == (5.0,)
    assert hints.taint_sources == ("web.fetch", "email.read")


def test_unreadable_files_are_skipped(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    (folder / "bad.tw").write_bytes(b"\xff\xfe")
    assert PolicyHints.from_files([folder]) == PolicyHints()
