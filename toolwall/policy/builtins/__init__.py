"""The builtin functions of the rule language, on attacker-controlled strings.

Every function here is pure, total on `str` (it returns a value or raises `BuiltinError`, nothing
else), runs in time linear in its input, and never touches the network or the file system. The
rule engine turns a `BuiltinError` into a rule error, and a rule error fails closed (a `block` or
`escalate` rule fires, a `rewrite` rule blocks), so when a value is ambiguous these functions
raise rather than guess.

- `host(url)`, `scheme(url)` (`urls`), `domain(email)` (`hosts`): what a real client would
  connect to.
- `norm_path(p)` (the language's `path()`), `under(child, parent)` (`paths`): lexical POSIX paths.
- `is_private(host_or_ip)` (`private`): addresses and names that are not on the public internet.
- `compile_regex`, `search`, `replace` (`regexes`): RE2 regexes (linear time, no backreferences).

Per-decision functions cache their results (bounded `functools.lru_cache`), so a policy that
calls `host(args.url)` in ten rules parses the URL once.

What the rules can call, with its types and documentation, is declared once in
`toolwall.policy.registry`, outside this package: the registry sits above the rule language's
operators (`toolwall.policy.semantics`), which use `under` from this package, and this package
below them, so the two never import each other in a circle.
"""

from toolwall.policy.builtins.hosts import domain
from toolwall.policy.builtins.paths import norm_path, under
from toolwall.policy.builtins.private import is_private
from toolwall.policy.builtins.regexes import Regex, compile_regex, replace, search
from toolwall.policy.builtins.urls import host, scheme
from toolwall.policy.errors import BuiltinError

__all__ = [
    "BuiltinError",
    "Regex",
    "compile_regex",
    "domain",
    "host",
    "is_private",
    "norm_path",
    "replace",
    "scheme",
    "search",
    "under",
]
