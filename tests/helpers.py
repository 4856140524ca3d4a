"""Run the tap as users do (its CLI, in a process of its own); read back its Singer messages."""

from __future__ import annotations

import copy
import json
import locale
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from zoho_simulator import Simulator


def tap_config(sim: Simulator, **overrides: Any) -> dict[str, Any]:
    config = {
        **sim.credentials,
        "api_url": sim.url,
        "accounts_url": sim.url,
        "api_version": "v8",
        # Each simulator issues its own tokens: no token shared between tests through the
        # default on-disk store (tests/integration/test_token_store.py covers the store).
        "token_store": "memory",
    }
    config.update(overrides)
    return config


@dataclass
class TapRun:
    returncode: int
    stdout: str
    stderr: str
    messages: list[dict[str, Any]] = field(default_factory=list)

    def records(self, stream: str) -> list[dict[str, Any]]:
        return [m["record"] for m in self.messages
                if m["type"] == "RECORD" and m["stream"] == stream]

    def streams(self) -> set[str]:
        return {m["stream"] for m in self.messages if m["type"] == "RECORD"}

    @property
    def states(self) -> list[dict[str, Any]]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def last_state(self) -> dict[str, Any]:
        return self.states[-1]

    def report(self) -> dict[str, Any]:
        """The run report (the ZOHO_RUN_REPORT line the tap logs at its end)."""
        line = next(x for x in self.stderr.splitlines() if "ZOHO_RUN_REPORT " in x)
        return json.loads(line.split("ZOHO_RUN_REPORT ", 1)[1])

    def schema(self, stream: str) -> dict[str, Any]:
        return next(
            m["schema"] for m in self.messages if m["type"] == "SCHEMA" and m["stream"] == stream
        )


def run_tap(
    config: dict[str, Any],
    *args: str,
    catalog: dict[str, Any] | None = None,
    state: dict[str, Any] | None = None,
    timeout: float = 600,
    check: bool = True,
    env: dict[str, str] | None = None,
) -> TapRun:
    """Run `python -m tap_zohocrm --config ...` and parse stdout as Singer messages."""
    with tempfile.TemporaryDirectory() as tmp:
        argv = ["--config", _write(tmp, "config", config)]
        if catalog is not None:
            argv += ["--catalog", _write(tmp, "catalog", catalog)]
        if state is not None:
            argv += ["--state", _write(tmp, "state", state)]
        argv += list(args)
        returncode, stdout, stderr = tap_process(argv, {**os.environ, **(env or {})}, timeout,
                                                 Path(tmp))
    run = TapRun(returncode, stdout, stderr)
    if "--discover" in args or "--about" in args or "--plan" in args:
        return run
    for line in stdout.splitlines():
        if line.strip():
            run.messages.append(json.loads(line))
    if check and returncode != 0:
        raise AssertionError(f"tap exited {returncode}:\n{stderr[-5000:]}")
    return run


def tap_process(argv: list[str], env: dict[str, str], timeout: float,
                tmp: Path) -> tuple[int, str, str]:
    """`python -m tap_zohocrm <argv>` to its end: exit code, stdout, stderr (as text, as
    subprocess.run(text=True) gives them). Forked from tests/tap_fork_server.py unless
    TAP_TESTS_FORK=0."""
    # A run whose interpreter starts differently (PYTHONPATH, a sitecustomize, ...) needs a
    # process of its own from the start.
    if os.environ.get("TAP_TESTS_FORK") == "0" or any(
            key.startswith("PYTHON") and env.get(key) != os.environ.get(key)
            for key in env.keys() | os.environ.keys()):
        proc = subprocess.run([sys.executable, "-m", "tap_zohocrm", *argv], capture_output=True,
                              text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL)
        return proc.returncode, proc.stdout, proc.stderr
    out, err = tmp / "stdout", tmp / "stderr"
    request = {"argv": argv, "env": env, "cwd": os.getcwd(), "stdout": str(out),
               "stderr": str(err)}
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(_fork_server())
        conn.sendall((json.dumps(request) + "\n").encode())
        answers = conn.makefile("r", encoding="utf-8")
        pid = int(answers.readline())
        conn.settimeout(timeout)
        try:
            status = answers.readline()
        except TimeoutError:
            os.killpg(pid, signal.SIGKILL)
            raise subprocess.TimeoutExpired(["tap_zohocrm", *argv], timeout) from None
    if not status:
        raise AssertionError(f"the fork server lost the tap run {pid}")
    return int(status), _text(out), _text(err)


def _text(path: Path) -> str:
    data = path.read_bytes().decode(locale.getpreferredencoding(False))
    return data.replace("\r\n", "\n").replace("\r", "\n")  # universal newlines


_fork_server_lock = threading.Lock()
_fork_server_socket: str | None = None
_fork_servers: list[subprocess.Popen[bytes]] = []  # kept: their stdin closing ends them


def _fork_server() -> str:
    """The socket of this test process's fork server, started on first use."""
    global _fork_server_socket
    with _fork_server_lock:
        if _fork_server_socket is None:
            path = tempfile.mktemp(prefix="tzc-fork-", suffix=".sock")
            log = open(path + ".log", "wb")  # noqa: SIM115 (the server's, while it lives)
            server = subprocess.Popen(
                [sys.executable, str(Path(__file__).with_name("tap_fork_server.py")), path],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log)
            for _ in range(600):
                if os.path.exists(path) or server.poll() is not None:
                    break
                time.sleep(0.05)
            if not os.path.exists(path):
                raise AssertionError("the tap fork server did not start: "
                                     + Path(path + ".log").read_text()[-3000:])
            _fork_servers.append(server)
            _fork_server_socket = path
        return _fork_server_socket


