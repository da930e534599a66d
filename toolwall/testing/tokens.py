"""Tokens for `token:` callers in policy tests, minted on the fly with the development key."""

from __future__ import annotations

from pathlib import Path

from toolwall.engine import Firewall
from toolwall.testing.cases import PolicyTestError, TokenSpec


def mint(firewall: Firewall, spec: TokenSpec, key: Path | None) -> str:
    """A signed token for `spec` that the firewall's configured identity accepts."""
    try:
        from toolwall import devkeys  # type: ignore[attr-defined]
    except ImportError:
        raise PolicyTestError(
            "`token:` callers need toolwall.devkeys, which this installation lacks; "
            "give the caller inline with `caller:`"
        ) from None
    raise PolicyTestError(f"token minting is not wired to {devkeys.__name__} yet")
