"""The package's shape: imports run one way (no cycles, nothing but the entry points imports
the tap module), and objects stay small: a class summed with every class of the package it
inherits from stays within 600 lines, with at most 2 bases from the package. Read from the
source, with every import counted, including those under TYPE_CHECKING and inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "tap_zohocrm"
ENTRY_POINTS = {"tap_zohocrm.cli", "tap_zohocrm.__main__"}
MAX_OBJECT_LINES = 600
MAX_PACKAGE_BASES = 2
MAX_CLASS_LINES = 300  # simulator classes


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, ast.Module]:
    return {module_name(p): ast.parse(p.read_text(), str(p))
            for p in sorted(PACKAGE.rglob("*.py"))}


def imports(name: str, tree: ast.Module, known: set[str]) -> set[str]:
    """The package's modules that `name` imports, wherever the import statement sits."""
    found: set[str] = set()
    package = name if name in known and any(k.startswith(name + ".") for k in known) \
        else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            for alias in node.names:
                target = f"{base}.{alias.name}"
                found.add(target if target in known else base)
    return {m for m in found if m in known and m != name}


def graph() -> dict[str, set[str]]:
    trees = modules()
    known = set(trees)
    return {name: imports(name, tree, known) for name, tree in trees.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_walker_sees_imports_and_cycles() -> None:
    # The checks below are only as good as this reading of the source.
    edges = graph()
    assert "tap_zohocrm.tap" in edges["tap_zohocrm.cli"]
    assert "tap_zohocrm.client" in edges["tap_zohocrm.streams.module"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_the_package() -> None:
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_only_the_entry_points_import_the_tap_module() -> None:
    importers = sorted(name for name, targets in graph().items()
                       if "tap_zohocrm.tap" in targets and name not in ENTRY_POINTS)
    assert importers == [], f"modules importing tap_zohocrm.tap: {importers}"


def package_classes(trees: dict[str, ast.Module]) -> dict[str, tuple[ast.ClassDef, list[str]]]:
    """Every class of the package by qualified name, with the qualified names of its bases
    that are classes of the package (found through each module's imports)."""
    defined = {f"{name}.{node.name}": node for name, tree in trees.items()
               for node in tree.body if isinstance(node, ast.ClassDef)}
    out: dict[str, tuple[ast.ClassDef, list[str]]] = {}
    for name, tree in trees.items():
        imported: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    imported[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        for node in tree.body:
            if not isinstance(node, ast.ClassDef):
                continue
            bases = []
            for base in node.bases:
                target = base.value if isinstance(base, ast.Subscript) else base
                if isinstance(target, ast.Name):
                    qualified = imported.get(target.id, f"{name}.{target.id}")
                    if qualified in defined:
                        bases.append(qualified)
            out[f"{name}.{node.name}"] = (node, bases)
    return out


def object_sizes(classes: dict[str, tuple[ast.ClassDef, list[str]]]) -> dict[str, int]:
    """Lines of each class with every package class it inherits from, each counted once."""
    def chain(name: str) -> set[str]:
        found = {name}
        for base in classes[name][1]:
            found |= chain(base)
        return found

    def lines(node: ast.ClassDef) -> int:
        return (node.end_lineno or node.lineno) - node.lineno + 1

    return {name: sum(lines(classes[c][0]) for c in chain(name)) for name in classes}


def test_the_object_reader_sums_package_bases() -> None:
    trees = {"p.a": ast.parse("class A:\n    x = 1\n    y = 2\n"),
             "p.b": ast.parse("from p.a import A\nclass B(A, object):\n    z = 3\n")}
    classes = package_classes(trees)
    assert classes["p.b.B"][1] == ["p.a.A"]
    assert object_sizes(classes) == {"p.a.A": 3, "p.b.B": 5}


def test_no_object_over_600_lines() -> None:
    sizes = object_sizes(package_classes(modules()))
    large = {name: size for name, size in sizes.items() if size > MAX_OBJECT_LINES}
    assert large == {}, "objects over 600 lines, with their package bases: " + str(large)


def test_no_class_with_more_than_2_package_bases() -> None:
    piles = {name: bases for name, (_, bases) in package_classes(modules()).items()
             if len(bases) > MAX_PACKAGE_BASES}
    assert piles == {}


def test_top_level_holds_only_the_tap_and_its_shared_parts() -> None:
    top = {p.stem for p in PACKAGE.glob("*.py")}
    assert top <= {"__init__", "__main__", "cli", "tap", "settings", "client", "pagination",
                   "responses", "errors", "data_centers", "cost_plan", "api_versions",
                   "zoho_api"}, top


SIMULATOR = PACKAGE.parent / "simulator" / "zoho_simulator"
BENCH = PACKAGE.parent / "bench"
MAX_OBJECT_LINES = 600  # a simulator class with every simulator class it inherits from
MAX_PACKAGE_BASES = 2


def folder_modules(folder: Path, prefix: str) -> dict[str, ast.Module]:
    """The modules of a folder, named `prefix` + their path (bench/: no prefix, as its scripts
    import each other by file name); hidden folders (virtual environments) left out."""
    out = {}
    for path in sorted(folder.rglob("*.py")):
        parts = path.relative_to(folder).with_suffix("").parts
        if any(part.startswith(".") for part in parts):
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(p for p in (prefix, *parts) if p)] = ast.parse(path.read_text(), str(path))
    return out


def folder_graph(folder: Path, prefix: str) -> dict[str, set[str]]:
    trees = folder_modules(folder, prefix)
    known = set(trees)
    return {name: imports(name, tree, known) for name, tree in trees.items()}


def simulator_classes() -> dict[tuple[str, str], tuple[int, list[tuple[str, str]]]]:
    """(module, class) -> (its lines, the simulator classes it names as bases). A base is
    followed through the module's own classes and its imports from the package."""
    trees = folder_modules(SIMULATOR, "zoho_simulator")
    known = set(trees)
    classes: dict[tuple[str, str], tuple[int, list[tuple[str, str]]]] = {}
    for name, tree in trees.items():
        package = name if name == "zoho_simulator" else name.rpartition(".")[0]
        names: dict[str, tuple[str, str]] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parent, *([base] if base else [])])
                if base in known:
                    names.update({a.asname or a.name: (base, a.name) for a in node.names})
            elif isinstance(node, ast.ClassDef):
                names[node.name] = (name, node.name)
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases = [names[b.id] for b in node.bases
                         if isinstance(b, ast.Name) and b.id in names]
                bases += [(f"{package}.{b.value.id}", b.attr) for b in node.bases
                          if isinstance(b, ast.Attribute) and isinstance(b.value, ast.Name)
                          and f"{package}.{b.value.id}" in known]
                classes[(name, node.name)] = ((node.end_lineno or 0) - node.lineno + 1, bases)
    return classes


