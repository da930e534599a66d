"""`path(p)` (`norm_path`) and the `under` operator: lexical POSIX paths, no file system."""

from __future__ import annotations

import functools
from typing import Final

from toolwall.policy.builtins.common import CACHE_INPUT_LIMIT, CACHE_SIZE, expect_str, show
from toolwall.policy.errors import BuiltinError

__all__ = ["norm_path", "under"]

_CONTROL: Final = frozenset([chr(c) for c in range(0x20)] + ["\x7f"])


def _norm_path(path: str) -> str:
    if not path:
        raise BuiltinError("empty path")
    if not _CONTROL.isdisjoint(path):
        if "\x00" in path:
            raise BuiltinError(f"path {show(path)} contains a NUL byte")
        raise BuiltinError(f"path {show(path)} contains a control character")
    absolute = path[0] == "/"
    parts: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not absolute:
                parts.append("..")
            # `..` at the root stays at the root, as the kernel does.
            continue
        parts.append(segment)
    if absolute:
        return "/" + "/".join(parts)
    return "/".join(parts) or "."


@functools.lru_cache(maxsize=CACHE_SIZE)
def _norm_path_cached(path: str) -> str:
    return _norm_path(path)


def norm_path(p: str) -> str:
    """The normalised POSIX form of path `p` (DSL: `path(p)`).

    Lexical, like `os.path.normpath` but for security: repeated slashes (also a leading `//`),
    `.` segments and trailing slashes go, `..` removes the segment before it and stays at `/`
    at the root; a relative path stays relative (`a/../../b` is `../b`, `a/..` is `.`).

    Raises `BuiltinError` for an empty path, a NUL (no system call accepts one, so it can only
    be an attempt to truncate the path) and any other ASCII control character (U+0000-U+001F,
    U+007F): legal in POSIX names but used to spoof logs and prompts, never in an honest path.
    Not done, because they need the file system: symlinks are not resolved (so
    `/srv/ws/link/../x` is `/srv/ws/x` here even if `link` points elsewhere), `~` is not
    expanded, and case is significant. Backslash is an ordinary character (POSIX). Tools should
    still open files relative to their root without following symlinks.
    """
    text = expect_str(p, "path")
    if len(text) <= CACHE_INPUT_LIMIT:
        return _norm_path_cached(text)
    return _norm_path(text)


def under(child: str, parent: str) -> bool:
    """Whether path `child` is `parent` or inside it, after `norm_path` on both (DSL: `under`).

    Containment is by whole segments: `/srv/workspace2` is not under `/srv/workspace`, and
    `/srv/workspace/../etc` is `/etc`. A relative path is never under an absolute one (nor the
    reverse), since the directory it is relative to is unknown. Trailing slashes do not matter.
    Raises `BuiltinError` when either path is invalid (see `norm_path`).
    """
    child_path = norm_path(expect_str(child, "under", "a path on its left"))
    parent_path = norm_path(expect_str(parent, "under", "a path on its right"))
    if child_path.startswith("/") != parent_path.startswith("/"):
        return False
    if child_path == parent_path or parent_path == "/":
        return True
    if parent_path == ".":
        return child_path != ".." and not child_path.startswith("../")
    return child_path.startswith(parent_path + "/")
