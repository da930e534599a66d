"""`path()` (`norm_path`) and `under`: lexical POSIX paths on the inputs attackers send."""

from __future__ import annotations

import posixpath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolwall.policy.builtins.paths import norm_path, under
from toolwall.policy.errors import BuiltinError

budget = settings(max_examples=200, deadline=None)


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("/srv/workspace/a.txt", "/srv/workspace/a.txt"),
        ("/srv/workspace/../../etc/passwd", "/etc/passwd"),
        ("/srv/workspace/../etc", "/srv/etc"),
        ("/srv//workspace///a", "/srv/workspace/a"),
        ("//etc/passwd", "/etc/passwd"),  # POSIX leaves `//` implementation-defined; Linux: `/`
        ("///etc", "/etc"),
        ("/srv/./workspace/./a/.", "/srv/workspace/a"),
        ("/srv/workspace/", "/srv/workspace"),
        ("/srv/workspace//", "/srv/workspace"),
        ("/", "/"),
        ("/..", "/"),
        ("/../../..", "/"),
        ("/../etc", "/etc"),
        ("/.", "/"),
        ("a/b/../c", "a/c"),
        ("a/..", "."),
        ("a/../../b", "../b"),
        ("../x/", "../x"),
        ("./a", "a"),
        (".", "."),
        ("..", ".."),
        ("~/.ssh", "~/.ssh"),  # no expansion: a relative path
        ("a\\..\\b", "a\\..\\b"),  # backslash is an ordinary character on POSIX
        ("/srv/wörk space/ä", "/srv/wörk space/ä"),
        ("/a/.../b", "/a/.../b"),  # `...` is a name, not a parent
    ],
)
def test_norm_path(raw: str, normal: str) -> None:
    assert norm_path(raw) == normal


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "empty path"),
        ("/srv/workspace/a\x00.txt", "NUL"),
        ("\x00", "NUL"),
        ("/srv/a\nb", "control character"),
        ("/srv/a\rb", "control character"),
        ("/srv/a\tb", "control character"),
        ("/srv/\x1b[31m", "control character"),
        ("/srv/a\x7f", "control character"),
    ],
)
def test_norm_path_rejects(raw: str, message: str) -> None:
    with pytest.raises(BuiltinError, match=message):
        norm_path(raw)


@pytest.mark.parametrize("value", [None, 5, b"/etc", ["/etc"], True])
def test_norm_path_rejects_non_strings(value: object) -> None:
    with pytest.raises(BuiltinError, match=r"path\(\) expects a string"):
        norm_path(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("child", "parent", "inside"),
    [
        ("/srv/workspace", "/srv/workspace", True),
        ("/srv/workspace/a/b.txt", "/srv/workspace", True),
        ("/srv/workspace/", "/srv/workspace", True),
        ("/srv/workspace", "/srv/workspace/", True),
        ("/srv/workspace//a", "/srv/workspace///", True),
        ("/srv/workspace/./a", "/srv/./workspace", True),
        ("/srv/workspace/a/../b", "/srv/workspace", True),
        ("/srv/workspace2", "/srv/workspace", False),  # sibling prefix
        ("/srv/workspace2/a", "/srv/workspace", False),
        ("/srv/workspace.bak", "/srv/workspace", False),
        ("/srv/workspace-old/x", "/srv/workspace", False),
        ("/srv/workspace/../etc", "/srv/workspace", False),
        ("/srv/workspace/..", "/srv/workspace", False),
        ("/srv/workspace/../workspace2", "/srv/workspace", False),
        ("/srv/workspace/../../../../etc/passwd", "/srv/workspace", False),
        ("/srv", "/srv/workspace", False),  # parent is not under its child
        ("/", "/srv/workspace", False),
        ("/etc/passwd", "/", True),
        ("/", "/", True),
        ("//srv/workspace/a", "/srv/workspace", True),
        ("srv/workspace/a", "/srv/workspace", False),  # relative is never under absolute
        ("workspace/a", "/srv/workspace", False),
        ("/srv/workspace/a", "srv/workspace", False),
        ("a/b", "a", True),
        ("a/../b", "a", False),
        ("b", ".", True),
        (".", ".", True),
        ("..", ".", False),
        ("../x", ".", False),
        ("a/../../x", ".", False),
    ],
)
def test_under(child: str, parent: str, inside: bool) -> None:
    assert under(child, parent) is inside