def discover(config: dict[str, Any]) -> dict[str, Any]:
    run = run_tap(config, "--discover")
    assert run.returncode == 0, run.stderr[-5000:]
    return json.loads(run.stdout)


def select_streams(catalog: dict[str, Any], names: set[str]) -> dict[str, Any]:
    """Select exactly `names` (all their fields) in a discovered catalog."""
    for entry in catalog["streams"]:
        chosen = entry["tap_stream_id"] in names
        for md in entry["metadata"]:
            if md["breadcrumb"] == []:
                md["metadata"]["selected"] = chosen
    return catalog


def select_dollar_keys(catalog: dict[str, Any]) -> dict[str, Any]:
    """Select Zoho's `$` keys too (discovery leaves them out by default from API v7)."""
    for entry in catalog["streams"]:
        for md in entry["metadata"]:
            if md["breadcrumb"][1:] and md["breadcrumb"][1].startswith("$"):
                md["metadata"]["selected"] = True
    return catalog


def _write(tmp: str, name: str, data: dict[str, Any]) -> str:
    path = Path(tmp) / f"{name}.json"
    path.write_text(json.dumps(data))
    return str(path)


# --- what the tap should emit for a simulator record -------------------------------------


def utc(value: str) -> str:
    return datetime.fromisoformat(value).astimezone(UTC).isoformat()


def expected_record(api_record: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The API's record with the tap's documented conversions: UTC datetimes, bigint as int,
    every key the schema declares for an object present (null when Zoho left it out)."""
    expected: dict[str, Any] = {}
    for name, prop in schema["properties"].items():
        if name not in api_record:
            continue
        value = api_record[name]
        types = prop.get("type") or []
        if value is not None:
            if prop.get("format") == "date-time":
                value = utc(value)
            elif "integer" in types and isinstance(value, str):
                value = int(value)
            else:
                value = with_declared_keys(value, prop)
        expected[name] = value
    return expected


def with_declared_keys(value: Any, prop: dict[str, Any]) -> Any:
    """An object (or list of objects) with the keys its schema declares added as null."""
    if isinstance(value, list) and (prop.get("items") or {}).get("properties"):
        return [with_declared_keys(v, prop["items"]) for v in value]
    declared = prop.get("properties") or {}
    if not isinstance(value, dict) or not declared:
        return value
    return {**{k: with_declared_keys(v, declared.get(k, {})) for k, v in value.items()},
            **{k: None for k in declared if k not in value}}


# --- Meltano, as users run it (`meltano install`, `meltano run`) -----------------------------

ROOT = Path(__file__).resolve().parent.parent
# Inherited variables that would reconfigure the plugins behind a test's back.
PLUGIN_ENV_PREFIXES = ("TAP_ZOHOCRM_", "TARGET_POSTGRES_", "TARGET_DUCKDB_", "TARGET_JSONL_")


def meltano_bin() -> str:
    found = os.environ.get("MELTANO_BIN") or shutil.which("meltano")
    if not found:
        # CI installs Meltano (.ci/run); a missing one is a failure, not a skip.
        pytest.fail("Meltano is not installed: run `bash .ci/run` or set MELTANO_BIN")
    return found


def meltano(*args: str, env: dict[str, str], timeout: float = 900
            ) -> subprocess.CompletedProcess[str]:
    """Run `meltano ARGS` in this repository (its meltano.yml); fail with Meltano's log."""
    proc = subprocess.run(
        [meltano_bin(), *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"meltano {' '.join(args)} failed:\n{proc.stderr[-6000:]}"
    return proc


def meltano_env(sim: Simulator, tmp_path: Path, modules: list[str] | None = None,
                **extra: str) -> dict[str, str]:
    """Environment of `meltano run` in the `dev` environment against `sim`, with the state
    kept under `tmp_path`; `extra` adds plugin settings (TARGET_POSTGRES_DATABASE=...)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(PLUGIN_ENV_PREFIXES)}
    env.update({
        "MELTANO_ENVIRONMENT": "dev",
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "ZOHO_SIMULATOR_URL": sim.url,
        "TAP_ZOHOCRM_CLIENT_ID": sim.credentials["client_id"],
        "TAP_ZOHOCRM_CLIENT_SECRET": sim.credentials["client_secret"],
        "TAP_ZOHOCRM_REFRESH_TOKEN": sim.credentials["refresh_token"],
        "MELTANO_STATE_BACKEND_URI": f"file://{tmp_path}/state",
    })
    if modules is not None:
        env["TAP_ZOHOCRM_MODULES"] = json.dumps(modules)
    env.update(extra)
    return env


def full_read_aged(state: dict[str, Any], days: float) -> dict[str, Any]:
    """The state as if each stream's last full read (computed_refresh_days) were `days` old."""
    state = copy.deepcopy(state)
    when = (datetime.now(UTC) - timedelta(days=days)).replace(microsecond=0).isoformat()
    for bookmark in state["bookmarks"].values():
        if "last_full_read" in bookmark:
            bookmark["last_full_read"] = when
    return state
