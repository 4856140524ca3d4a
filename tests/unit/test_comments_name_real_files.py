"""Every file and module the package's comments and docstrings name exists: after a module is
split or renamed, a comment still pointing at `prefetch.py` or `(bulk_parquet)` sends a reader
looking for code that is not there.

Three kinds of names are checked, each narrow enough to name nothing else:
- a file, `name.py` or `folder/name.py`: in the package, the repository, or next to the file;
- a dotted reference into the package (`schema.values.instant`, `export_gaps.LeftOutFields`):
  its module exists and defines the name; `x.Name` with `x` no module at all fails too;
- a lone snake_case word closing a parenthesis (`(bulk_parquet)`, `(see jsonl_batch)`), the way
  the comments cite a module: it must be a name the package's code uses.
"""

from __future__ import annotations

import ast
import importlib.util
import io
import re
import subprocess
import tokenize
from collections.abc import Iterator
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "tap_zohocrm"

FILE_NAME = re.compile(r"(?<![\w./-])((?:[\w-]+/)*\w+\.py)\b")
# Not in a path or URL (`.../v8/notes.html`); a file name (`tokens.db`) is no module reference.
DOTTED = re.compile(r"(?<![\w./-])([a-z_][a-z0-9_]*(?:\.[A-Za-z_]\w*)+)")
FILE_SUFFIXES = {"py", "md", "json", "jsonl", "yml", "yaml", "toml", "txt", "csv", "zip", "gz",
                 "db", "html", "parquet", "sql", "env", "sh", "cfg", "ini"}
CITED_WORD = re.compile(r"[(,;]\s*(?:see\s+)?([a-z][a-z0-9]*(?:_[a-z0-9]+)+)\)")


def comments_and_docstrings(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of every comment and docstring line of a Python file."""
    source = path.read_text()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.string
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            doc = ast.get_docstring(node, clean=False)
            if doc is not None:
                first = node.body[0].lineno
                for offset, line in enumerate(doc.splitlines()):
                    yield first + offset, line


@cache
def modules() -> dict[str, ast.Module]:
    """The package's modules by dotted name below the package (`sync.run`; `streams` for a
    package's __init__), parsed."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = ast.parse(path.read_text())
    return found


def defined_names(tree: ast.Module) -> set[str]:
    """Names a module defines at its top level (classes, functions, assignments, imports)."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


@cache
def code_words() -> frozenset[str]:
    """Every identifier the package's code uses, its modules' names, and the words of its
    string constants (settings, JSON keys), docstrings left out."""
    words: set[str] = set()
    for name, tree in modules().items():
        words |= set(name.split("."))
        docstrings = {id(n.value) for n in ast.walk(tree)
                      if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)}
        for node in ast.walk(tree):
            if id(node) in docstrings:
                continue
            for field in ("id", "attr", "name", "arg", "asname", "module"):
                value = getattr(node, field, None)
                if isinstance(value, str):
                    words |= set(value.split("."))
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                words |= set(re.findall(r"\w+", node.value))
    return frozenset(words)


@cache
def import_aliases() -> frozenset[str]:
    """`pa` of `import pyarrow as pa`: a short name the comments may use for a library."""
    return frozenset(alias.asname for tree in modules().values() for node in ast.walk(tree)
                     if isinstance(node, ast.Import | ast.ImportFrom)
                     for alias in node.names if alias.asname)


@cache
def tracked_names() -> frozenset[str]:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout.split()
    return frozenset(Path(f).name for f in listed)


def file_exists(cited: str, source: Path) -> bool:
    if "/" in cited:
        return any((base / cited).is_file() for base in (ROOT, PACKAGE, source.parent))
    return any(PACKAGE.rglob(cited)) or cited in tracked_names()


def dotted_error(reference: str) -> str | None:
    """Why a dotted reference names nothing, or None when it resolves or is not one into the
    package."""
    parts = reference.split(".")
    if parts[0] == "tap_zohocrm":
        parts = parts[1:]
    if not parts or parts[-1] in FILE_SUFFIXES:
        return None
    known = modules()
    packages = {m for m in known if any(k.startswith(m + ".") for k in known)}
    # The longest leading run of parts that names a module, by its full or its last names.
    for length in range(len(parts), 0, -1):
        head = ".".join(parts[:length])
        matches = [m for m in known if m == head or m.endswith("." + head)]
        if not matches:
            continue
        rest = parts[length:]
        # `run.stop`, `module.api_name`: more likely an object's attribute than a module's name.
        if not rest:
            return None
        module_like = "." in head or head in packages or "_" in head or rest[0][:1].isupper()
        if not module_like or any(rest[0] in defined_names(known[m]) for m in matches):
            return None
        return f"{head} defines no {rest[0]}"
    first = parts[0]
    if reference.startswith("tap_zohocrm."):
        return f"no module {first}"
    # `prefetch.PageFeed`: a module's class, from no module of the package or elsewhere.
    if len(parts) > 1 and parts[1][:1].isupper() and first not in import_aliases() \
            and not importable(first):
        return f"no module {first}"
    return None


def importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return True  # found, but not importable here: a module all the same


def broken_names(path: Path) -> list[str]:
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    broken = []
    for number, text in comments_and_docstrings(path):
        for match in FILE_NAME.finditer(text):
            if not file_exists(match.group(1), path):
                broken.append(f"{where}:{number}: {match.group(1)} does not exist")
        for match in DOTTED.finditer(text):
            reference = match.group(1)
            if reference.endswith(".py"):
                continue  # a file name, checked above
            error = dotted_error(reference)
            if error:
                broken.append(f"{where}:{number}: {reference}: {error}")
        for match in CITED_WORD.finditer(text):
            if match.group(1) not in code_words():
                broken.append(f"{where}:{number}: ({match.group(1)}) names no module or name "
                              "of the package")
    return broken


def test_the_scan_finds_names_of_missing_files_and_modules(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        '"""Pages read ahead (prefetch.py), see prefetch.PageFeed and streams.NO_SUCH_KEY."""\n'
        "# Written as Parquet (bulk_parquet), then JSONL (see jsonl_batch).\n"
        "# Fine: sync/stop.py, stop.py, tests/unit/test_layout.py, schema.values.instant,\n"
        "# export_gaps.LeftOutFields, time.monotonic, pa.Table, (post_process), Modified_Time.\n"
    )
    found = broken_names(probe)
    assert [f.split(": ", 1)[1] for f in found] == [
        "(bulk_parquet) names no module or name of the package",
        "(jsonl_batch) names no module or name of the package",
        "prefetch.py does not exist",
        "prefetch.PageFeed: no module prefetch",
        "streams.NO_SUCH_KEY: streams defines no NO_SUCH_KEY",
    ], found


def test_every_file_and_module_named_in_comments_exists() -> None:
    broken = [line for path in sorted(PACKAGE.rglob("*.py")) for line in broken_names(path)]
    assert not broken, "comments naming what does not exist:\n" + "\n".join(broken)
