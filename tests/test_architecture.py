"""The package's layout holds: layers point down, no import cycles, no reaching into another module's private names,
no module over the size limit, and no method or platform branches outside the modules that own them.
docs/architecture.md describes the layers these tests enforce."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ftspec"

# Lowest first: a module may import its own package and any package before it, never one after it.
LAYERS = ["core", "spec", "platforms", "runfolder", "tokenizer", "models", "scoring", "data", "methods", "pipeline",
          "lint", "launch", "plan", "train", "evaluate", "report", "runs", "cli"]
MAX_LINES = 400
# Where a method or a platform may be named: the modules that own them, the rules (a rule may target one), and the
# schema (the spec's own vocabulary).
METHOD_HOMES = ("methods", "lint/rules", "spec/schema.py")
PLATFORM_HOMES = ("platforms", "lint/rules", "spec/schema.py")
METHODS = {"sft", "dpo", "cpt", "grpo"}
PLATFORMS = {"ark", "bailian", "openai"}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(module, imported names, line) of every import in the file, lazy and TYPE_CHECKING ones included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [a.name for a in node.names], node.lineno))
    return found


def _target(name: str, imported: list[str]) -> list[str]:
    """The ftspec modules an import statement loads."""
    if not (name == "ftspec" or name.startswith("ftspec.")):
        return []
    out = [name] if name in MODULES else []
    out += [f"{name}.{n}" for n in imported if f"{name}.{n}" in MODULES]
    return out or [name]


def _layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1:
        return -1  # ftspec/__init__.py: the version
    return LAYERS.index(parts[1])


def _graph() -> dict[str, set[str]]:
    return {mod: {t for name, names, _ in _imports(path) for t in _target(name, names) if t != mod}
            for mod, path in MODULES.items()}


def test_every_package_has_a_layer():
    packages = {m.split(".")[1] for m in MODULES if "." in m}
    assert packages == set(LAYERS)
    assert not [p for p in PACKAGE.glob("*.py") if p.name != "__init__.py"], "the root holds packages only"


def test_layers_point_down():
    wrong = []
    for mod, path in MODULES.items():
        for name, names, line in _imports(path):
            for target in _target(name, names):
                if target.split(".")[:2] != mod.split(".")[:2] and _layer(target) > _layer(mod):
                    wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles():
    graph = _graph()
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, cycles


def test_nothing_reaches_into_another_modules_private_names():
    wrong = []
    for mod, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ftspec"):
                for a in node.names:
                    if a.name.startswith("_") and not a.name.startswith("__"):
                        wrong.append(f"{mod}:{node.lineno} imports {node.module}.{a.name}")
                    if f"{node.module}.{a.name}" in MODULES:
                        aliases[a.asname or a.name] = f"{node.module}.{a.name}"
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("ftspec") and a.asname:
                        aliases[a.asname] = a.name
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                    and node.attr.startswith("_") and not node.attr.startswith("__")):
                wrong.append(f"{mod}:{node.lineno} uses {aliases[node.value.id]}.{node.attr}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_size(module):
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{module}: {lines} lines; split it"


def _string_comparisons(path: Path, subject: str) -> list[tuple[int, str]]:
    """Comparisons of a name ending in ``subject`` (method, profile, ...) with a string literal or a tuple of them."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        named = any((isinstance(s, ast.Name) and s.id.endswith(subject)) or
                    (isinstance(s, ast.Attribute) and s.attr.endswith(subject)) for s in sides)
        literals = [c.value for s in sides for c in ([s] if isinstance(s, ast.Constant) else
                                                     getattr(s, "elts", [])) if isinstance(c, ast.Constant)]
        if named and any(isinstance(v, str) for v in literals):
            out.append((node.lineno, ast.unparse(node)))
    return out


def _outside(homes: tuple[str, ...]):
    for mod, path in MODULES.items():
        rel = path.relative_to(PACKAGE).as_posix()
        if not any(rel == h or rel.startswith(h.rstrip("/") + "/") for h in homes):
            yield rel, path


def test_no_method_branches_outside_the_method_modules():
    """`if method == "sft"` outside ftspec/methods/ means a Method hook is missing."""
    wrong = [f"{rel}:{line}: {code}" for rel, path in _outside(METHOD_HOMES)
             for line, code in _string_comparisons(path, "method")]
    assert not wrong, "\n".join(wrong)


def test_no_platform_named_outside_the_platform_modules():
    """A platform's figures and names live in ftspec/platforms/ (and the rules that apply them)."""
    wrong = []
    for rel, path in _outside(PLATFORM_HOMES):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in PLATFORMS:
                wrong.append(f"{rel}:{node.lineno}: {node.value!r}")
    assert not wrong, "\n".join(wrong)


def test_methods_registry_matches_the_schema():
    from ftspec.methods import all_methods, method_names
    from ftspec.spec.schema import METHODS as SCHEMA_METHODS

    assert sorted(m.name for m in all_methods()) == sorted(SCHEMA_METHODS) == sorted(method_names())
    from ftspec.methods.base import Method

    for method in all_methods():
        assert type(method).tokenize is not Method.tokenize, f"{method.name} does not say how TRL tokenizes it"
        assert method.training_entry.startswith("ftspec.train."), method.name
        assert (PACKAGE / "train" / f"{method.training_entry.rsplit('.', 1)[1]}.py").is_file(), method.name
        assert method.holdout_method in SCHEMA_METHODS, method.name
