"""Benchmark: tap-zohocrm against Airbyte's source-zoho-crm and a plain singer-sdk tap.

    bash bench/run --latency-ms 100 --size Leads=20000,Contacts=20000,Accounts=10000,Deals=10000
    bash bench/run --per-record
    bash bench/run --pipeline
    bash bench/run --bulk-read

End to end: starts the Zoho CRM simulator (its own process) with the given latency and org
size, discovers each contender's catalog (not timed), then runs each contender once with its
output counted and thrown away, and prints one table for all of them with ratios against
tap-zohocrm. Contenders:

- `tap`     tap-zohocrm, API v8 (default settings), every sized module selected
- `tap-v2`  tap-zohocrm with `api_version: v2`
- `airbyte` Airbyte source-zoho-crm 0.3.6 in bench/.venv-airbyte (bench/airbyte_launcher.py)
- `sdk`     bench/plain_sdk_tap.py: singer-sdk defaults, API v2, same records as tap-zohocrm

Measured per contender: wall seconds, records/s, CPU seconds (user+sys of the contender's
process, from wait4), peak RSS (ru_maxrss of the same), and from the simulator's counters (reset
between contenders): API calls, calls and credits per 1,000 records, token requests, most calls
in flight.

`--per-record` measures the per-record emit path alone: Leads records fetched once from the
simulator (API v2 list responses, every field), then fed to tap-zohocrm's ModuleStream and to a
default singer-sdk stream (bench/per_record.py, one process per path), stdout to /dev/null.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from harness import (
    BENCH,
    EXTRA_TAP_SETTINGS,
    SimulatorProcess,
    clean_env,
    count_records,
    discover_tap,
    fmt_ratio,
    tap_command,
    tap_config,
    write_json,
)

AIRBYTE_VENV = BENCH / ".venv-airbyte"
AIRBYTE_PACKAGE = "airbyte-source-zoho-crm==0.3.6"
CONTENDERS = ("tap", "tap-v2", "airbyte", "sdk")
LABELS = {
    "tap": "tap-zohocrm",
    "tap-v2": "tap-zohocrm (v2)",
    "airbyte": "airbyte source-zoho-crm 0.3.6",
    "sdk": "plain singer-sdk",
}
SHORT = {"tap": "tap-zohocrm", "tap-v2": "tap-zohocrm (v2)", "airbyte": "airbyte",
         "sdk": "plain singer-sdk"}
# --- measuring one contender --------------------------------------------------------------


@dataclass
class Result:
    key: str
    records: int = 0
    expected: int = 0
    by_module: dict[str, int] = field(default_factory=dict)
    expected_by_module: dict[str, int] = field(default_factory=dict)
    wall: float = 0.0
    cpu: float = 0.0
    rss_mb: float = 0.0
    api_calls: int = 0
    credits: int = 0
    token_requests: int = 0
    max_concurrent: int = 0
    calls_by_kind: dict[str, int] = field(default_factory=dict)
    exit_code: int = 0
    notes: list[str] = field(default_factory=list)
    log: Path | None = None

    @property
    def label(self) -> str:
        return LABELS[self.key]

    @property
    def records_per_s(self) -> float:
        return self.records / self.wall if self.wall else 0.0

    @property
    def calls_per_1k(self) -> float:
        return 1000 * self.api_calls / self.records if self.records else float("nan")

    @property
    def credits_per_1k(self) -> float:
        return 1000 * self.credits / self.records if self.records else float("nan")

    @property
    def cpu_per_1k(self) -> float:
        return 1000 * self.cpu / self.records if self.records else float("nan")


def measure(cmd: list[str], env: dict[str, str], log: Path, timeout: float
            ) -> tuple[float, Any, int, Counter[bytes]]:
    """Run `cmd`, counting its RECORD lines; (wall s, rusage, exit code, per-stream counts)."""
    counts: Counter[bytes] = Counter()
    with log.open("wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=log.parent, env=env, stdout=subprocess.PIPE,
                                stderr=err, stdin=subprocess.DEVNULL)
        watchdog = threading.Timer(timeout, proc.kill)
        watchdog.start()
        try:
            count_records(proc.stdout, counts)
            # wait4: this child's own rusage (CPU, peak RSS), not every child's so far.
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            watchdog.cancel()
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.stdout is not None
    proc.stdout.close()
    return wall, usage, proc.returncode, counts


def run_contender(key: str, cmd: list[str], env: dict[str, str], sim: SimulatorProcess,
                  log: Path, stream_to_module: dict[str, str], sizes: dict[str, int],
                  timeout: float) -> Result:
    print(f"  running {LABELS[key]} ...", file=sys.stderr, flush=True)
    sim.reset_stats()
    wall, usage, code, counts = measure(cmd, env, log, timeout)
    stats = sim.stats()
    result = Result(key=key, wall=wall, exit_code=code, log=log,
                    cpu=usage.ru_utime + usage.ru_stime, rss_mb=usage.ru_maxrss / 1024,
                    api_calls=stats["api_calls"], credits=stats["credits_used"],
                    token_requests=stats["token_requests"],
                    max_concurrent=stats["max_concurrent"], calls_by_kind=sim.calls_by_kind())
    for stream, n in counts.items():
        module = stream_to_module.get(stream.decode(), stream.decode())
        result.by_module[module] = result.by_module.get(module, 0) + n
    result.records = sum(result.by_module.values())
    result.expected_by_module = dict(sizes)
    result.expected = sum(sizes.values())
    short = {m: result.by_module.get(m, 0) for m, n in sizes.items()
             if result.by_module.get(m, 0) < n}
    if len(set(short.values())) == 1 and len(short) > 1:
        result.notes.append(f"{next(iter(short.values())):,} per module")
    elif short:
        result.notes.append("short: " + ", ".join(f"{m} {n:,}" for m, n in short.items()))
    if code != 0:
        result.notes.append(f"exit {code}" + (" (killed: timeout)" if code == -9 else ""))
    print(f"    {result.records:,} records in {wall:.1f} s", file=sys.stderr, flush=True)
    return result


# --- contenders' setup (not timed) --------------------------------------------------------


# --- contenders' setup (not timed) --------------------------------------------------------


def airbyte_python() -> Path:
    return AIRBYTE_VENV / "bin" / "python"


def airbyte_setup(sim: SimulatorProcess, workdir: Path, modules: list[str],
                  env: dict[str, str]) -> tuple[list[str], dict[str, str], dict[str, str]]:
    """Config from its spec, configured catalog from its own discover output."""
    base = [str(airbyte_python()), str(BENCH / "airbyte_launcher.py")]

    def call(*args: str) -> list[dict[str, Any]]:
        proc = subprocess.run([*base, *args], cwd=workdir, env=env, capture_output=True,
                              text=True, timeout=600)
        messages = [json.loads(line) for line in proc.stdout.splitlines()
                    if line.startswith("{")]
        if proc.returncode != 0:
            sys.exit(f"airbyte {args[0]} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
        return messages

    spec = next(m["spec"] for m in call("spec") if m["type"] == "SPEC")
    config = {
        **sim.credentials, "dc_region": "US", "environment": "Production",
        "start_datetime": "2000-01-01T00:00:00+00:00",
    }
    missing = set(spec["connectionSpecification"].get("required", [])) - set(config)
    if missing:
        sys.exit(f"airbyte spec requires settings the benchmark does not set: {missing}")
    config_path = write_json(workdir / "airbyte-config.json", config)
    catalog = next(m["catalog"] for m in call("discover", "--config", str(config_path))
                   if m["type"] == "CATALOG")
    configured = []
    stream_to_module = {}
    for stream in catalog["streams"]:
        module = stream["json_schema"].get("description")  # the module's API name
        if module not in modules:
            continue
        stream_to_module[stream["name"]] = module
        incremental = "incremental" in stream["supported_sync_modes"]
        configured.append({
            "stream": stream,
            "sync_mode": "incremental" if incremental else "full_refresh",
            "cursor_field": stream.get("default_cursor_field", []) if incremental else [],
            "destination_sync_mode": "append",
        })
    modes = sorted({c["sync_mode"] for c in configured})
    missing_modules = set(modules) - set(stream_to_module.values())
    if missing_modules:
        print(f"  airbyte discovered no stream for {sorted(missing_modules)}", file=sys.stderr)
    catalog_path = write_json(workdir / "airbyte-catalog.json", {"streams": configured})
    cmd = [*base, "read", "--config", str(config_path), "--catalog", str(catalog_path)]
    return cmd, stream_to_module, {"sync_mode": "/".join(modes)}


# --- end-to-end benchmark -----------------------------------------------------------------


def end_to_end(args: argparse.Namespace, workdir: Path) -> list[Result]:
    sizes = args.size
    modules = list(sizes)
    contenders = args.contenders
    if "airbyte" in contenders and not airbyte_python().exists():
        print(f"  airbyte skipped: {AIRBYTE_VENV} missing (`bash bench/run` creates it with "
              f"{AIRBYTE_PACKAGE})", file=sys.stderr)
        contenders = [c for c in contenders if c != "airbyte"]
    print(f"Starting the simulator: {', '.join(f'{m}={n}' for m, n in sizes.items())}, "
          f"latency {args.latency_ms:g} ms", file=sys.stderr, flush=True)
    sim = SimulatorProcess(sizes, args.latency_ms, args.seed, workdir / "simulator.log")
    env = clean_env(workdir)
    results: list[Result] = []
    try:
        lower = {m.lower(): m for m in modules}
        configs: dict[str, tuple[Path, Path]] = {}
        for version in ("v8", "v2"):
            if (version == "v8" and "tap" in contenders) or (
                    version == "v2" and {"tap-v2", "sdk"} & set(contenders)):
                configs[version] = discover_tap(sim, workdir, modules, version, env,
                                                every_stream=args.all_streams)
        for key in contenders:
            if key in ("tap", "tap-v2"):
                config, catalog = configs["v8" if key == "tap" else "v2"]
                cmd = [*tap_command(), "--config", str(config), "--catalog", str(catalog)]
                results.append(run_contender(key, cmd, env, sim, workdir / f"{key}.log",
                                             lower, sizes, args.timeout))
            elif key == "sdk":
                plain = tap_config(sim, modules, "v2")
                for k in ("api_version", "token_store"):
                    plain.pop(k)
                config = write_json(workdir / "sdk-config.json", plain)
                cmd = [sys.executable, str(BENCH / "plain_sdk_tap.py"), "--config", str(config),
                       "--catalog", str(configs["v2"][1])]
                results.append(run_contender(key, cmd, env, sim, workdir / "sdk.log",
                                             lower, sizes, args.timeout))
            elif key == "airbyte":
                ab_env = {**env, "ZOHO_SIMULATOR_URL": sim.url}
                cmd, stream_to_module, info = airbyte_setup(sim, workdir, modules, ab_env)
                result = run_contender(key, cmd, ab_env, sim, workdir / "airbyte.log",
                                       stream_to_module, sizes, args.timeout)
                result.notes.insert(0, f"{info['sync_mode']} mode")
                results.append(result)
    finally:
        sim.stop()
    return results


def print_table(results: list[Result], args: argparse.Namespace) -> None:
    sizes = ", ".join(f"{m}={n:,}" for m, n in args.size.items())
    total = sum(args.size.values())
    print()
    print(f"End to end: {total:,} records ({sizes}), simulator latency {args.latency_ms:g} ms "
          f"per API call, {os.cpu_count()} CPU cores, output counted and discarded")
    print()
    header = ["contender", "records", "wall s", "records/s", "CPU s", "CPU s/1k rec",
              "peak RSS MB", "API calls", "calls/1k rec", "credits/1k rec", "token req",
              "max conc", "notes"]
    rows = []
    for r in results:
        records = f"{r.records:,}" if r.records >= r.expected else f"{r.records:,} of " \
            f"{r.expected:,}"
        rows.append([r.label, records, f"{r.wall:.1f}", f"{r.records_per_s:,.0f}",
                     f"{r.cpu:.1f}", f"{r.cpu_per_1k:.2f}", f"{r.rss_mb:.0f}",
                     f"{r.api_calls:,}", f"{r.calls_per_1k:.1f}", f"{r.credits_per_1k:.1f}",
                     str(r.token_requests),
                     str(r.max_concurrent), "; ".join(r.notes)])
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    right = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.rjust(w) if i in right else c.ljust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths, strict=True))
                                 ) + " |"

    print(line(header))
    print("|" + "|".join(("-" * (w + 1) + ":") if i in right else ("-" * (w + 2))
                         for i, w in enumerate(widths)) + "|")
    for row in rows:
        print(line(row))
    print()
    bases = [r for r in results if r.key in ("tap", "tap-v2") and r.records]
    for base in bases:
        for r in results:
            if r is base or not r.records or (base.key, r.key) == ("tap-v2", "tap"):
                continue
            print(ratio_line(base, r))
    print()
    for r in results:
        kinds = ", ".join(f"{n:,} {kind}" for kind, n in r.calls_by_kind.items() if n)
        print(f"API calls of {SHORT[r.key]}: {kinds or 'none'}")
    print()
    for r in results:
        if r.key in ("tap", "tap-v2") and r.api_calls and args.latency_ms > 0:
            print(floor_line(r, args.latency_ms))
    for r in results:
        if r.records < r.expected:
            short = ", ".join(f"{m} {r.by_module.get(m, 0):,} of {n:,}"
                              for m, n in r.expected_by_module.items())
            print(f"{SHORT[r.key]} emitted {r.records:,} of {r.expected:,} records ({short}); "
                  f"its records/s counts only what it emitted.")


def floor_line(r: Result, latency_ms: float) -> str:
    """How far a run is from the floor: its API calls at full concurrency, nothing else."""
    from tap_zohocrm.settings import CONFIG_SCHEMA

    in_flight = int(EXTRA_TAP_SETTINGS.get(
        "max_concurrency", CONFIG_SCHEMA["properties"]["max_concurrency"]["default"]))
    floor = r.api_calls * latency_ms / 1000 / in_flight
    return (f"{SHORT[r.key]}: {r.wall:.1f} s, {r.wall / floor:.2f}x the floor of {floor:.1f} s "
            f"({r.api_calls:,} API calls x {latency_ms:g} ms / {in_flight} in flight)")


def ratio_line(base: Result, r: Result) -> str:
    speed = base.records_per_s / r.records_per_s
    cpu = r.cpu_per_1k / base.cpu_per_1k
    rss = base.rss_mb / r.rss_mb
    calls = base.calls_per_1k / r.calls_per_1k
    faster = f"{fmt_ratio(speed)} faster" if speed >= 1 else f"{fmt_ratio(1 / speed)} slower"
    if 0.95 <= cpu <= 1.05:
        less_cpu = "about the same CPU per record"
    elif cpu > 1:
        less_cpu = f"{fmt_ratio(cpu)} less CPU per record"
    else:
        less_cpu = f"{fmt_ratio(1 / cpu)} more CPU per record"
    name = SHORT[r.key]
    return (f"{SHORT[base.key]} is {faster} than {name} (records/s), uses {less_cpu}; peak RSS "
            f"{rss:.2g}x {name}'s; API calls per 1,000 records {calls:.2g}x {name}'s")


# --- per-record benchmark -----------------------------------------------------------------


def fetch_raw_records(sim: SimulatorProcess, module: str, per_page: int = 200
                      ) -> list[dict[str, Any]]:
    """Every record of `module` as API v2 list calls return it (all fields), past the
    2,000-record cap with If-Modified-Since restarts, like tap-zohocrm on v2."""
    body = urllib.parse.urlencode({**sim.credentials, "grant_type": "refresh_token"}).encode()
    with urllib.request.urlopen(f"{sim.url}/oauth/v2/token", data=body, timeout=60) as resp:
        token = json.loads(resp.read())["access_token"]
    records: list[dict[str, Any]] = []
    seen: set[str] = set()
    since: str | None = None
    while True:
        page, more, last = 1, True, None
        while more and page * per_page <= 2000:
            params = {"page": page, "per_page": per_page, "sort_by": "Modified_Time",
                      "sort_order": "asc", "approved": "both", "converted": "both"}
            headers = {"Authorization": f"Zoho-oauthtoken {token}"}
            if since:
                headers["If-Modified-Since"] = since
            request = urllib.request.Request(
                f"{sim.url}/crm/v2/{module}?{urllib.parse.urlencode(params)}", headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=60) as resp:
                    if resp.status == 204:
                        return records
                    data = json.loads(resp.read())
            except urllib.error.HTTPError as exc:
                if exc.code == 304:  # nothing modified since
                    return records
                raise
            for record in data.get("data", []):
                if record["id"] not in seen:
                    seen.add(record["id"])
                    records.append(record)
                last = record.get("Modified_Time") or last
            more = data.get("info", {}).get("more_records", False)
            page += 1
        if not more or last is None or last == since:
            return records
        since = last


def sample_records(path: Path) -> list[dict[str, Any]]:
    out = []
    for line in path.read_bytes().splitlines():
        if line.startswith(b'{"type":"RECORD"') or line.startswith(b'{"type": "RECORD"'):
            message = json.loads(line)
            out.append({"stream": message["stream"], "record": message["record"]})
    return out


def compare(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> tuple[int, Counter[str]]:
    """(records identical, per property: records where it differs)."""
    same = 0
    differing: Counter[str] = Counter()
    for x, y in zip(a, b, strict=False):
        if x == y:
            same += 1
            continue
        rx, ry = x["record"], y["record"]
        for key in set(rx) | set(ry):
            if rx.get(key, "<absent>") != ry.get(key, "<absent>"):
                differing[key] += 1
    return same, differing


def run_per_record_path(path: str, args: argparse.Namespace, workdir: Path, config: Path,
                        catalog: Path, records: Path, sample: int) -> dict[str, Any]:
    cmd = [sys.executable, str(BENCH / "per_record.py"), "--path", path,
           "--config", str(config), "--catalog", str(catalog),
           "--records", str(records), "--repeat", str(args.repeat),
           "--sample", str(sample),
           "--sample-out", str(workdir / f"sample-{path}.jsonl"),
           "--result", str(workdir / f"result-{path}.json")]
    log = workdir / f"per-record-{path}.log"
    with log.open("wb") as err:
        proc = subprocess.run(cmd, cwd=workdir, env=clean_env(workdir), stderr=err,
                              stdout=subprocess.DEVNULL, timeout=args.timeout)
    if proc.returncode != 0:
        sys.exit(f"per-record run of {path} failed:\n{log.read_text()[-3000:]}")
    return json.loads((workdir / f"result-{path}.json").read_text())


def per_record(args: argparse.Namespace, workdir: Path) -> None:
    n = args.records
    print(f"Starting the simulator: Leads={n:,}, no latency", file=sys.stderr, flush=True)
    sim = SimulatorProcess({"Leads": n}, 0, args.seed, workdir / "simulator.log")
    env = clean_env(workdir)
    try:
        tap_cfg, catalog = discover_tap(sim, workdir, ["Leads"], "v2", env)
        raw = fetch_raw_records(sim, "Leads")
        records_path = write_json(workdir / "leads.json", raw)
        plain = tap_config(sim, ["Leads"], "v2")
        for k in ("api_version", "token_store"):
            plain.pop(k)
        config = write_json(workdir / "per-record-config.json",
                            {"tap": json.loads(tap_cfg.read_text()), "plain": plain})
        results: dict[str, dict[str, Any]] = {}
        # Paths take turns (round robin), so a burst of load on a shared machine hits all.
        for round_ in range(args.rounds):
            for path in ("tap", "sdk", "sdk-raw"):
                print(f"  per-record: {path} (round {round_ + 1} of {args.rounds}) ...",
                      file=sys.stderr, flush=True)
                result = run_per_record_path(path, args, workdir, config, catalog,
                                             records_path, min(1000, len(raw)))
                if path in results:
                    result["seconds"] += results[path]["seconds"]
                results[path] = result
        for result in results.values():
            seconds = result["seconds"]
            result["records_per_s"] = result["records"] / statistics.median(seconds)
            result["best_records_per_s"] = result["records"] / min(seconds)
    finally:
        sim.stop()

    tap = results["tap"]
    names = {"tap": "tap-zohocrm ModuleStream",
             "sdk": "plain singer-sdk, same conversions",
             "sdk-raw": "plain singer-sdk, bare default"}
    print()
    passes = len(tap["seconds"])
    print(f"Per record: {tap['records']:,} Leads records of {tap['fields']} fields (API v2 "
          f"list responses), no HTTP, stdout to /dev/null; {passes} passes per path "
          f"({args.rounds} rounds of {args.repeat}, paths taking turns), {os.cpu_count()} CPU "
          f"cores. Ratios use the best pass (least disturbed by other load).")
    print()
    print("| path | conformance | writer | best records/s | median records/s "
          "| tap-zohocrm vs it (best) |")
    print("|---|---|---|---:|---:|---:|")
    for path, r in results.items():
        ratio = tap["best_records_per_s"] / r["best_records_per_s"]
        print(f"| {names[path]} | {r['conformance'].split('.')[-1]} | {r['writer']} | "
              f"{r['best_records_per_s']:,.0f} | {r['records_per_s']:,.0f} | "
              f"{'-' if path == 'tap' else fmt_ratio(ratio)} |")
    ratio = tap["best_records_per_s"] / results["sdk"]["best_records_per_s"]
    bare = tap["best_records_per_s"] / results["sdk-raw"]["best_records_per_s"]
    print()
    print(f"tap-zohocrm emits {fmt_ratio(ratio)} the records/s of the plain singer-sdk default "
          f"path with the same output (goal: at least 6x: {'met' if ratio >= 6 else 'NOT met'});"
          f" {fmt_ratio(bare)} the bare default path's (no value conversion).")
    samples = {p: sample_records(workdir / f"sample-{p}.jsonl") for p in results}
    same, differing = compare(samples["tap"], samples["sdk"])
    total = len(samples["tap"])
    if same == total == len(samples["sdk"]):
        print(f"Output check: tap-zohocrm and plain singer-sdk RECORD messages identical on all "
              f"{total:,} sample records (time_extracted ignored).")
    else:
        print(f"Output check: RECORD messages identical on {same:,} of {total:,} sample "
              f"records; differing properties: "
              f"{', '.join(f'{k} x{n}' for k, n in differing.most_common(8))}")
    _, raw_diff = compare(samples["tap"], samples["sdk-raw"])
    if raw_diff:
        print(f"(The bare default path's output differs, as expected, in "
              f"{len(raw_diff)} properties: datetimes not in UTC, bigint strings, "
              f"e.g. {', '.join(k for k, _ in raw_diff.most_common(3))}.)")


# --- command line -------------------------------------------------------------------------


def parse_sizes(values: list[str]) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for value in values:
        for item in value.split(","):
            if not item.strip():
                continue
            name, _, n = item.strip().partition("=")
            if not n.isdigit():
                raise argparse.ArgumentTypeError(f"--size expects MODULE=N[,...], got {item!r}")
            sizes[name] = int(n)
    return sizes


def batch_formats(value: str) -> str:
    """--batch-format: BATCH file formats, comma-separated, each parquet or jsonl."""
    formats = [f.strip() for f in value.split(",") if f.strip()]
    if not formats or set(formats) - {"parquet", "jsonl"}:
        raise argparse.ArgumentTypeError(f"expected parquet, jsonl or both, got {value!r}")
    return ",".join(dict.fromkeys(formats))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench/run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--latency-ms", type=float, default=100, help="per API call (default 100)")
    p.add_argument("--size", action="append", default=[], metavar="MODULE=N[,MODULE=N]",
                   help="org size; default Leads=20000,Contacts=20000,Accounts=10000,"
                   "Deals=10000")
    p.add_argument("--contenders", default=",".join(CONTENDERS),
                   help=f"comma-separated, from {','.join(CONTENDERS)} (default: all)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--tap-setting", action="append", default=[], metavar="KEY=JSON",
                   help="extra tap-zohocrm setting, e.g. full_rich_text=false")
    p.add_argument("--timeout", type=float, default=3600, help="per contender, seconds")
    p.add_argument("--all-streams", action="store_true",
                   help="tap-zohocrm: select every stream, as Meltano's select '*.*' (org "
                   "metadata, deleted records, attachments), not only the sized modules")
    p.add_argument("--per-record", action="store_true", help="the per-record benchmark")
    p.add_argument("--pipeline", action="store_true",
                   help="tap into target-postgres: record path vs Parquet and JSONL BATCH "
                   "(bench/pipeline.py); default size Leads=50000")
    p.add_argument("--bulk-read", action="store_true",
                   help="a Bulk Read backfill to records vs straight to Parquet (bench/"
                   "bulk_read.py); default size Leads=200000")
    p.add_argument("--batch-format", type=batch_formats, default="parquet,jsonl",
                   help="--pipeline: the BATCH file formats, comma-separated (default "
                   "parquet,jsonl: both, in the same run)")
    p.add_argument("--batch-compression", choices=("gzip", "none"), default="gzip",
                   help="--pipeline: compression of the BATCH files (none: Parquet snappy)")
    p.add_argument("--batch-size", type=int, default=2_000,
                   help="--pipeline: records per BATCH file (default 2000: the target "
                   "starts loading while the tap reads on)")
    p.add_argument("--records", type=int, default=5000, help="--per-record: Leads records")
    p.add_argument("--repeat", type=int, default=3, help="--per-record: passes per process")
    p.add_argument("--rounds", type=int, default=2,
                   help="--per-record: processes per path, taking turns")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    p.add_argument("--needs-airbyte", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    for setting in args.tap_setting:
        key, _, value = setting.partition("=")
        EXTRA_TAP_SETTINGS[key] = json.loads(value)
    default_size = {"Leads": 50000} if args.pipeline else {"Leads": 200000} \
        if args.bulk_read else {
        "Leads": 20000, "Contacts": 20000, "Accounts": 10000, "Deals": 10000}
    args.size = parse_sizes(args.size) or default_size
    args.contenders = [c.strip() for c in args.contenders.split(",") if c.strip()]
    unknown = set(args.contenders) - set(CONTENDERS)
    if unknown:
        p.error(f"unknown contenders {sorted(unknown)}; choose from {', '.join(CONTENDERS)}")
    if args.needs_airbyte:
        print("yes" if "airbyte" in args.contenders
              and not (args.per_record or args.pipeline or args.bulk_read) else "no")
        return 0

    workdir = Path(tempfile.mkdtemp(prefix="tap-zohocrm-bench-"))
    started = datetime.now().isoformat(timespec="seconds")
    print(f"bench/run {' '.join(argv if argv is not None else sys.argv[1:])} ({started}, "
          f"work directory {workdir})", file=sys.stderr, flush=True)
    try:
        if args.per_record:
            per_record(args, workdir)
        elif args.pipeline:
            from pipeline import pipeline

            return pipeline(args, workdir, EXTRA_TAP_SETTINGS)
        elif args.bulk_read:
            from bulk_read import bulk_read

            return bulk_read(args, workdir, EXTRA_TAP_SETTINGS)
        else:
            results = end_to_end(args, workdir)
            print_table(results, args)
            failed = [r for r in results if r.exit_code != 0 and r.key != "airbyte"]
            for r in failed:
                print(f"\n{r.label} failed (exit {r.exit_code}); its log ends:\n"
                      f"{r.log.read_text(errors='replace')[-2000:] if r.log else ''}")
            if failed:
                args.keep = True
                return 1
    finally:
        if args.keep:
            print(f"(logs kept in {workdir})", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
