"""The README's commands run as typed after `bash scripts/quickstart`."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def path_dirs(line: str, pwd: str) -> list[str]:
    value = re.search(r'export PATH="([^"]+)"', line)
    assert value, line
    return [d.replace("$PWD", pwd) for d in value.group(1).split(":") if d != "$PATH"]


def test_quickstart_prints_the_path_line_the_readme_uses() -> None:
    readme = (ROOT / "README.md").read_text()
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    line = next((ln for ln in quick_start.splitlines() if "export PATH=" in ln), None)
    assert line, "the Quick start puts tap-zohocrm and meltano on PATH"
    wanted = path_dirs(line, str(ROOT))
    # The folders hold the commands the quick start installs there.
    script = (ROOT / "scripts" / "quickstart").read_text()
    assert f"{ROOT}/.venv/bin" in wanted and "-m pip install" in script and "-e '.[test]'" in script
    assert f"{ROOT}/.venv-meltano/bin" in wanted
    assert 'MELTANO="$PWD/.venv-meltano/bin/meltano"' in script
    # The line the quick start prints last, from its own folder, is the same.
    tail = script[script.rindex("# The README's next commands"):]
    printed = subprocess.run(["bash", "-c", tail], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout
    assert path_dirs(printed.strip().splitlines()[-1], str(ROOT)) == wanted
