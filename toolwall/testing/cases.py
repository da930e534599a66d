"""Policy test files: the YAML format, loaded into checked, immutable cases.

A file is a list of cases, or a mapping with `cases:` and optional file-level settings:

    config: ../../toolwall.toml      # the policy under test (relative to this file)
    key: ../../.toolwall/keys/dev.pem # private key that `token:` callers are minted with
    cases:
      - name: reading inside the workspace is allowed
        caller: {sub: alice, tools: ["fs.*"], groups: [eng]}
        call: {tool: fs.read, args: {path: /srv/workspace/notes.txt}}
        expect: allow

Every problem in a file is a `PolicyTestError` naming the file, the line and the case, raised
before anything runs: a malformed test must never pass by accident.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from toolwall.errors import ToolwallError
from toolwall.model import Action, Caller, ToolCall

TEST_FILE_SUFFIXES = (".yaml", ".yml")
MAX_REPEAT = 1000

_FILE_KEYS = {"config", "key", "cases"}
_CASE_KEYS = {"name", "caller", "token", "history", "call", "expect"}
_CALLER_KEYS = {"sub", "iss", "groups", "tools", "claims", "authenticated", "session"}
_TOKEN_KEYS = {"sub", "tools", "groups", "claims", "ttl_s", "audience", "issuer", "session", "key"}
_CALL_KEYS = {"tool", "args", "id"}
_STEP_KEYS = _CALL_KEYS | {"result", "expect", "repeat"}
_EXPECT_KEYS = {"action", "args", "rules", "reason"}


class PolicyTestError(ToolwallError):
    """A policy test file cannot be used; the message says where (file:line, case) and why."""


@dataclass(frozen=True, slots=True)
class TokenSpec:
    """A caller given as a token to mint on the fly with the development key."""

    sub: str
    tools: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    claims: Mapping[str, Any] = field(default_factory=dict)
    ttl_s: int = 300
    audience: str | None = None
    issuer: str | None = None
    session: str | None = None
    key: Path | None = None


@dataclass(frozen=True, slots=True)
class Expectation:
    """What a case expects of the decision. `None` fields are not checked.

    `actions` holds every acceptable action (one, usually). `args` are the arguments the call
    runs with (the rewritten ones for `rewrite`); `rules` the exact set of rules that fired;
    `reason` a substring of the joined reasons.
    """

    actions: tuple[Action, ...]
    args: Mapping[str, Any] | None = None
    rules: tuple[str, ...] | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class HistoryStep:
    """An earlier call of the session, decided through the firewall before the case's call.

    It counts for `count()`/`called()` only if the firewall lets it run. By default the step is
    expected to run (allow or rewrite), so a history that silently failed cannot make a case
    pass; `expect` says otherwise. `result`, when given, is recorded as the tool's result, so a
    taint source taints the session.
    """

    call: ToolCall
    expect: tuple[Action, ...] = (Action.ALLOW, Action.REWRITE)
    result: Any = None
    has_result: bool = False
    repeat: int = 1


@dataclass(frozen=True, slots=True)
class PolicyTestCase:
    """One case: who calls, what happened before, the call, and what the policy must decide."""

    name: str
    file: Path
    line: int
    call: ToolCall
    expect: Expectation
    caller: Caller | None = None
    token: TokenSpec | None = None
    history: tuple[HistoryStep, ...] = ()

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class PolicyTestFile:
    path: Path
    cases: tuple[PolicyTestCase, ...]
    config: Path | None = None
    key: Path | None = None


def discover(paths: Iterable[str | Path]) -> list[Path]:
    """The test files named by `paths`: files as given, folders searched recursively.

    A path that does not exist is an error, so a typo cannot turn into "0 tests, all passed".
    """
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(
                sorted(p for p in path.rglob("*") if p.suffix in TEST_FILE_SUFFIXES and p.is_file())
            )
        elif path.is_file():
            found.append(path)
        else:
            raise PolicyTestError(f"{path}: no such test file or folder")
    unique: dict[Path, None] = {}
    for path in found:
        unique.setdefault(path, None)
    return list(unique)


def load_test_file(path: str | Path) -> PolicyTestFile:
    """Read and check one policy test file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyTestError(f"{file}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise PolicyTestError(f"{file}: not UTF-8 text") from None
    return parse_test_file(text, file)


def parse_test_file(text: str, file: Path) -> PolicyTestFile:
    """Check the YAML text of a policy test file (named `file` in messages and paths)."""
    try:
        data = yaml.load(text, Loader=_LineLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else str(file)
        raise PolicyTestError(f"{where}: invalid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise PolicyTestError(f"{file}: invalid YAML: {exc}") from None
    config: Path | None = None
    key: Path | None = None
    if isinstance(data, list):
        raw_cases: Any = data
    elif isinstance(data, dict):
        _known(data, _FILE_KEYS, _where(file, data), "the file")
        if "cases" not in data:
            raise PolicyTestError(f"{_where(file, data)}: the file has no `cases:` list")
        raw_cases = data["cases"]
        config = _file_path(data, "config", file)
        key = _file_path(data, "key", file)
    elif data is None:
        raise PolicyTestError(f"{file}: the file is empty; expected a list of test cases")
    else:
        raise PolicyTestError(f"{file}: expected a list of test cases or a mapping with `cases:`")
    if not isinstance(raw_cases, list):
        raise PolicyTestError(f"{file}: `cases` must be a list of test cases")
    cases: list[PolicyTestCase] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_cases):
        case = _case(raw, index, file)
        if case.name in seen:
            raise PolicyTestError(
                f"{case.location}: case {case.name!r}: duplicate name "
                f"(first used on line {seen[case.name]})"
            )
        seen[case.name] = case.line
        cases.append(case)
    return PolicyTestFile(path=file, cases=tuple(cases), config=config, key=key)


# -- the parts of a case ------------------------------------------------------------------------


class _Bad(Exception):
    """A problem inside one case; re-raised as PolicyTestError with the case's name."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def _case(raw: Any, index: int, file: Path) -> PolicyTestCase:
    line = _line(raw) or 0
    if not isinstance(raw, dict):
        raise PolicyTestError(f"{file}: case #{index + 1}: a case must be a mapping")
    name = raw.get("name")
    label = f"case {name!r}" if isinstance(name, str) and name else f"case #{index + 1}"
    try:
        _known(raw, _CASE_KEYS, None, "a case")
        if not isinstance(name, str) or not name.strip():
            raise _Bad("`name` is required and must be a non-empty string")
        if "call" not in raw:
            raise _Bad("`call` is required: {tool: ..., args: ...}")
        if "expect" not in raw:
            raise _Bad("`expect` is required: an action, or {action: ..., args: ..., ...}")
        if "caller" in raw and "token" in raw:
            raise _Bad("give either `caller` or `token`, not both")
        caller = _caller(raw["caller"]) if "caller" in raw else None
        token = _token(raw["token"], file) if "token" in raw else None
        history = _history(raw.get("history", []))
        call = _call(raw["call"], "call")
        expect = _expect(raw["expect"])
    except _Bad as bad:
        at = bad.line or line
        raise PolicyTestError(f"{file}:{at}: {label}: {bad.message}") from None
    return PolicyTestCase(
        name=name.strip(),
        file=file,
        line=line,
        call=call,
        expect=expect,
        caller=caller,
        token=token,
        history=history,
    )


def _caller(raw: Any) -> Caller:
    if raw == "anonymous" or raw is None:
        return Caller.anonymous()
    if not isinstance(raw, dict):
        raise _Bad("`caller` must be a mapping {sub, groups, tools, claims} or `anonymous`")
    _known(raw, _CALLER_KEYS, None, "`caller`")
    data: dict[str, Any] = {"authenticated": True, **raw}
    for key in ("groups", "tools"):
        if key in data:
            data[key] = tuple(_strings(data[key], f"caller.{key}"))
    if "claims" in data and not isinstance(data["claims"], dict):
        raise _Bad("`caller.claims` must be a mapping", _line(raw))
    try:
        return Caller.model_validate(data)
    except ValueError as exc:
        raise _Bad(f"`caller` is not valid: {_first_error(exc)}", _line(raw)) from None


def _token(raw: Any, file: Path) -> TokenSpec:
    if not isinstance(raw, dict):
        raise _Bad("`token` must be a mapping {sub, tools, groups, claims, ttl_s, key}")
    _known(raw, _TOKEN_KEYS, None, "`token`")
    sub = raw.get("sub")
    if not isinstance(sub, str) or not sub:
        raise _Bad("`token.sub` is required and must be a string", _line(raw))
    claims = raw.get("claims", {})
    if not isinstance(claims, dict):
        raise _Bad("`token.claims` must be a mapping", _line(raw))
    ttl = raw.get("ttl_s", 300)
    if not isinstance(ttl, int) or isinstance(ttl, bool):
        raise _Bad("`token.ttl_s` must be an integer (seconds)", _line(raw))
    key = raw.get("key")
    if key is not None and not isinstance(key, str):
        raise _Bad("`token.key` must be a path", _line(raw))
    return TokenSpec(
        sub=sub,
        tools=tuple(_strings(raw.get("tools", []), "token.tools")),
        groups=tuple(_strings(raw.get("groups", []), "token.groups")),
        claims=dict(claims),
        ttl_s=ttl,
        audience=_optional_str(raw, "audience"),
        issuer=_optional_str(raw, "issuer"),
        session=_optional_str(raw, "session"),
        key=(file.parent / key) if key is not None else None,
    )


def _history(raw: Any) -> tuple[HistoryStep, ...]:
    if not isinstance(raw, list):
        raise _Bad("`history` must be a list of earlier calls")
    steps = []
    for number, item in enumerate(raw, start=1):
        what = f"history step {number}"
        if not isinstance(item, dict):
            raise _Bad(f"{what} must be a mapping {{tool, args, result, expect, repeat}}")
        _known(item, _STEP_KEYS, None, what)
        call = _call({k: item[k] for k in _CALL_KEYS if k in item}, what, _line(item))
        repeat = item.get("repeat", 1)
        if not isinstance(repeat, int) or isinstance(repeat, bool) or not 1 <= repeat <= MAX_REPEAT:
            raise _Bad(f"{what}: `repeat` must be an integer from 1 to {MAX_REPEAT}", _line(item))
        expect = _actions(item["expect"], f"{what}: `expect`") if "expect" in item else None
        if expect is not None and "result" in item and not any(a.runs for a in expect):
            raise _Bad(f"{what}: a call expected not to run has no result to record", _line(item))
        steps.append(
            HistoryStep(
                call=call,
                expect=expect or (Action.ALLOW, Action.REWRITE),
                result=item.get("result"),
                has_result="result" in item,
                repeat=repeat,
            )
        )
    return tuple(steps)


def _call(raw: Any, what: str, line: int | None = None) -> ToolCall:
    if not isinstance(raw, dict):
        raise _Bad(f"`{what}` must be a mapping {{tool: ..., args: ...}}", line)
    line = _line(raw) or line
    _known(raw, _CALL_KEYS, None, f"`{what}`")
    tool = raw.get("tool")
    if not isinstance(tool, str) or not tool:
        raise _Bad(f"`{what}`: `tool` is required and must be a string", line)
    args = raw.get("args", {})
    if not isinstance(args, dict | str):
        raise _Bad(
            f"`{what}`: `args` must be a mapping or a raw JSON string, not {_kind(args)}", line
        )
    call_id = raw.get("id")
    if call_id is not None and not isinstance(call_id, str):
        raise _Bad(f"`{what}`: `id` must be a string", line)
    return ToolCall(tool=tool, args=_plain(args), id=call_id)


def _expect(raw: Any) -> Expectation:
    if isinstance(raw, str | list):
        return Expectation(actions=_actions(raw, "`expect`"))
    if not isinstance(raw, dict):
        raise _Bad("`expect` must be an action, a list of actions, or a mapping")
    _known(raw, _EXPECT_KEYS, None, "`expect`")
    if "action" not in raw:
        raise _Bad("`expect.action` is required", _line(raw))
    args = raw.get("args")
    if args is not None and not isinstance(args, dict):
        raise _Bad("`expect.args` must be a mapping", _line(raw))
    rules = raw.get("rules")
    reason = raw.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise _Bad("`expect.reason` must be a string", _line(raw))
    return Expectation(
        actions=_actions(raw["action"], "`expect.action`"),
        args=_plain(args) if args is not None else None,
        rules=tuple(_strings(rules, "expect.rules")) if rules is not None else None,
        reason=reason,
    )


def _actions(raw: Any, what: str) -> tuple[Action, ...]:
    values = raw if isinstance(raw, list) else [raw]
    if not values:
        raise _Bad(f"{what} lists no action")
    actions = []
    for value in values:
        try:
            actions.append(Action(value))
        except ValueError:
            choices = ", ".join(a.value for a in Action)
            raise _Bad(f"{what}: {value!r} is not an action (one of {choices})") from None
    return tuple(actions)


# -- helpers ------------------------------------------------------------------------------------


def _known(raw: Mapping[str, Any], allowed: set[str], where: str | None, what: str) -> None:
    unknown = sorted(str(k) for k in raw if k not in allowed)
    if unknown:
        message = f"unknown key {unknown[0]!r} in {what} (expected {', '.join(sorted(allowed))})"
        if where is not None:
            raise PolicyTestError(f"{where}: {message}")
        raise _Bad(message, _line(raw))


def _strings(raw: Any, what: str) -> list[str]:
    if isinstance(raw, str):
        return [raw]
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        raise _Bad(f"`{what}` must be a list of strings")
    return list(raw)


def _optional_str(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, str):
        raise _Bad(f"`token.{key}` must be a string", _line(raw))
    return value


def _file_path(data: Mapping[str, Any], key: str, file: Path) -> Path | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise PolicyTestError(f"{_where(file, data)}: `{key}` must be a path (a string)")
    return file.parent / value


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        return f"{loc}: {first['msg']}"
    return str(exc)


def _kind(value: Any) -> str:
    return "a list" if isinstance(value, list) else type(value).__name__


def _where(file: Path, node: Any) -> str:
    line = _line(node)
    return f"{file}:{line}" if line else str(file)


def _line(node: Any) -> int | None:
    return getattr(node, "line", None)


def _plain(value: Any) -> Any:
    """Located containers back to plain dicts and lists (what the firewall and JSON expect)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class _LocatedDict(dict[Any, Any]):
    """A mapping from a test file that remembers the line it started on."""

    line: int = 0


class _LineLoader(yaml.SafeLoader):
    """SafeLoader whose mappings carry their line, for messages that point into the file.

    Duplicate keys are errors: YAML would silently keep the last one, and a test whose `expect`
    was written twice must not pass on whichever came last.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            if isinstance(key, str) and key in keys:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            if isinstance(key, str):
                keys.add(key)
        plain = super().construct_mapping(node, deep=True)
        located = _LocatedDict(plain)
        located.line = node.start_mark.line + 1
        return located


_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _LineLoader.construct_mapping,  # type: ignore[arg-type]
)