def package_ancestors(cls: tuple[str, str],
                      classes: dict[tuple[str, str], tuple[int, list[tuple[str, str]]]]
                      ) -> set[tuple[str, str]]:
    seen: set[tuple[str, str]] = set()
    todo = list(classes[cls][1])
    while todo:
        base = todo.pop()
        if base in seen or base not in classes:
            continue
        seen.add(base)
        todo += classes[base][1]
    return seen


def test_the_readers_see_simulator_classes_and_bench_imports() -> None:
    classes = simulator_classes()
    assert ("zoho_simulator.simulator", "Simulator") in classes
    assert ("zoho_simulator.api_types", "ApiError") in classes
    assert "zoho_simulator.records" in folder_graph(SIMULATOR, "zoho_simulator")[
        "zoho_simulator.org"]
    assert "zoho_simulator.simulator" in folder_graph(SIMULATOR, "zoho_simulator")[
        "zoho_simulator"]
    assert folder_graph(BENCH, "")["per_record"] >= {"plain_sdk_tap"}
    fake = {("m", "A"): (400, []), ("m", "B"): (150, [("m", "A")]),
            ("m", "C"): (100, [("m", "B"), ("x", "Outside")])}
    assert package_ancestors(("m", "C"), fake) == {("m", "A"), ("m", "B")}


def test_no_simulator_object_over_600_lines() -> None:
    """A class and every simulator class it inherits from, summed: mixins piled onto one
    object count as one object (compose them instead), and at most two package bases."""
    classes = simulator_classes()
    large = []
    for cls, (lines, _) in sorted(classes.items()):
        ancestors = package_ancestors(cls, classes)
        total = lines + sum(classes[a][0] for a in ancestors)
        if total > MAX_OBJECT_LINES or len(ancestors) > MAX_PACKAGE_BASES:
            large.append(f"{cls[0]}.{cls[1]}: {total} lines, {len(ancestors)} package bases")
    assert large == []


def test_no_import_cycle_in_the_simulator_or_bench() -> None:
    cycles = {folder.name: " -> ".join(cycle) for folder, prefix in (
        (SIMULATOR, "zoho_simulator"), (BENCH, ""))
        if (cycle := find_cycle(folder_graph(folder, prefix)))}
    assert cycles == {}
