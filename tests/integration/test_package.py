"""The tap as users install it: its wheel, built and installed into a fresh virtual environment.

`uv build` makes the sdist and the wheel from it (as `python -m build` does); the test checks
what the wheel ships, installs it with its dependencies from the package index into a new
virtual environment (uv and its cache: seconds once warm) and runs the installed `tap-zohocrm`
away from this repository: `--version`, `--about`, discovery against the simulator, and a
token_store whose driver extra is not installed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import ROOT, tap_config
from zoho_simulator import Simulator

VERSION = re.search(r'^__version__ = "([^"]+)"$',
                    (ROOT / "tap_zohocrm" / "__init__.py").read_text(), re.M).group(1)
DIST_INFO = f"tap_zohocrm-{VERSION}.dist-info"


def uv(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "uv", *args], capture_output=True, text=True,
                          timeout=timeout, env=_outside_env())
    assert proc.returncode == 0, f"uv {' '.join(args)} failed:\n{proc.stderr[-4000:]}"
    return proc


def _outside_env() -> dict[str, str]:
    """This environment without what would let the repository's sources or this test venv
    stand in for the installed package."""
    drop = ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    return {k: v for k, v in os.environ.items()
            if k not in drop and not k.startswith("TAP_ZOHOCRM_")}


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    uv("build", "--quiet", "--out-dir", str(out), str(ROOT))
    return out


@pytest.fixture(scope="module")
def wheel(dist: Path) -> Path:
    (found,) = dist.glob("tap_zohocrm-*.whl")
    return found


@pytest.fixture(scope="module")
def venv_bin(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment holding the wheel and its dependencies, no extras."""
    venv = tmp_path_factory.mktemp("venv") / "venv"
    uv("venv", "--quiet", "--python", sys.executable, str(venv))
    uv("pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), str(wheel))
    return venv / "bin"


def installed(venv_bin: Path, *args: str, cwd: Path,
              timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run a command of the fresh environment outside the repository."""
    return subprocess.run([str(venv_bin / args[0]), *args[1:]], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=_outside_env())


# -- what the wheel ships ----------------------------------------------------------------------


def test_wheel_ships_the_tap_only(wheel: Path) -> None:
    assert wheel.name == f"tap_zohocrm-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as whl:
        names = whl.namelist()
        license_text = whl.read(f"{DIST_INFO}/licenses/LICENSE").decode()
        metadata = whl.read(f"{DIST_INFO}/METADATA").decode()
        entry_points = whl.read(f"{DIST_INFO}/entry_points.txt").decode()
    assert {name.split("/")[0] for name in names} == {"tap_zohocrm", DIST_INFO}
    assert not [name for name in names if "zoho_simulator" in name or "tests/" in name]
    assert {"tap_zohocrm/__init__.py", "tap_zohocrm/tap.py",
            "tap_zohocrm/auth/token_store.py"} <= set(names)
    assert license_text == (ROOT / "LICENSE").read_text()
    assert "Apache License" in license_text and "Version 2.0" in license_text

    headers = [line for line in metadata.splitlines() if ": " in line]
    assert f"Version: {VERSION}" in headers
    assert "License-Expression: Apache-2.0" in headers
    assert "License-File: LICENSE" in headers
    assert {"Provides-Extra: postgres", "Provides-Extra: mysql"} <= set(headers)
    # The database drivers come only with their extras.
    for line in headers:
        if line.startswith("Requires-Dist: ") and re.search(r"psycopg|pymysql", line):
            assert "extra ==" in line, line
    assert re.search(r"^tap-zohocrm = tap_zohocrm\.cli:main$", entry_points, re.M)


def test_sdist_carries_the_license(dist: Path) -> None:
    (sdist,) = dist.glob("tap_zohocrm-*.tar.gz")
    with tarfile.open(sdist) as tar:
        assert f"tap_zohocrm-{VERSION}/LICENSE" in tar.getnames()


def test_simulator_wheel_ships_zoho_simulator_only(tmp_path: Path) -> None:
    # sdist, then the wheel from it: no build/ folder left in the source tree.
    uv("build", "--quiet", "--out-dir", str(tmp_path), str(ROOT / "simulator"))
    (whl,) = tmp_path.glob("zoho_crm_simulator-*.whl")
    with zipfile.ZipFile(whl) as z:
        tops = {name.split("/")[0] for name in z.namelist()}
        assert {t for t in tops if not t.endswith(".dist-info")} == {"zoho_simulator"}
        (license_name,) = [n for n in z.namelist() if n.endswith("/licenses/LICENSE")]
        assert z.read(license_name).decode() == (ROOT / "LICENSE").read_text()


# -- the installed tap -------------------------------------------------------------------------


def test_installed_tap_prints_its_version(venv_bin: Path, tmp_path: Path) -> None:
    run = installed(venv_bin, "tap-zohocrm", "--version", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.startswith(f"tap-zohocrm v{VERSION},"), run.stdout

    run = installed(venv_bin, "tap-zohocrm", "--about", "--format", "json", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    about = json.loads(run.stdout)
    assert about["name"] == "tap-zohocrm" and about["version"] == VERSION
    assert "token_store" in about["settings"]["properties"]


def test_installed_environment_has_no_simulator_nor_drivers(venv_bin: Path,
                                                            tmp_path: Path) -> None:
    code = ("import importlib.util, json; print(json.dumps({m: importlib.util.find_spec(m) "
            "is not None for m in ('tap_zohocrm', 'zoho_simulator', 'psycopg', 'pymysql')}))")
    run = installed(venv_bin, "python", "-c", code, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads(run.stdout) == {"tap_zohocrm": True, "zoho_simulator": False,
                                      "psycopg": False, "pymysql": False}


def test_installed_tap_discovers_the_simulator(venv_bin: Path, sim: Simulator,
                                               tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(tap_config(sim)))
    run = installed(venv_bin, "tap-zohocrm", "--config", str(config), "--discover",
                    cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    streams = {s["tap_stream_id"]: s for s in json.loads(run.stdout)["streams"]}
    assert {"leads", "contacts", "accounts", "users"} <= set(streams)
    assert "Last_Name" in streams["leads"]["schema"]["properties"]


def test_installed_tap_without_the_postgres_extra(
    venv_bin: Path, make_simulator: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = make_simulator(seed=3, sizes={"Leads": 5})
    url = "postgresql://tap:s3cr3t-pw@db.internal:5432/tokens"
    config = tmp_path / "config.json"
    config.write_text(json.dumps(tap_config(sim, token_store=url)))
    run = installed(venv_bin, "tap-zohocrm", "--config", str(config), "--discover",
                    cwd=tmp_path)
    assert run.returncode != 0
    assert "PostgreSQL" in run.stderr and "install tap-zohocrm[postgres]" in run.stderr, \
        run.stderr[-3000:]
    for secret in (url, "s3cr3t-pw", "db.internal"):
        assert secret not in run.stderr
