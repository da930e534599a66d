"""The public surface: every name in `toolwall.__all__` resolves, and importing is cheap."""

from __future__ import annotations

import subprocess
import sys

import toolwall


def test_every_public_name_resolves() -> None:
    for name in toolwall.__all__:
        assert getattr(toolwall, name) is not None, name


def test_unknown_names_raise_attribute_error() -> None:
    try:
        toolwall.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_import_toolwall_loads_no_heavy_module() -> None:
    code = (
        "import sys, toolwall; "
        "heavy = [m for m in ('lark', 'jwt', 'hypothesis', 'sqlite3', 'toolwall.policy') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