@pytest.mark.parametrize(("child", "parent"), [("/srv/a\x00", "/srv"), ("/srv/a", ""), ("", "/")])
def test_under_rejects_invalid_paths(child: str, parent: str) -> None:
    with pytest.raises(BuiltinError):
        under(child, parent)


def test_under_rejects_non_strings() -> None:
    with pytest.raises(BuiltinError, match="on its left"):
        under(1, "/srv")  # type: ignore[arg-type]
    with pytest.raises(BuiltinError, match="on its right"):
        under("/srv", None)  # type: ignore[arg-type]


def test_long_paths_are_normalised_without_the_cache() -> None:
    deep = "/srv/workspace" + "/a/.." * 5000 + "/b"
    assert norm_path(deep) == "/srv/workspace/b"
    assert under(deep, "/srv/workspace")
    assert not under("/srv/workspace" + "/.." * 5000 + "/etc", "/srv/workspace")


segment = st.one_of(
    st.sampled_from(["", ".", "..", "...", "a", "b", "srv", "ws", "ws2", "~", "a.b", " "]),
    st.text(st.characters(blacklist_categories=["Cc", "Cs"], blacklist_characters="/"), max_size=4),
)
paths = st.lists(segment, min_size=1, max_size=10).map("/".join).filter(bool)
names = st.text(
    st.characters(blacklist_categories=["Cc", "Cs"], blacklist_characters="/."), min_size=1
)


def _posix_oracle(path: str) -> str:
    """posixpath.normpath, except that a leading `//` is `/` (Linux) rather than kept."""
    normal = posixpath.normpath(path)
    return "/" + normal.lstrip("/") if normal.startswith("//") else normal


@budget
@given(paths)
def test_norm_path_is_idempotent(path: str) -> None:
    once = norm_path(path)
    assert norm_path(once) == once


@budget
@given(paths)
def test_norm_path_agrees_with_posixpath(path: str) -> None:
    assert norm_path(path) == _posix_oracle(path)


@budget
@given(paths)
def test_normal_paths_have_no_dot_segments_or_empty_segments(path: str) -> None:
    normal = norm_path(path)
    segments = normal.split("/")[1:] if normal.startswith("/") else normal.split("/")
    if normal == "/":
        return
    assert ("" not in segments and "." not in segments) or normal == "."
    if normal.startswith("/"):
        assert ".." not in segments


@budget
@given(paths)
def test_every_path_is_under_itself(path: str) -> None:
    assert under(path, path)
    assert under(path + "/", path)


@budget
@given(st.lists(names, min_size=1, max_size=5), names, st.lists(names, max_size=3))
def test_sibling_prefix_is_never_under(
    parent_parts: list[str], suffix: str, rest: list[str]
) -> None:
    parent = "/" + "/".join(parent_parts)
    sibling = "/".join([parent + suffix, *rest])
    assert not under(sibling, parent)
    assert under("/".join([parent, *rest]), parent)


@budget
@given(paths, paths)
def test_under_means_prefix_by_segments(child: str, parent: str) -> None:
    normal_child, normal_parent = norm_path(child), norm_path(parent)
    if under(child, parent):
        assert normal_child.startswith("/") == normal_parent.startswith("/")
        child_segments = [s for s in normal_child.split("/") if s not in ("", ".")]
        parent_segments = [s for s in normal_parent.split("/") if s not in ("", ".")]
        assert child_segments[: len(parent_segments)] == parent_segments
