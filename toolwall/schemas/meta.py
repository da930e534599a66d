"""The metaschema check at load: is a tool's schema a valid JSON Schema?

`jsonschema`'s `check_schema` takes about 3 ms a schema (the 2020-12 metaschema resolves
`$dynamicRef`s through URL joins), so a thousand tools took seconds to load. jsonschema-rs checks
the same metaschema in microseconds. Its yes also needs what `check_schema` adds through its
format checker: patterns that Python's `re` compiles (jsonschema-rs treats formats as
annotations). Any no, or any doubt, goes to `check_schema`, which decides and says why: a schema
is refused exactly when it was refused before. `tests/schemas/test_registry.py` compares the two.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import jsonschema_rs
from jsonschema.exceptions import SchemaError
from jsonschema.protocols import Validator

from toolwall.errors import SchemaLoadError
from toolwall.schemas.regexes import schema_patterns


def meta_valid_fast(schema: Mapping[str, Any]) -> bool:
    """True when the schema surely passes `jsonschema`'s metaschema check; False: ask it."""
    try:
        if not jsonschema_rs.meta.is_valid(dict(schema)):
            return False
        for pattern in schema_patterns(schema):
            re.compile(pattern)
    except Exception:  # a draft jsonschema-rs does not know, a pattern Python cannot compile
        return False
    return True


def check_metaschema(
    cls: type[Validator], schema: Mapping[str, Any], name: str, source: str
) -> None:
    """Raise `SchemaLoadError` (with jsonschema's reason and where) unless `schema` is valid
    under the metaschema of `cls`."""
    if meta_valid_fast(schema):
        return
    try:
        cls.check_schema(dict(schema))
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        raise SchemaLoadError(
            f"{source}: schema of {name!r} is not a valid JSON Schema at {where}: {exc.message}"
        ) from None
