"""`toolwall.toml`: loading, validation, and paths resolved relative to the file.

Every section is a pydantic model that forbids unknown keys, so a typo is a load error that
names the key instead of a setting silently ignored. Defaults are the safe choice.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from toolwall.errors import ConfigError

DEFAULT_CONFIG = "toolwall.toml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PolicyConfig(_Section):
    schemas: Path = Path("schemas")
    rules: Path | list[Path] = Path("rules")
    unknown_tool: Literal["block", "allow"] = "block"

    @property
    def rule_paths(self) -> list[Path]:
        return list(self.rules) if isinstance(self.rules, list) else [self.rules]


class Limits(_Section):
    """Bounds on a call's arguments, checked before anything else looks at them."""

    max_arg_bytes: int = Field(default=65536, gt=0)
    max_depth: int = Field(default=32, gt=0, le=1000)
    max_string_length: int = Field(default=16384, gt=0)


class ClaimNames(_Section):
    tools: str = "tools"
    groups: str = "groups"
    session: str = "sid"
    scope: str = "scope"


# The JWS algorithms toolwall accepts in `[identity] algorithms` ("none" never is).
HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
ASYMMETRIC_ALGORITHMS = frozenset(
    {
        "RS256", "RS384", "RS512",
        "PS256", "PS384", "PS512",
        "ES256", "ES256K", "ES384", "ES512",
        "EdDSA",
    }
)  # fmt: skip
JWS_ALGORITHMS = HMAC_ALGORITHMS | ASYMMETRIC_ALGORITHMS


