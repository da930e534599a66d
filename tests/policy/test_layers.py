"""What `toolwall.policy` may import, checked on the source: leaves of toolwall below it, nothing
of the pipeline, state or integrations, and the checking side never reaches the compiling side."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "toolwall" / "policy"
THIRD_PARTY = {"lark", "re2", "idna", "jsonschema"}
TOOLWALL_LEAVES = {
    "toolwall.model",
    "toolwall.errors",
    "toolwall.patterns",
    "toolwall.regex",
    "toolwall.canonical",
    "toolwall.config",
    "toolwall.schemas",
}
# Parse and check must not depend on compiling or running rules.
CHECKING = {"checker", "typecheck", "schema_lookup", "constants", "static_types", "semantics"}
COMPILING = {"compiler", "compiled", "compiled_rule", "evaluate", "env", "load"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(["toolwall.policy", *(p for p in parts if p != "__init__")])


def _runtime_nodes(tree: ast.Module) -> list[ast.stmt]:
    """Every statement but those under `if TYPE_CHECKING:` (type-only imports run nothing)."""
    todo, out = list(tree.body), []
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            todo.extend(node.orelse)
            continue
        out.append(node)
        todo.extend(child for child in ast.iter_child_nodes(node) if isinstance(child, ast.stmt))
    return out


def _imports() -> dict[str, set[str]]:
    paths = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    found: dict[str, set[str]] = {}
    for module, path in paths.items():
        names: set[str] = set()
        for node in _runtime_nodes(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0 and node.module is not None, f"{path}: relative import"
                for alias in node.names:
                    # `from toolwall.policy import ast` imports the module toolwall.policy.ast
                    submodule = f"{node.module}.{alias.name}"
                    names.add(submodule if submodule in paths else node.module)
        found[module] = names
    return found


IMPORTS = _imports()


def _internal(name: str) -> str | None:
    """The toolwall.policy module an imported name is (or is in), if any."""
    while name.startswith("toolwall.policy"):
        if name in IMPORTS:
            return name
        name = name.rpartition(".")[0]
    return None


def _reaches(module: str) -> set[str]:
    seen: set[str] = set()
    todo = [module]
    while todo:
        for name in IMPORTS[todo.pop()]:
            internal = _internal(name)
            if internal is not None and internal not in seen:
                seen.add(internal)
                todo.append(internal)
    return seen


def test_only_the_standard_library_its_dependencies_and_toolwall_leaves() -> None:
    assert len(IMPORTS) > 25
    for module, names in IMPORTS.items():
        for name in names:
            top = name.partition(".")[0]
            if top == "toolwall":
                if name.startswith("toolwall.policy"):
                    continue
                assert any(
                    name == leaf or name.startswith(leaf + ".") for leaf in TOOLWALL_LEAVES
                ), f"{module} imports {name}"
            else:
                assert top in sys.stdlib_module_names or top in THIRD_PARTY, (
                    f"{module} imports {name}"
                )


def test_the_checking_side_never_reaches_the_compiling_side() -> None:
    compiling = {f"toolwall.policy.{m}" for m in COMPILING}
    for module in CHECKING:
        reached = _reaches(f"toolwall.policy.{module}") & compiling
        assert not reached, f"{module} reaches {sorted(reached)}"


def test_the_builtins_and_the_compiled_policy_do_not_reach_the_compiler() -> None:
    for module in IMPORTS:
        if module.startswith("toolwall.policy.builtins") or module.endswith(
            (".compiled", ".compiled_rule", ".evaluate")
        ):
            assert "toolwall.policy.compiler" not in _reaches(module), module
            assert "toolwall.policy.checker" not in _reaches(module), module


def test_the_library_builtins_do_not_reach_the_rule_language() -> None:
    """`toolwall.policy.builtins` (host, path, ...) works on strings alone: usable, and
    importable, without the language's operators or its registry (which sit above it)."""
    for module in IMPORTS:
        if module.startswith("toolwall.policy.builtins") and not module.endswith(
            (".registry", ".reference")
        ):
            reached = _reaches(module)
            assert reached <= {m for m in IMPORTS if m.startswith("toolwall.policy.builtins")} | {
                "toolwall.policy.errors"
            }, (module, reached)
