"""An org of a multi-org Meltano project: the inherited extractor `tap-zohocrm--<org>`.

`tap-zohocrm auth --org acme` adds one to meltano.yml by inserting its lines at the end of
`plugins.extractors`, so the rest of the user's file (order, comments, quoting) stays as it
was; the result is parsed again and must be the old project plus the new extractor, or nothing
is written. Meltano names the org's settings' variables after the extractor
(TAP_ZOHOCRM__ACME_CLIENT_ID): its secrets go to .env, never here.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import yaml

BASE_EXTRACTOR = "tap-zohocrm"
ORG_PREFIX = f"{BASE_EXTRACTOR}--"
ORG_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
# Zoho's API concurrency per org by edition (the pool the Airflow DAG gives the org).
EDITIONS = {"free": 5, "standard": 10, "professional": 15, "enterprise": 20, "ultimate": 25}

_TOP_KEY = re.compile(r"plugins:\s*(#.*)?$")
_EXTRACTORS_KEY = re.compile(r"( +)extractors:\s*(#.*)?$")


class ProjectError(Exception):
    """meltano.yml cannot take the org; the message says what to fix."""


def org_name_error(org: str) -> str | None:
    if ORG_NAME.fullmatch(org):
        return None
    return (f"--org {org!r}: use lowercase letters, digits and _ (starting with a letter, at "
            "most 40): it names the extractor tap-zohocrm--<org> and the schema zoho_<org>")


def org_extractor(org: str) -> str:
    return f"{ORG_PREFIX}{org}"


def org_schema(org: str) -> str:
    return f"zoho_{org}"


def env_prefix(plugin: str) -> str:
    """Meltano's prefix of a plugin's setting variables: TAP_ZOHOCRM__ACME for
    tap-zohocrm--acme (its name, every other character than a letter or digit an _)."""
    return re.sub(r"[^A-Za-z0-9]", "_", plugin).upper()


def org_entry(org: str, config: dict[str, Any],
              airflow: dict[str, Any] | None = None) -> dict[str, Any]:
    """The org's extractor in meltano.yml: no secret in it."""
    entry: dict[str, Any] = {"name": org_extractor(org), "inherit_from": BASE_EXTRACTOR,
                             "load_schema": org_schema(org), "config": dict(config)}
    if airflow:
        entry["annotations"] = {"airflow": dict(airflow)}
    return entry


def read_project(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        raise ProjectError(f"no meltano.yml at {path}: run this in the Meltano project's "
                           "directory, or pass --meltano-yml") from None
    except OSError as exc:
        raise ProjectError(f"cannot read {path}: {exc.strerror}") from None


def add_org(text: str, entry: dict[str, Any], path: Path) -> str:
    """meltano.yml's text with the org's extractor appended to `plugins.extractors`."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ProjectError(f"{path} is not valid YAML{where}: fix it first") from None
    extractors = ((data or {}).get("plugins") or {}).get("extractors") \
        if isinstance(data, dict) and isinstance(data.get("plugins") or {}, dict) else None
    if not isinstance(extractors, list):
        raise ProjectError(f"{path} has no plugins.extractors list: add the tap-zohocrm "
                           "extractor first (docs/install.md)")
    names = [e.get("name") for e in extractors if isinstance(e, dict)]
    if BASE_EXTRACTOR not in names:
        raise ProjectError(f"{path} has no extractor {BASE_EXTRACTOR} for the org to inherit "
                           "from: add it first (docs/install.md)")
    if entry["name"] in names:
        org = entry["name"].removeprefix(ORG_PREFIX)
        raise ProjectError(f"org {org!r} exists: {path} already has the extractor "
                           f"{entry['name']}; choose another --org, or remove that extractor "
                           f"(and its {env_prefix(entry['name'])}_* lines in .env) first")
    lines = text.splitlines(keepends=True)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    at, item_indent = _insertion_point(lines)
    if at is None:
        raise ProjectError(f"cannot find where plugins.extractors ends in {path} (a flow-style "
                           "list?): add the org's extractor yourself, see docs/multi-org.md")
    if at > 0 and not lines[at - 1].endswith(("\n", "\r")):
        lines[at - 1] += newline
    block = yaml.safe_dump([entry], sort_keys=False, default_flow_style=False, width=1000)
    new = [" " * item_indent + line + newline if line else newline
           for line in block.splitlines()]
    result = "".join(lines[:at] + new + lines[at:])
    # What was written must be the old project plus the org and nothing else.
    expected = yaml.safe_load(text)
    expected["plugins"]["extractors"].append(entry)
    if yaml.safe_load(result) != expected:
        raise ProjectError(f"cannot add the org to {path} without rewriting it: add the org's "
                           "extractor yourself, see docs/multi-org.md")
    return result


def _insertion_point(lines: list[str]) -> tuple[int | None, int]:
    """(index of the line to insert before, indent of the list's items) for the top-level
    `plugins:` mapping's `extractors:` list."""
    start = next((i for i, line in enumerate(lines) if _TOP_KEY.match(line)), None)
    if start is None:
        return None, 0
    key_line, key_indent = None, 0
    for i in range(start + 1, len(lines)):
        stripped = lines[i].strip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(lines[i]) - len(lines[i].lstrip(" "))
        if indent == 0:
            break  # the next top-level key: plugins has no extractors
        match = _EXTRACTORS_KEY.match(lines[i].rstrip("\r\n"))
        if match:
            key_line, key_indent = i, len(match.group(1))
            break
    if key_line is None:
        return None, 0
    item_indent: int | None = None
    last = key_line  # the last line of the list
    for i in range(key_line + 1, len(lines)):
        stripped = lines[i].strip()
        indent = len(lines[i]) - len(lines[i].lstrip(" "))
        if stripped.startswith("#") and item_indent is not None and indent > item_indent:
            last = i  # a comment inside the last item (`# <<< generated`) stays with it
            continue
        if not stripped or stripped.startswith("#"):
            continue
        is_item = stripped.startswith("- ") or stripped == "-"
        if item_indent is None:
            if not is_item or indent < key_indent:
                return None, 0  # `extractors: [...]` or an empty value
            item_indent = indent
        if indent < key_indent or (indent == key_indent and not is_item):
            break
        if indent < item_indent:
            break
        last = i
    if item_indent is None:
        return None, 0
    return last + 1, item_indent


def write_project(path: Path, text: str) -> None:
    """Replace meltano.yml at once (a temporary file renamed over it), keeping its mode."""
    target = path.resolve()
    mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=".meltano.yml.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", newline="") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
