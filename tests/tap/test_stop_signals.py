"""SIGTERM and SIGINT stop a run within seconds, whatever is in flight; SIGKILL at any point
loses nothing either: the next run, from the last STATE the stopped one wrote, reads the rest."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pyarrow.parquet as pq
import pytest

from tests.helpers import discover, run_tap, select_streams, tap_config, utc

MODULES = {"Leads": 240, "Contacts": 200, "Accounts": 160}
SLOW_CALL_SECONDS = 0.4  # every API call of the stopped run takes this long
CONCURRENCY = 3
STOP_WITHIN_SECONDS = 5.0


class TapProcess:
    """The tap's CLI in a subprocess, its stdout lines collected as they come."""

    def __init__(self, config: dict[str, Any], catalog: dict[str, Any], tmp: Path) -> None:
        paths = []
        for name, data in (("config", config), ("catalog", catalog)):
            path = tmp / f"{name}.json"
            path.write_text(json.dumps(data))
            paths.append(str(path))
        self.stderr_path = tmp / "stderr.log"
        self._stderr = self.stderr_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tap_zohocrm", "--config", paths[0], "--catalog", paths[1]],
            stdout=subprocess.PIPE, stderr=self._stderr,
        )
        self.lines: list[bytes] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def wait_for(self, condition: Any, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, "the tap did not get there in time"
            assert self.proc.poll() is None, f"the tap ended early:\n{self.stderr()[-3000:]}"
            time.sleep(0.02)

    def count(self, kind: str) -> int:
        return sum(1 for line in list(self.lines) if f'"type":"{kind}"'.encode() in line)

    def finish(self) -> None:
        """Kill the process if it still runs (a test that failed its deadline), then read
        the rest of its output."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._reader.join(10)
        self._stderr.close()

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def messages(self) -> list[dict[str, Any]]:
        """Every whole line; a line cut off by SIGKILL (no newline yet) is not one."""
        return [json.loads(line) for line in self.lines if line.endswith(b"\n")]


def _org(make_simulator, seed: int, parallel_modules: int) -> tuple[Any, dict, dict]:
    sim = make_simulator(seed=seed, sizes=MODULES)
    config = tap_config(sim, modules=list(MODULES), parallel_modules=parallel_modules,
                        max_concurrency=CONCURRENCY, per_page=20, full_rich_text=False,
                        progress_interval_seconds=0,
                        computed_refresh_days=0)  # the next run resumes, not a full read
    catalog = select_streams(discover(config), {m.lower() for m in MODULES})
    return sim, config, catalog


def _delivered(messages: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(stream, id) of the records in these messages and in the BATCH files they list."""
    delivered = {(m["stream"], m["record"]["id"]) for m in messages if m["type"] == "RECORD"}
    for m in messages:
        if m["type"] == "BATCH":
            for url in m["manifest"]:
                with Path(unquote(urlparse(url).path)).open() as lines:
                    delivered |= {(m["stream"], json.loads(line)["id"]) for line in lines}
    return delivered


def _nothing_lost(sim, config: dict, catalog: dict, messages: list[dict[str, Any]]) -> int:
    """The records the stopped run wrote before its last STATE, and those a run from that
    STATE reads, are every record of the org. Returns the records the second run read."""
    last = max(i for i, m in enumerate(messages) if m["type"] == "STATE")
    delivered = _delivered(messages[:last])
    config = {k: v for k, v in config.items() if k != "batch_config"}
    second = run_tap(config, catalog=catalog, state=messages[last]["value"], timeout=60)
    rerun = {(m["stream"], m["record"]["id"]) for m in second.messages if m["type"] == "RECORD"}
    org = {(module.lower(), r["id"]) for module in MODULES for r in sim.records(module)}
    assert org <= delivered | rerun, f"lost: {len(org - delivered - rerun)}"
    assert len(rerun) < len(org)  # the second run resumed; it did not start over
    return len(rerun)


@pytest.mark.parametrize(("sig", "parallel_modules", "code"), [
    pytest.param(signal.SIGTERM, 3, 143, id="SIGTERM-side-by-side"),
    pytest.param(signal.SIGINT, 3, 130, id="SIGINT-side-by-side"),
    pytest.param(signal.SIGTERM, 1, 143, id="SIGTERM-one-after-another"),
])
def test_a_stop_signal_ends_the_run_within_seconds_and_the_next_run_loses_nothing(
    make_simulator, tmp_path: Path, sig: signal.Signals, parallel_modules: int, code: int,
) -> None:
    sim, config, catalog = _org(make_simulator, 41, parallel_modules)
    sim.set_config(latency_ms=int(SLOW_CALL_SECONDS * 1000))
    sim.reset_stats()
    tap = TapProcess(config, catalog, tmp_path)
    try:
        tap.wait_for(lambda: tap.count("RECORD") >= 40)
        calls_at_signal = sim.stats()["api_calls"]
        signalled = time.monotonic()
        tap.proc.send_signal(sig)
        with contextlib.suppress(subprocess.TimeoutExpired):  # the old code's endless wait
            tap.proc.wait(timeout=STOP_WITHIN_SECONDS + 5)
        seconds = time.monotonic() - signalled
    finally:
        tap.finish()
    time.sleep(SLOW_CALL_SECONDS + 0.3)  # calls left in flight reach the simulator's count
    calls_after = sim.stats()["api_calls"] - calls_at_signal
    sim.set_config(latency_ms=0)
    messages = tap.messages()
    print(f"{sig.name} parallel_modules={parallel_modules}: exit {tap.proc.returncode} after "
          f"{seconds:.2f} s, {calls_after} API calls after the signal")
    assert seconds < STOP_WITHIN_SECONDS, f"exit after {seconds:.1f} s"
    assert tap.proc.returncode == code, tap.stderr()[-3000:]
    # Only the calls in flight when the signal came (at most max_concurrency) reach Zoho; one
    # more may have got a slot in the instant before the handler ran.
    assert calls_after <= CONCURRENCY + 1, calls_after
    assert f"Stopped by {sig.name}" in tap.stderr()
    # The output ends with the last STATE: whole lines, no RECORD after it.
    assert tap.lines[-1].endswith(b"\n") and messages[-1]["type"] == "STATE"
    rerun = _nothing_lost(sim, config, catalog, messages)
    print(f"  records written: {sum(1 for m in messages if m['type'] == 'RECORD')}, read by "
          f"the next run: {rerun}")


def test_a_stop_signal_with_batch_files_keeps_the_state_of_the_files_written(
    make_simulator, tmp_path: Path,
) -> None:
    # BATCH output: a record counts in the state once it is in a file still open; the last
    # STATE is the one written after the last file.
    sim, config, catalog = _org(make_simulator, 44, 3)
    _batch_files(config, tmp_path / "files")
    sim.set_config(latency_ms=int(SLOW_CALL_SECONDS * 1000))
    tap = TapProcess(config, catalog, tmp_path)
    try:
        tap.wait_for(lambda: tap.count("BATCH") >= 2)
        signalled = time.monotonic()
        tap.proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            tap.proc.wait(timeout=STOP_WITHIN_SECONDS + 5)
        seconds = time.monotonic() - signalled
    finally:
        tap.finish()
    sim.set_config(latency_ms=0)
    assert seconds < STOP_WITHIN_SECONDS, f"exit after {seconds:.1f} s"
    assert tap.proc.returncode == 143, tap.stderr()[-3000:]
    _nothing_lost(sim, config, catalog, tap.messages())


def test_a_stop_signal_ends_the_run_while_the_main_thread_waits_for_zoho(
    make_simulator, tmp_path: Path,
) -> None:
    # One stream after another: the main thread makes the call itself, and Zoho takes long
    # to answer it; the run ends without the answer.
    sim = make_simulator(seed=42, sizes={"Leads": 20})
    config = tap_config(sim, modules=["Leads"], parallel_modules=1, progress_interval_seconds=0)
    catalog = select_streams(discover(config), {"users"})
    sim.add_fault(r"^/crm/v8/users$", count=None, delay=8.0)
    tap = TapProcess(config, catalog, tmp_path)
    try:
        tap.wait_for(lambda: sim.counters.in_flight >= 1)
        seconds = _seconds_to_stop(tap)
    finally:
        tap.finish()
    print(f"SIGTERM in the main thread's call: exit {tap.proc.returncode} after {seconds:.2f} s")
    assert seconds < STOP_WITHIN_SECONDS, f"exit after {seconds:.1f} s"
    assert tap.proc.returncode == 143, tap.stderr()[-3000:]
    assert tap.messages()[-1]["type"] == "STATE"


def test_a_stop_signal_during_discovery_ends_it_at_once(make_simulator, tmp_path: Path) -> None:
    sim = make_simulator(seed=45, sizes={"Leads": 20})
    config = tap_config(sim, modules=["Leads"])
    sim.add_fault(r"^/crm/v8/settings/fields$", count=None, delay=8.0)
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    proc = subprocess.Popen([sys.executable, "-m", "tap_zohocrm", "--config", str(config_path),
                             "--discover"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while sim.counters.in_flight < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=STOP_WITHIN_SECONDS + 5)
        seconds = time.monotonic() - signalled
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert seconds < STOP_WITHIN_SECONDS, f"exit after {seconds:.1f} s"
    assert proc.returncode == 143, err.decode()[-3000:]
    assert out == b""  # no catalog, and no STATE message in its place
    assert b"Stopped by SIGTERM before any record was read" in err


def _seconds_to_stop(tap: TapProcess) -> float:
    """SIGTERM the tap (once its wait has begun) and time its exit."""
    time.sleep(0.3)
    signalled = time.monotonic()
    tap.proc.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        tap.proc.wait(timeout=STOP_WITHIN_SECONDS + 5)
    return time.monotonic() - signalled


def test_a_stop_signal_cuts_a_backoff_wait_short(make_simulator, tmp_path: Path) -> None:
    # Zoho fails the main thread's call; the tap waits 10 s before it tries again.
    sim = make_simulator(seed=46, sizes={"Leads": 20})
    config = tap_config(sim, modules=["Leads"], parallel_modules=1, retry_backoff_seconds=10,
                        progress_interval_seconds=0)
    catalog = select_streams(discover(config), {"users"})
    sim.add_fault(r"^/crm/v8/users$", status=500, count=None)
    tap = TapProcess(config, catalog, tmp_path)
    try:
        tap.wait_for(lambda: "Retrying" in tap.stderr())
        seconds = _seconds_to_stop(tap)
    finally:
        tap.finish()
    # Well before the watchdog's GRACE_SECONDS: the backoff's wait itself ended.
    assert seconds < 1.5, f"exit after {seconds:.1f} s"
    assert tap.proc.returncode == 143, tap.stderr()[-3000:]
    assert tap.messages()[-1]["type"] == "STATE"


def test_a_stop_signal_cuts_a_bulk_read_job_wait_short(make_simulator, tmp_path: Path) -> None:
    # The export's job takes a minute. With Parquet files and one stream after another, the
    # main thread itself polls the job; the stop ends its wait between two polls.
    sim = make_simulator(seed=43, sizes={"Leads": 1200}, bulk_job_seconds=60)
    config = tap_config(sim, modules=["Leads"], bulk_read_threshold=1000, parallel_modules=1,
                        progress_interval_seconds=0, batch_config={
                            "encoding": {"format": "parquet", "compression": "gzip"},
                            "storage": {"root": tmp_path.as_uri()}, "batch_size": 1000})
    catalog = select_streams(discover(config), {"leads"})
    tap = TapProcess(config, catalog, tmp_path)
    try:
        # The fourth poll: the wait before the next is over 3 s (the waits grow).
        tap.wait_for(lambda: sum(n for k, n in sim.stats()["by_endpoint"].items()
                                 if k.startswith("GET /crm/bulk/v8/read/")) >= 4)
        seconds = _seconds_to_stop(tap)
    finally:
        tap.finish()
    # Well before the watchdog's GRACE_SECONDS: the poll's wait itself ended.
    assert seconds < 1.5, f"exit after {seconds:.1f} s"
    assert tap.proc.returncode == 143, tap.stderr()[-3000:]
    assert all(line.endswith(b"\n") for line in tap.lines)


def _batch_files(config: dict[str, Any], folder: Path) -> None:
    folder.mkdir()
    config["batch_config"] = {"encoding": {"format": "jsonl", "compression": "none"},
                              "storage": {"root": folder.as_uri()}, "batch_size": 50}


@pytest.mark.parametrize("batches", [False, True], ids=["records", "batch-files"])
def test_sigkill_at_any_point_loses_nothing(make_simulator, tmp_path: Path,
                                            batches: bool) -> None:
    sim, config, catalog = _org(make_simulator, 47, 3)
    if batches:  # each module writing a file of its own while the others write theirs
        _batch_files(config, tmp_path / "files")
    sim.set_config(latency_ms=50)
    tap = TapProcess(config, catalog, tmp_path)
    try:
        # Killed mid-run, with records of every module out and STATE messages between them.
        tap.wait_for(lambda: tap.count("BATCH" if batches else "RECORD") >= (4 if batches
                                                                             else 150)
                     and tap.count("STATE") >= 3)
        os.kill(tap.proc.pid, signal.SIGKILL)
    finally:
        tap.finish()
    sim.set_config(latency_ms=0)
    assert tap.proc.returncode == -signal.SIGKILL
    _nothing_lost(sim, config, catalog, tap.messages())


def test_no_state_covers_rows_of_a_parquet_file_not_yet_written(make_simulator,
                                                                  tmp_path: Path) -> None:
    """Files of a size that does not divide the rows the tap gathers at a time: a STATE after a
    file covers that file's rows and those before, none of the next file's (a kill right after
    that STATE would lose them)."""
    sim = make_simulator(seed=48, sizes={"Leads": 400})
    config = tap_config(sim, modules=["Leads"], computed_refresh_days=0, batch_config={
        "encoding": {"format": "parquet", "compression": "gzip"},
        "storage": {"root": tmp_path.as_uri()}, "batch_size": 150})
    catalog = select_streams(discover(config), {"leads"})
    run = run_tap(config, catalog=catalog)
    modified = {r["id"]: utc(r["Modified_Time"]) for r in sim.records("Leads")}
    written: set[str] = set()
    states = 0
    for message in run.messages:
        if message["type"] == "BATCH":
            for url in message["manifest"]:
                written |= set(pq.read_table(unquote(urlparse(url).path),
                                             columns=["id"]).column("id").to_pylist())
        elif message["type"] == "STATE":
            bookmark = message["value"]["bookmarks"].get("leads", {}).get("replication_key_value")
            if bookmark:
                states += 1
                covered = {i for i, at in modified.items() if at < bookmark}
                assert covered <= written, f"{len(covered - written)} rows in no file yet"
    assert states >= 3 and written == set(modified)
