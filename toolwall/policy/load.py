"""Rule files -> checked, compiled policy: the one way through (parse, check, compile).

`load_policy` is what `toolwall.loader` calls; `check_sources` is what `toolwall check` shows.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable
from pathlib import Path

from toolwall.errors import PolicyError
from toolwall.policy import ast
from toolwall.policy.checker import check_modules
from toolwall.policy.compiled import Assertion, CompiledPolicy
from toolwall.policy.compiled_rule import CompiledRule
from toolwall.policy.compiler import Scope, compile_assertion, compile_rule
from toolwall.policy.diagnostics import Diagnostic, sort_key, summary
from toolwall.policy.errors import CompileError, ParseError
from toolwall.policy.parser import parse_text
from toolwall.schemas.registry import SchemaRegistry


def rule_files(paths: Iterable[Path]) -> list[Path]:
    """The `.tw` files named by `paths` (files, or folders searched recursively), sorted, so
    that the order in which files or folders are listed never changes the policy."""
    found: set[Path] = set()
    for path in paths:
        path = Path(path)
        if path.is_dir():
            found.update(p for p in path.rglob("*.tw") if p.is_file())
        elif path.is_file():
            found.add(path)
        else:
            raise PolicyError(f"{path}: rule file or folder does not exist")
    return sorted(found, key=lambda p: str(p))


def read_sources(paths: Iterable[Path], base: Path | None = None) -> list[tuple[str, str]]:
    """(name, text) of each rule file. A file inside `base` is named relative to it, so that
    locations read `rules/assistant.tw:16:1` wherever the policy folder lives."""
    sources = []
    for file in rule_files(paths):
        try:
            # utf-8-sig: an editor's byte-order mark is not part of the policy.
            text = file.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise PolicyError(f"{file}: not UTF-8 text") from None
        except OSError as exc:
            raise PolicyError(f"{file}: cannot read: {exc.strerror or exc}") from None
        sources.append((_display_name(file, base), text))
    return sources


def _display_name(file: Path, base: Path | None) -> str:
    if base is not None:
        resolved, root = file.resolve(), base.resolve()
        if resolved.is_relative_to(root):
            return resolved.relative_to(root).as_posix()
    return str(file)


def check_sources(
    sources: list[tuple[str, str]], schemas: SchemaRegistry
) -> tuple[list[Diagnostic], list[ast.Module], dict[str, object]]:
    """Parse and check `(filename, text)` pairs: every diagnostic, sorted, and what parsed."""
    paused = gc.isenabled()
    gc.disable()
    try:
        return _check_sources(sources, schemas)
    except RecursionError:
        raise PolicyError(
            "the rules cannot be checked: an expression is nested too deeply"
        ) from None
    finally:
        if paused:
            gc.enable()


def _check_sources(
    sources: list[tuple[str, str]], schemas: SchemaRegistry
) -> tuple[list[Diagnostic], list[ast.Module], dict[str, object]]:
    diagnostics: list[Diagnostic] = []
    modules: list[ast.Module] = []
    for filename, text in sorted(sources):
        try:
            modules.append(parse_text(text, filename))
        except ParseError as exc:
            diagnostics.extend(exc.diagnostics)
    found, lets = check_modules(modules, schemas)
    diagnostics.extend(found)
    diagnostics.sort(key=sort_key)
    return diagnostics, modules, lets


def compile_sources(sources: list[tuple[str, str]], schemas: SchemaRegistry) -> CompiledPolicy:
    """Parse, check and compile. Raises `PolicyError` carrying every diagnostic on any error."""
    # Loading builds many small objects and frees few: the cyclic collector would rescan them
    # again and again (it doubles the load time of a large policy), so it waits until the end.
    paused = gc.isenabled()
    gc.disable()
    try:
        return _compile_sources(sources, schemas)
    except RecursionError:
        raise PolicyError(
            "the rules cannot be loaded: an expression is nested too deeply"
        ) from None
    finally:
        if paused:
            gc.enable()


def _compile_sources(sources: list[tuple[str, str]], schemas: SchemaRegistry) -> CompiledPolicy:
    diagnostics, modules, lets = _check_sources(sources, schemas)
    errors = [d for d in diagnostics if d.is_error]
    if errors:
        raise PolicyError(
            f"the rules have {summary(diagnostics)}:\n" + "\n".join(d.render() for d in errors),
            list(diagnostics),
        )
    scope = Scope(dict(lets))
    rules: list[CompiledRule] = []
    assertions: list[Assertion] = []
    taints: list[str] = []
    try:
        for module in modules:
            for stmt in module.statements:
                if isinstance(stmt, ast.Rule):
                    rules.append(compile_rule(stmt, scope, len(rules)))
                elif isinstance(stmt, ast.Assert):
                    assertions.append(compile_assertion(stmt, scope))
                elif isinstance(stmt, ast.Taint):
                    taints.extend(p.text for p in stmt.patterns if p.text not in taints)
    except CompileError as exc:  # the checker lets nothing through that fails here
        source = next((m.text for m in modules if m.file == exc.loc.file), "")
        diagnostic = Diagnostic.at("error", exc.loc, exc.message, source)
        raise PolicyError(diagnostic.render(), [*diagnostics, diagnostic]) from None
    warnings = [d for d in diagnostics if not d.is_error]
    return CompiledPolicy(
        rules,
        taints,
        assertions,
        dict(lets),
        warnings,
        scope.max_depth,
        [m.file for m in modules],
    )


def load_policy(
    paths: Iterable[Path | str], schemas: SchemaRegistry, base: Path | None = None
) -> CompiledPolicy:
    """Load the `.tw` files (or folders of them) at `paths` into a compiled policy.

    Files are read in sorted order. Raises `PolicyError` with every diagnostic when anything is
    wrong; warnings are kept in `policy.warnings`. Files inside `base` (the configuration's
    folder, when loaded from `toolwall.toml`) are named relative to it in locations.
    """
    return compile_sources(read_sources((Path(p) for p in paths), base), schemas)


def compile_text(
    text: str, schemas: SchemaRegistry | None = None, filename: str = "<text>"
) -> CompiledPolicy:
    """Compile one policy text (for tests and library use)."""
    return compile_sources([(filename, text)], schemas if schemas is not None else SchemaRegistry())