class IdentityConfig(_Section):
    """How callers prove who they are: a JWT whose audience is toolwall.

    Exactly one key source. HMAC algorithms (HS*) go only with `hs256_secret_env`, and that
    secret only with HS*: a public key must never be usable as an HMAC secret.
    """

    audience: str = Field(min_length=1)
    issuer: str | None = None
    algorithms: list[str]
    public_key_file: Path | None = None
    jwks_file: Path | None = None
    jwks_url: str | None = None
    hs256_secret_env: str | None = None
    leeway_s: int = Field(default=30, ge=0, le=600)
    max_token_bytes: int = Field(default=8192, gt=0)
    jwks_timeout_s: float = Field(default=5.0, gt=0)
    jwks_cache_s: int = Field(default=300, ge=0)
    # After an unknown `kid` forced a refetch of jwks_url, the next forced refetch waits this
    # long, so tokens with made-up key ids cannot make toolwall hammer the identity provider.
    jwks_refresh_cooldown_s: float = Field(default=30.0, ge=0)
    cache_size: int = Field(default=1024, ge=0)
    claims: ClaimNames = ClaimNames()

    @field_validator("algorithms")
    @classmethod
    def _explicit_algorithms(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("list at least one algorithm")
        if any(a.lower() == "none" for a in value):
            raise ValueError('"none" is never accepted')
        unknown = [a for a in value if a not in JWS_ALGORITHMS]
        if unknown:
            raise ValueError(
                f"unknown algorithm {', '.join(unknown)} "
                f"(known: {', '.join(sorted(JWS_ALGORITHMS))})"
            )
        return value

    @model_validator(mode="after")
    def _one_key_source(self) -> IdentityConfig:
        sources = [
            name
            for name in ("public_key_file", "jwks_file", "jwks_url", "hs256_secret_env")
            if getattr(self, name) is not None
        ]
        if len(sources) != 1:
            found = ", ".join(sources) or "none"
            raise ValueError(
                "set exactly one key source of public_key_file, jwks_file, jwks_url, "
                f"hs256_secret_env (found: {found})"
            )
        hmac = [a for a in self.algorithms if a in HMAC_ALGORITHMS]
        if self.hs256_secret_env is None and hmac:
            raise ValueError(
                f"{', '.join(hmac)} needs hs256_secret_env: an HMAC algorithm with the public key "
                f"source {sources[0]} would let anyone who has the public key sign tokens"
            )
        if self.hs256_secret_env is not None and len(hmac) != len(self.algorithms):
            other = [a for a in self.algorithms if a not in HMAC_ALGORITHMS]
            raise ValueError(
                f"hs256_secret_env is an HMAC secret; it cannot verify {', '.join(other)}"
            )
        if self.jwks_url is not None:
            _check_jwks_url(self.jwks_url)
        return self


def _check_jwks_url(url: str) -> None:
    """https only, except plain http to this machine (a local identity provider, tests)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname in ("127.0.0.1", "::1", "localhost"):
        return
    raise ValueError(
        f"jwks_url must be an https:// URL (plain http only to 127.0.0.1/localhost): {url!r}"
    )


class AuditConfig(_Section):
    path: Path | None = None
    redact_keys: list[str] = Field(default_factory=lambda: ["password", "token", "secret"])
    redact_paths: list[str] = Field(default_factory=list)
    on_failure: Literal["block", "allow"] = "block"
    # fsync after every record: survives a power loss, at the cost of a disk flush per call.
    fsync: bool = False


class ApprovalsConfig(_Section):
    approver: Literal["deny", "console", "queue"] = "deny"
    queue: Path = Path("approvals.db")
    timeout_s: float = Field(default=300.0, gt=0)
    ttl_s: float = Field(default=900.0, gt=0)


REDIS_SCHEMES = ("redis", "rediss", "unix")
"""URL schemes of a single Redis (or Valkey) server, as the `redis` client reads them; with
`+cluster` (Redis Cluster) or `+sentinel` (a primary found through Sentinel) after redis/rediss."""


def check_redis_url(url: str) -> None:
    """`ValueError` unless `url` has a Redis URL scheme the state can use."""
    scheme = url.partition("://")[0].lower()
    base, _, mode = scheme.partition("+")
    if (
        "://" not in url
        or base not in REDIS_SCHEMES
        or mode not in ("", "cluster", "sentinel")
        or (mode and base == "unix")
    ):
        raise ValueError(
            f"url: {url.partition('://')[0]!r} is not a Redis URL scheme (redis://, rediss://, "
            "unix://, redis+cluster://, redis+sentinel://, and the same with rediss)"
        )


class StateConfig(_Section):
    """Where sessions, approvals and call-id decisions live (`toolwall.state`).

    `url`: a Redis URL (`redis://host:6379/0`, `rediss://user:pass@host`; `${VAR}` is taken
    from the environment when the state is built, so a password need not sit in the file), or
    the SQLite file for `backend = "sqlite"`. The bounds apply to every backend, except
    `max_sessions`, which bounds the memory backend (Redis and SQLite are bounded by
    `session_ttl_s` and the server's own memory).
    """

    backend: Literal["memory", "sqlite", "redis"] = "memory"
    url: str = ""
    key_prefix: str = Field(default="toolwall:", min_length=1, max_length=64)
    session_ttl_s: float = Field(default=86_400.0, gt=0)
    timeout_s: float = Field(default=0.5, gt=0, le=60)
    max_sessions: int = Field(default=10_000, gt=0)
    max_tools_per_session: int = Field(default=256, gt=0, le=65_535)
    max_remembered_calls: int = Field(default=1024, gt=0, le=1_000_000)

    @field_validator("key_prefix")
    @classmethod
    def _no_braces(cls, value: str) -> str:
        # The prefix becomes the keys' hash tag ({prefix}): a brace in it would cut the tag.
        if "{" in value or "}" in value:
            raise ValueError("a key prefix cannot contain { or }")
        return value

    @model_validator(mode="after")
    def _url_for_backend(self) -> StateConfig:
        if self.backend == "memory":
            if self.url:
                raise ValueError(
                    'url: the memory backend has no url (set backend = "sqlite" or "redis")'
                )
            return self
        if not self.url:
            example = "redis://127.0.0.1:6379/0" if self.backend == "redis" else "state.db"
            raise ValueError(f'backend = "{self.backend}" needs a url, e.g. url = "{example}"')
        if self.backend == "redis" and not self.url.startswith("${"):
            check_redis_url(self.url)  # a URL from the environment is checked when it is read
        return self


class McpServerConfig(_Section):
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: Path | None = None
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerConfig:
        if (self.command is None) == (self.url is None):
            raise ValueError("set exactly one of command (stdio) or url (streamable HTTP)")
        return self


class McpConfig(_Section):
    separator: str = Field(default="__", min_length=1)
    identity_header: str = "X-Toolwall-Identity"
    lock_file: Path = Path("toolwall.lock")
    # Without a lock file the gateway pins definitions for the run only (and warns); with
    # require_lock it refuses to start instead.
    require_lock: bool = False
    elicitation: bool = True
    call_timeout_s: float = Field(default=60.0, gt=0)
    servers: dict[str, McpServerConfig] = Field(default_factory=dict)

    @field_validator("identity_header")
    @classmethod
    def _not_authorization(cls, value: str) -> str:
        # The Authorization header belongs to the MCP transport (and often to the model's own
        # credentials): it must never be taken as the caller's grant.
        if value.strip().lower() in ("authorization", "proxy-authorization", "cookie", ""):
            raise ValueError(f"{value!r} cannot carry the toolwall identity; use its own header")
        return value.strip()

    @model_validator(mode="after")
    def _server_names(self) -> McpConfig:
        for name in self.servers:
            if not name or not all(c.isalnum() or c in "-_" for c in name):
                raise ValueError(f"server name {name!r}: use letters, digits, '-' and '_'")
            if self.separator in name:
                raise ValueError(f"server name {name!r} contains the separator {self.separator!r}")
        return self


class Config(_Section):
    """The whole `toolwall.toml`. `base_dir` is where relative paths in it resolve from."""

    policy: PolicyConfig = PolicyConfig()
    limits: Limits = Limits()
    identity: IdentityConfig | None = None
    audit: AuditConfig | None = None
    approvals: ApprovalsConfig = ApprovalsConfig()
    state: StateConfig = StateConfig()
    mcp: McpConfig = McpConfig()
    base_dir: Path = Field(default_factory=Path.cwd, exclude=True)
    path: Path | None = Field(default=None, exclude=True)

    def resolve(self, path: Path) -> Path:
        """A path from the file, made absolute relative to the file's folder."""
        return path if path.is_absolute() else self.base_dir / path

    @classmethod
    def load(cls, path: str | Path | None = None) -> Config:
        """Read and validate a `toolwall.toml`. Raises `ConfigError` naming the key at fault."""
        file = Path(path if path is not None else DEFAULT_CONFIG)
        try:
            raw = file.read_bytes()
        except FileNotFoundError:
            raise ConfigError(f"{file}: no such configuration file") from None
        except OSError as exc:
            raise ConfigError(f"{file}: cannot read: {exc.strerror or exc}") from None
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"{file}: not UTF-8 text ({exc.reason} at byte {exc.start})"
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file}: invalid TOML: {exc}") from None
        return cls.from_dict(data, base_dir=file.resolve().parent, source=file)

    @classmethod
    def from_dict(
        cls, data: dict[str, Any], base_dir: Path | None = None, source: Path | None = None
    ) -> Config:
        """Validate a configuration given as a dict (a parsed TOML document)."""
        for forbidden in ("base_dir", "path"):
            if forbidden in data:
                raise ConfigError(f"{source or 'config'}: {forbidden}: unknown key")
        try:
            return cls.model_validate({**data, "base_dir": base_dir or Path.cwd(), "path": source})
        except ValidationError as exc:
            raise ConfigError(_describe(exc, source)) from None


def _describe(exc: ValidationError, source: Path | None) -> str:
    where = str(source) if source is not None else "config"
    lines = []
    for err in exc.errors():
        key = ".".join(str(part) for part in err["loc"] if not str(part).startswith("function-"))
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        elif err["type"] == "missing":
            message = "required key is missing"
        else:
            message = err["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {key or '(top level)'}: {message}")
    return "\n".join(lines)
