"""Properties of tool pinning and of the wire-name catalog, and the [mcp] config checks."""

from __future__ import annotations

from typing import Any

import mcp_types as types
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolwall.config import Config
from toolwall.errors import ConfigError
from toolwall.integrations.mcp.catalog import Catalog, catalog_entries
from toolwall.integrations.mcp.lock import ToolLock, ToolPin

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)
schemas = st.dictionaries(st.text(max_size=6), json_values, max_size=4)
tool_names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zs", "Zl", "Zp")),
    min_size=1,
    max_size=12,
).filter(lambda s: s.isprintable() and not any(c.isspace() for c in s))
server_names = st.from_regex(r"[a-z][a-z0-9-]{0,6}", fullmatch=True)


def reordered(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: reordered(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [reordered(v) for v in value]
    return value


@settings(max_examples=100, deadline=None)
@given(name=tool_names, description=st.none() | st.text(max_size=20), schema=schemas)
def test_pins_ignore_key_order(name: str, description: str | None, schema: dict[str, Any]):
    assert ToolPin.of(name, description, schema) == ToolPin.of(name, description, reordered(schema))


@settings(max_examples=100, deadline=None)
@given(
    description=st.text(max_size=20),
    other=st.text(max_size=20),
    schema=schemas,
    other_schema=schemas,
)
def test_a_check_names_what_changed(
    description: str, other: str, schema: dict[str, Any], other_schema: dict[str, Any]
):
    lock = ToolLock({"s.t": ToolPin.of("t", description, schema)})
    check = lock.check("s.t", ToolPin.of("t", other, other_schema))
    if description == other and schema == other_schema:
        assert check.ok
    else:
        assert not check.ok
        assert ("description" in check.change) == (description != other)
        assert ("input schema" in check.change) == (schema != other_schema)
    assert lock.check("s.u", ToolPin.of("u", description, schema)).change.startswith("new tool")


@settings(max_examples=100, deadline=None)
@given(
    servers=st.dictionaries(
        server_names, st.lists(tool_names, max_size=5, unique=True), max_size=3
    ),
    separator=st.sampled_from(["__", ".", "-", "::"]),
)
def test_every_wire_name_routes_back_to_its_own_tool(servers: dict[str, list[str]], separator: str):
    # The configuration refuses server names containing the separator (tested below).
    servers = {k: v for k, v in servers.items() if separator not in k}
    catalog = Catalog()
    for server, names in servers.items():
        tools = [types.Tool(name=n, input_schema={"type": "object"}) for n in names]
        catalog.replace(server, catalog_entries(server, tools, separator, ToolLock()))
    # Then a wire name splits one way only: every tool is reachable, and only by its own name.
    offered = {(s, n) for s, names in servers.items() for n in names}
    assert len(catalog.by_wire) == len(offered)
    for wire, entry in catalog.by_wire.items():
        assert wire == entry.server + separator + entry.upstream_name
        assert entry.internal == f"{entry.server}.{entry.upstream_name}"
        assert (entry.server, entry.upstream_name) in offered


def test_lock_file_round_trip(tmp_path: Any):
    lock = ToolLock({"git.git_status": ToolPin.of("git_status", "d", {"type": "object"})})
    lock.save(tmp_path / "toolwall.lock")
    assert ToolLock.load(tmp_path / "toolwall.lock").pins == lock.pins


@pytest.mark.parametrize("header", ["Authorization", "authorization ", "Cookie", ""])
def test_identity_header_cannot_be_a_transport_credential(header: str):
    with pytest.raises(ConfigError, match="cannot carry the toolwall identity"):
        Config.from_dict({"mcp": {"identity_header": header}})


@pytest.mark.parametrize("name", ["git__x", "a.b", "with space", ""])
def test_server_names_are_plain_and_never_contain_the_separator(name: str):
    with pytest.raises(ConfigError, match="server name"):
        Config.from_dict({"mcp": {"servers": {name: {"command": "x"}}}})


def test_a_server_has_one_transport():
    with pytest.raises(ConfigError, match="exactly one of command"):
        Config.from_dict({"mcp": {"servers": {"s": {"command": "x", "url": "http://h/mcp"}}}})
