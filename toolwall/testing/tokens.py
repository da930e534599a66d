"""Tokens for `token:` callers in policy tests, minted on the fly with the development key.

The key is, in order: the case's `token.key`, the file's `key:`, the private half beside the
configured `public_key_file` (`x.pub` -> `x.key`), or `.toolwall/keys/toolwall-dev.key` next to
`toolwall.toml`. The token is then verified by the configured identity like any other, so a
test also covers the identity configuration (audience, issuer, claim names).
"""

from __future__ import annotations

from pathlib import Path

from toolwall.errors import ToolwallError
from toolwall.firewall import Firewall
from toolwall.identity.devkeys import PRIVATE_KEY_NAME, mint_token
from toolwall.testing.cases import PolicyTestError, TokenSpec

DEV_KEY_FOLDER = Path(".toolwall/keys")


def mint(firewall: Firewall, spec: TokenSpec, key: Path | None) -> str:
    """A signed token for `spec` that the firewall's configured identity should accept."""
    config = firewall.config
    identity = config.identity if config is not None else None
    if config is None or identity is None:
        raise PolicyTestError(
            "a `token:` caller needs an [identity] section in the configuration; "
            "give the caller inline with `caller:` instead"
        )
    if identity.public_key_file is None and spec.key is None and key is None:
        raise PolicyTestError(
            "a `token:` caller needs a private key: name it with `key:` in the test file "
            "(the configuration verifies tokens with a JWKS or a shared secret)"
        )
    private = spec.key or key or dev_key_for(config.base_dir, identity.public_key_file)
    try:
        return mint_token(
            private,
            sub=spec.sub,
            tools=spec.tools,
            groups=spec.groups,
            ttl_s=spec.ttl_s,
            audience=spec.audience or identity.audience,
            issuer=spec.issuer or identity.issuer,
            session=spec.session,
            claims=spec.claims,
            claim_names=identity.claims,
        )
    except ToolwallError as exc:
        raise PolicyTestError(f"cannot mint the test token: {exc}") from None


def dev_key_for(base_dir: Path, public_key_file: Path | None) -> Path:
    """The development private key that belongs to the configured public key."""
    if public_key_file is not None:
        public = public_key_file if public_key_file.is_absolute() else base_dir / public_key_file
        sibling = public.with_suffix(".key")
        if sibling.is_file():
            return sibling
    return base_dir / DEV_KEY_FOLDER / PRIVATE_KEY_NAME
