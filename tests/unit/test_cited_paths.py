"""Every repository path, `file.md#anchor` and README section the docs, comments and
configuration cite exists: files move, headings get renamed, and a stale pointer sends a
newcomer nowhere."""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# CHANGELOG.md records what was true when each release shipped, old paths included; this file
# cites missing paths on purpose.
SKIPPED = {"CHANGELOG.md", "tests/unit/test_cited_paths.py"}
SCANNED = re.compile(r"(\.md|\.py|\.toml|\.yml|\.yaml|\.json|^\.ci/run)$")

TOP = r"(?:docs|tests|tap_zohocrm|simulator|scripts|orchestrate|bench|hub|target_configs|\.ci)"
# A repository-relative path: a top folder, then names; `<...>`, `*` and `{...}` make a pattern.
REPO_PATH = re.compile(rf"(?<![\w./~$-]){TOP}/[\w./-]*[\w/]")
# A Markdown file with an anchor, anywhere (links and plain text).
MD_ANCHOR = re.compile(r"(?<![\w/.-])([\w./-]*\.md)#([\w-]+)")
# A Markdown link target relative to the file it is in: [text](target).
MD_LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)\s]*)?\)")
# A README section named in words: `README, "Section"`, `"Section" in the README`.
README_SECTION = re.compile(r'README,? "([^"]+)"|"([^"]+)" in the README')


def tracked_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout.split()
    return sorted(f for f in listed if SCANNED.search(f) and f not in SKIPPED
                  and (ROOT / f).is_file())


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = text.replace("`", "").replace("*", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@cache
def headings(md: Path) -> tuple[set[str], set[str]]:
    """A Markdown file's heading anchors (with GitHub's -1, -2 for repeats) and titles."""
    anchors: set[str] = set()
    titles: set[str] = set()
    seen: dict[str, int] = {}
    in_code = False
    for line in md.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        match = None if in_code else re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            titles.add(match.group(1).replace("`", ""))
            slug = github_slug(match.group(1))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors, titles


def is_pattern(path: str) -> bool:
    # Also the virtual environments scripts make (`bench/.venv-airbyte`): never in the tree.
    return any(c in path for c in "<>*{}") or path.endswith("-") or "/.venv" in path


def resolve(path: str, source: str) -> Path | None:
    """A cited path: repository-relative, else relative to the citing file's folder."""
    for base in (ROOT, (ROOT / source).parent):
        candidate = (base / path).resolve()
        if candidate.exists():
            return candidate
    return None


def broken_citations(files: list[str]) -> list[str]:
    broken: list[str] = []
    for source in files:
        text = (ROOT / source).read_text(errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            where = f"{source}:{number}"
            for match in REPO_PATH.finditer(line):
                path = match.group(0).rstrip("./")
                if not is_pattern(path) and resolve(path, source) is None:
                    broken.append(f"{where}: {path} does not exist")
            if source.endswith(".md"):
                for match in MD_LINK.finditer(line):
                    target = match.group(1)
                    if (not re.match(r"[a-z]+:", target) and not is_pattern(target)
                            and not (ROOT / source).parent.joinpath(target).exists()):
                        broken.append(f"{where}: link {target} does not exist")
            for match in MD_ANCHOR.finditer(line):
                file, anchor = match.groups()
                md = resolve(file, source)
                if md is None:
                    broken.append(f"{where}: {file} does not exist")
                elif anchor not in headings(md)[0]:
                    broken.append(f"{where}: {file} has no heading #{anchor}")
            for match in README_SECTION.finditer(line):
                title = match.group(1) or match.group(2)
                if title not in headings(ROOT / "README.md")[1]:
                    broken.append(f"{where}: README has no section \"{title}\"")
    return broken


def test_github_slugs() -> None:
    assert github_slug("Credentials: Self Client and `tap-zohocrm auth`") == (
        "credentials-self-client-and-tap-zohocrm-auth")
    assert github_slug("What lands in PostgreSQL") == "what-lands-in-postgresql"
    assert github_slug("Text, numbers & dates (v8)") == "text-numbers--dates-v8"


def test_the_scan_finds_broken_citations(tmp_path: Path) -> None:
    # The checker itself: a moved file, a renamed heading and a missing README section show.
    source = ROOT / "docs" / "_cited_paths_probe.md"
    source.write_text("See tests/unit/no_such_test.py, [ops](operations.md#no-such-heading),\n"
                      "docs/loading.md#no-such-heading and README, \"No such section\".\n"
                      "Fine: docs/loading.md, [ops](operations.md#airflow), tests/<name>.py.\n")
    try:
        found = broken_citations(["docs/_cited_paths_probe.md"])
    finally:
        source.unlink()
    assert len(found) == 4, found
    assert all(":1:" in f or ":2:" in f for f in found), found


def test_every_cited_path_and_anchor_exists() -> None:
    files = tracked_files()
    assert "README.md" in files and "meltano.yml" in files and ".ci/run" in files
    broken = broken_citations(files)
    assert not broken, "cited but missing:\n" + "\n".join(broken)
