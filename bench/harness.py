"""What the benchmarks share: the simulator in its own process, the tap's command, config and
catalog, and the RECORD lines counted on a contender's output."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"

# A RECORD line: Singer `{"type":"RECORD","stream":"leads",...` (any spacing) or Airbyte
# `{"type": "RECORD", "record": {"stream": "incremental_leads_zoho_crm_stream", ...`.
RECORD_LINE = re.compile(
    rb'^\{"type": ?"RECORD", ?(?:"record": ?\{)?"stream": ?"([^"]*)"', re.MULTILINE
)


# --- the simulator, in its own process ----------------------------------------------------


class SimulatorProcess:
    def __init__(self, sizes: dict[str, int], latency_ms: float, seed: int, log: Path,
                 extra: list[str] | None = None) -> None:
        cmd = [sys.executable, "-m", "zoho_simulator", "--port", "0", "--seed", str(seed),
               "--latency-ms", str(latency_ms), *(extra or [])]
        for module, n in sizes.items():
            cmd += ["--size", f"{module}={n}"]
        self._log = log.open("wb")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=self._log)
        assert self.proc.stdout is not None
        info: dict[str, Any] | None = None
        for _ in range(5):
            line = self.proc.stdout.readline()
            if not line:
                break
            if line.startswith(b"{"):
                info = json.loads(line)
                break
        if info is None:
            self.stop()
            sys.exit(f"the simulator did not start; see {log}")
        self.url: str = info["api_url"]
        self.credentials = {k: info[k] for k in ("client_id", "client_secret", "refresh_token")}

    def control(self, method: str, path: str) -> Any:
        request = urllib.request.Request(f"{self.url}/__sim/{path}", method=method,
                                         data=b"{}" if method == "POST" else None)
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def reset_stats(self) -> None:
        self.control("POST", "reset_stats")

    def stats(self) -> dict[str, Any]:
        return self.control("GET", "stats")

    def calls_by_kind(self) -> dict[str, int]:
        """API calls since the last reset: list pages, by ids, single records, metadata."""
        kinds = dict.fromkeys(("list pages", "by ids", "single records", "metadata"), 0)
        for request in self.control("GET", "requests")["requests"]:
            path = request["path"]
            if path == "/oauth/v2/token":
                continue
            last = path.rstrip("/").rsplit("/", 1)[-1]
            if "/settings/" in path or last in ("org", "users"):
                kinds["metadata"] += 1
            elif last.isdigit():
                kinds["single records"] += 1
            elif "ids" in request.get("params", {}):
                kinds["by ids"] += 1
            else:
                kinds["list pages"] += 1
        return kinds

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def count_records(stream: Any, counts: Counter[bytes]) -> None:
    """Count RECORD lines per stream while draining a pipe (1 MB reads, regex per chunk)."""
    fd = stream.fileno()
    tail = b""
    while chunk := os.read(fd, 1 << 20):
        buf = tail + chunk
        cut = buf.rfind(b"\n") + 1
        counts.update(RECORD_LINE.findall(buf, 0, cut))
        tail = buf[cut:]
    counts.update(RECORD_LINE.findall(tail))


# --- the tap's setup (not timed) ---------------------------------------------------------


def clean_env(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_ZOHOCRM_")}
    env["XDG_STATE_HOME"] = str(workdir / "state")  # no token shared through a default store
    return env


def tap_command() -> list[str]:
    script = Path(sys.executable).parent / "tap-zohocrm"
    return [str(script)] if script.exists() else [sys.executable, "-m", "tap_zohocrm"]


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path


def tap_config(sim: SimulatorProcess, modules: list[str], version: str) -> dict[str, Any]:
    return {
        **sim.credentials, "api_url": sim.url, "accounts_url": sim.url,
        "api_version": version, "modules": modules,
        # Every contender starts cold: one token per run, none reused from an earlier one.
        "token_store": "memory",
        **EXTRA_TAP_SETTINGS,
    }


EXTRA_TAP_SETTINGS: dict[str, Any] = {}  # --tap-setting KEY=JSON


def discover_tap(sim: SimulatorProcess, workdir: Path, modules: list[str], version: str,
                 env: dict[str, str], every_stream: bool = False) -> tuple[Path, Path]:
    """The tap's config and catalog: the sized modules selected, or with `every_stream` every
    stream of the catalog (Meltano's `select: ['*.*']`: org metadata, deleted records and
    attachments too)."""
    config = write_json(workdir / f"tap-{version}-config.json",
                        tap_config(sim, modules, version))
    proc = subprocess.run([*tap_command(), "--config", str(config), "--discover"],
                          cwd=workdir, env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        sys.exit(f"tap-zohocrm discovery failed:\n{proc.stderr[-3000:]}")
    catalog = json.loads(proc.stdout)
    wanted = {m.lower() for m in modules}
    for entry in catalog["streams"]:
        for md in entry["metadata"]:
            if md["breadcrumb"] == []:
                md["metadata"]["selected"] = every_stream or entry["tap_stream_id"] in wanted
    return config, write_json(workdir / f"tap-{version}-catalog.json", catalog)


def fmt_ratio(x: float) -> str:
    return f"{x:.1f}x" if x < 9.95 else f"{x:.0f}x"
