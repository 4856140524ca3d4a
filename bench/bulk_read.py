"""Bulk Read benchmark: a module's backfill through Bulk Read, three ways.

    bash bench/run --bulk-read [--size Leads=200000]

Starts the simulator (no latency, Bulk Read jobs done after 1 s) and runs tap-zohocrm on the
one module with `bulk_read_threshold` below its size, once per output:

- `records`:        Bulk Read, records on stdout (per-record Python: csv cells -> dicts ->
                    post_process), counted and discarded;
- `parquet gzip`:   Bulk Read straight to Parquet files by Arrow (bulk_parquet), gzip;
- `parquet snappy`: the same with `compression: none` (pyarrow's default codec, snappy).

For each: wall seconds, peak RSS (wait4), and for the Parquet runs the tap's own CSV -> Parquet
figure (from the CSV's first block to the last file closed, the download excluded).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from harness import (
    SimulatorProcess,
    clean_env,
    count_records,
    discover_tap,
    tap_command,
    write_json,
)

CONVERTED = re.compile(rb"(\d+) Bulk Read records converted CSV -> Parquet by Arrow in "
                       rb"([\d.]+) s")


def run_tap(label: str, config: dict[str, Any], catalog: Path, env: dict[str, str],
            workdir: Path) -> dict[str, Any]:
    print(f"  running {label} ...", file=sys.stderr, flush=True)
    config_path = write_json(workdir / f"tap-{label.replace(' ', '-')}.json", config)
    log = workdir / f"{label.replace(' ', '-')}.log"
    counts: Counter[bytes] = Counter()
    with log.open("wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen([*tap_command(), "--config", str(config_path), "--catalog",
                                 str(catalog)], cwd=workdir, env=env, stdout=subprocess.PIPE,
                                stderr=err, stdin=subprocess.DEVNULL)
        count_records(proc.stdout, counts)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    assert proc.stdout is not None
    proc.stdout.close()
    code = os.waitstatus_to_exitcode(status)
    text = log.read_bytes()
    if code:
        sys.exit(f"{label}: exit {code}\n{text[-3000:].decode(errors='replace')}")
    found = CONVERTED.search(text)
    result: dict[str, Any] = {"label": label, "wall": wall, "rss": usage.ru_maxrss / 1024,
                              "records": sum(counts.values())}
    if found:
        result["records"] = int(found.group(1))
        result["convert_s"] = float(found.group(2))
    folder = workdir / "parquet"
    result["mb"] = sum(f.stat().st_size for f in folder.glob("*")) / 1e6 if folder.exists() \
        else 0.0
    shutil.rmtree(folder, ignore_errors=True)
    return result


def bulk_read(args: Any, workdir: Path, extra_settings: dict[str, Any]) -> int:
    sizes = args.size
    if len(sizes) != 1:
        sys.exit("--bulk-read takes one module, e.g. --size Leads=200000")
    module, n = next(iter(sizes.items()))
    print(f"Starting the simulator: {module}={n} (building {n:,} records takes a while)",
          file=sys.stderr, flush=True)
    sim = SimulatorProcess(sizes, 0, args.seed, workdir / "simulator.log",
                           extra=["--bulk-job-seconds", "1"])
    env = clean_env(workdir)
    try:
        discovery, catalog = discover_tap(sim, workdir, [module], "v8", env)
        config = {**json.loads(discovery.read_text()), **extra_settings,
                  "bulk_read_threshold": max(n // 2, 1), "progress_interval_seconds": 0}
        storage = {"root": (workdir / "parquet").as_uri()}
        results = [run_tap("records", config, catalog, env, workdir)]
        for label, compression in (("parquet gzip", "gzip"), ("parquet snappy", "none")):
            results.append(run_tap(label, {**config, "batch_config": {
                "encoding": {"format": "parquet", "compression": compression},
                "storage": storage, "batch_size": 100_000}}, catalog, env, workdir))
    finally:
        sim.stop()
    print()
    print(f"Bulk Read backfill of {module}={n:,} (v8, one job per 200,000 records), "
          f"{os.cpu_count()} CPU cores; wall includes the simulator's export and the download")
    print()
    print("| output | records | wall s | peak RSS MB | CSV -> Parquet s | CSV -> Parquet "
          "records/s | files MB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        convert = r.get("convert_s")
        print(f"| {r['label']} | {r['records']:,} | {r['wall']:.1f} | {r['rss']:.0f} | "
              + (f"{convert:.1f} | {r['records'] / convert:,.0f} | {r['mb']:.0f} |"
                 if convert else "- | - | - |"))
    base = results[0]
    for r in results[1:]:
        print(f"{r['label']}: {base['wall'] / r['wall']:.1f}x faster than records (wall)")
    return 0
