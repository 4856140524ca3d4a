"""Pipeline benchmark: tap-zohocrm into target-postgres, records vs BATCH files.

    bash bench/run --pipeline [--size Leads=50000] [--tap-setting KEY=JSON]

Every path reads the same org from the simulator (no latency) with the same tap settings and
loads PostgreSQL (127.0.0.1:5432, user postgres, database `bench`) with
meltanolabs-target-postgres 0.8.1 (bench/.venv-target-postgres), one after another:

- `records`: the plain record path, `tap-zohocrm | target-postgres` with the target's defaults;
- `records-tuned`: the record path, target-postgres with target_configs/postgres.json (COPY, no
  re-validation of the already typed records);
- `batch parquet`, `batch jsonl`: the tap writes BATCH files (`batch_config`; `--batch-format`
  picks the formats, `--batch-size` records a file, gzip or `--batch-compression none`), the
  target loads them with target_configs/postgres.json;
- target-postgres alone: loading BATCH files of the first format written beforehand (the tap
  run first, not timed), no tap or simulator running: the ceiling of any tap.

It prints wall seconds, records/s, peak RSS and CPU seconds for each, the ratios, and whether
the tables hold identical rows (every column but the target's `_sdc_*` metadata); it exits 1
when they do not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from harness import (
    BENCH,
    ROOT,
    SimulatorProcess,
    clean_env,
    discover_tap,
    fmt_ratio,
    tap_command,
    write_json,
)

TARGET_VENV = BENCH / ".venv-target-postgres"
DATABASE = "bench"
PSQL = ["psql", "-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-v", "ON_ERROR_STOP=1",
        "-At"]


def psql(sql: str, database: str = DATABASE) -> str:
    return subprocess.run([*PSQL, "-d", database, "-c", sql], check=True, capture_output=True,
                          text=True).stdout.strip()


def prepare_database(schemas: list[str]) -> None:
    if not psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'", "postgres"):
        psql(f"CREATE DATABASE {DATABASE}", "postgres")
    for schema in schemas:
        psql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def target_config(base: dict[str, Any], schema: str) -> dict[str, Any]:
    return {**base, "host": "127.0.0.1", "port": 5432, "user": "postgres", "password": "",
            "database": DATABASE, "default_target_schema": schema}


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a running process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> float:
    """CPU seconds every process on the machine has used so far (busy time, all cores)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    # user..softirq; not steal (time the VM's host ran something else), nor guest time.
    return (sum(values[:7]) - idle) / os.sysconf("SC_CLK_TCK")


def run_pipeline(label: str, tap_cmd: list[str], target_cmd: list[str], env: dict[str, str],
                 workdir: Path, sim: SimulatorProcess) -> dict[str, Any]:
    """tap | target; wall seconds, each side's peak RSS and CPU seconds (from wait4), the
    simulator's CPU seconds, and the rest of the machine's (PostgreSQL, mostly)."""
    print(f"  running {label} ...", file=sys.stderr, flush=True)
    sim_cpu, all_cpu = process_cpu(sim.proc.pid), machine_cpu()
    with (workdir / f"{label}-tap.log").open("wb") as tap_log, \
            (workdir / f"{label}-target.log").open("wb") as target_log:
        started = time.perf_counter()
        tap = subprocess.Popen(tap_cmd, cwd=workdir, env=env, stdout=subprocess.PIPE,
                               stderr=tap_log, stdin=subprocess.DEVNULL)
        target = subprocess.Popen(target_cmd, cwd=workdir, env=env, stdin=tap.stdout,
                                  stdout=subprocess.DEVNULL, stderr=target_log)
        assert tap.stdout is not None
        tap.stdout.close()
        usage, cpu = {}, {}
        for name, proc in (("tap", tap), ("target", target)):
            _, status, rusage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            usage[name] = rusage.ru_maxrss / 1024
            cpu[name] = rusage.ru_utime + rusage.ru_stime
        wall = time.perf_counter() - started
    cpu["simulator"] = process_cpu(sim.proc.pid) - sim_cpu
    cpu["other"] = machine_cpu() - all_cpu - sum(cpu.values())
    if tap.returncode or target.returncode:
        for side in ("tap", "target"):
            print(f"--- {label} {side} log ends:\n"
                  f"{(workdir / f'{label}-{side}.log').read_text(errors='replace')[-2000:]}")
        sys.exit(f"{label}: tap exit {tap.returncode}, target exit {target.returncode}")
    return {"label": label, "wall": wall, "tap_rss": usage["tap"], "target_rss": usage["target"],
            "cpu": cpu}


def table_digest(schema: str, table: str) -> tuple[int, str, list[str]]:
    """Rows, an md5 over every row (ordered by id) and the columns, `_sdc_*` left out."""
    columns = psql(
        f"SELECT column_name FROM information_schema.columns WHERE table_schema = '{schema}' "
        f"AND table_name = '{table}' AND column_name NOT LIKE '\\_sdc\\_%' "
        f"ORDER BY column_name").splitlines()
    select = ", ".join(f'"{c}"' for c in columns)
    out = psql(f"SELECT count(*), md5(string_agg(t::text, E'\\n' ORDER BY t.id)) FROM "
               f"(SELECT {select} FROM {schema}.{table}) t")
    count, digest = out.split("|")
    return int(count), digest, columns


def differing_columns(columns: list[str], table: str, a: str, b: str) -> list[str]:
    differing = []
    for column in columns:
        n = psql(f'SELECT count(*) FROM {a}.{table} x JOIN {b}.{table} y USING (id) '
                 f'WHERE x."{column}"::text IS DISTINCT FROM y."{column}"::text')
        if int(n):
            differing.append(f"{column} ({n} rows)")
    return differing


def target_alone(batch_format: str, tap_settings: dict[str, Any], batch: dict[str, Any],
                 catalog: Path, target_settings: dict[str, Any], target: Path,
                 env: dict[str, str], workdir: Path) -> dict[str, Any]:
    """target-postgres loading BATCH files the tap wrote beforehand: wall and CPU seconds."""
    print(f"  running target-postgres alone on {batch_format} BATCH files ...", file=sys.stderr,
          flush=True)
    messages = workdir / f"alone-{batch_format}.jsonl"
    tap_config = write_json(workdir / "tap-alone.json", {**tap_settings, "batch_config": {
        **batch, "storage": {"root": (workdir / "alone").as_uri()}}})
    with messages.open("wb") as out, (workdir / "alone-tap.log").open("wb") as log:
        subprocess.run([*tap_command(), "--catalog", str(catalog), "--config", str(tap_config)],
                       cwd=workdir, env=env, stdout=out, stderr=log, check=True)
    target_file = write_json(workdir / "target-alone.json", target_settings)
    with messages.open("rb") as source, (workdir / "alone-target.log").open("wb") as log:
        started = time.perf_counter()
        proc = subprocess.Popen([str(target), "--config", str(target_file)], cwd=workdir,
                                env=env, stdin=source, stdout=subprocess.DEVNULL, stderr=log)
        _, status, rusage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status):
        sys.exit(f"target-postgres alone failed: see {workdir / 'alone-target.log'}")
    return {"format": batch_format, "wall": wall, "cpu": rusage.ru_utime + rusage.ru_stime}


def pipeline(args: Any, workdir: Path, extra_settings: dict[str, Any]) -> int:
    target = TARGET_VENV / "bin" / "target-postgres"
    if not target.exists():
        sys.exit(f"{target} is missing: `bash bench/run --pipeline` creates it")
    sizes = args.size
    modules = list(sizes)
    total = sum(sizes.values())
    print(f"Starting the simulator: {', '.join(f'{m}={n}' for m, n in sizes.items())}, "
          "no latency", file=sys.stderr, flush=True)
    sim = SimulatorProcess(sizes, 0, args.seed, workdir / "simulator.log")
    env = clean_env(workdir)
    formats = [f for f in args.batch_format.split(",") if f]
    schemas = {"records": "bench_records", "records-tuned": "bench_records_tuned",
               **{f"batch {f}": f"bench_batch_{f}" for f in formats}}
    replay_schema = "bench_target_alone"
    prepare_database([*schemas.values(), replay_schema])
    try:
        discovery_config, catalog = discover_tap(sim, workdir, modules, "v8", env)
        config = {**json.loads(discovery_config.read_text()), **extra_settings}
        shipped = json.loads((ROOT / "target_configs" / "postgres.json").read_text())

        def batch_config(batch_format: str) -> dict[str, Any]:
            return {"encoding": {"format": batch_format, "compression": args.batch_compression},
                    "storage": {"root": (workdir / f"batch-{batch_format}").as_uri()},
                    "batch_size": args.batch_size}

        paths = [
            # The plain record path with target-postgres's defaults.
            ("records", config, {}),
            # The record path with the project's target settings (COPY, no re-validation).
            ("records-tuned", config, shipped),
            # BATCH files, loaded with the project's target settings.
            *((f"batch {f}", {**config, "batch_config": batch_config(f)}, shipped)
              for f in formats),
        ]
        results = []
        for label, tap_settings, target_settings in paths:
            name = label.replace(" ", "-")
            tap_config = write_json(workdir / f"tap-{name}.json", tap_settings)
            target_file = write_json(workdir / f"target-{name}.json",
                                     target_config(target_settings, schemas[label]))
            results.append(run_pipeline(
                name, [*tap_command(), "--catalog", str(catalog), "--config", str(tap_config)],
                [str(target), "--config", str(target_file)], env, workdir, sim))
            results[-1]["label"] = label
        # The ceiling of any tap: target-postgres alone, loading BATCH files already written
        # (the first format's, the tap run beforehand and not timed).
        alone = target_alone(formats[0], config, batch_config(formats[0]), catalog,
                             target_config(shipped, replay_schema), target, env, workdir)
    finally:
        sim.stop()

    print()
    print(f"Pipeline: {total:,} records ({', '.join(f'{m}={n:,}' for m, n in sizes.items())}) "
          f"from the simulator (no latency) into PostgreSQL, {os.cpu_count()} CPU cores")
    print()
    print("| path | loaded rows | wall s | records/s | tap peak RSS MB | target peak RSS MB "
          "| CPU s: tap | target | simulator | other (PostgreSQL...) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    same = True
    digests = {}
    for r in results:
        rows = 0
        for module in modules:
            count, digest, columns = table_digest(schemas[r["label"]], module.lower())
            digests[(r["label"], module)] = (count, digest, columns)
            rows += count
        r["rows"] = rows
        cpu = r["cpu"]
        print(f"| {r['label']} | {rows:,} | {r['wall']:.1f} | {rows / r['wall']:,.0f} | "
              f"{r['tap_rss']:.0f} | {r['target_rss']:.0f} | {cpu['tap']:.1f} | "
              f"{cpu['target']:.1f} | {cpu['simulator']:.1f} | {cpu['other']:.1f} |")
    print()
    records = results[0]
    for r in results[1:]:
        print(f"{r['label']} loads {fmt_ratio(records['wall'] / r['wall'])} faster than the "
              f"record path with target-postgres defaults (wall time).")
    print(f"target-postgres alone, loading the {alone['format']} BATCH files of the same "
          f"records already written (no tap, no simulator): {alone['wall']:.1f} s wall, "
          f"{alone['cpu']:.1f} s CPU; no tap can load faster than "
          f"{fmt_ratio(records['wall'] / alone['wall'])} the record path with defaults here.")
    for r in results[1:]:
        for module in modules:
            a, b = digests[("records", module)], digests[(r["label"], module)]
            if a[:2] == b[:2] and a[2] == b[2]:
                print(f"{module}: {r['label']} rows identical to the record path's ({a[0]:,} "
                      f"rows, {len(a[2])} columns compared, md5 {a[1]})")
                continue
            same = False
            table = module.lower()
            diff = differing_columns(sorted(set(a[2]) & set(b[2])), table, schemas["records"],
                                     schemas[r["label"]])
            print(f"{module}: {r['label']} rows differ: {a[0]:,} vs {b[0]:,} rows; columns only "
                  f"in one: {sorted(set(a[2]) ^ set(b[2]))}; differing: "
                  f"{', '.join(diff) or 'none'}")
    if not same:
        # Every path must land the same rows: a difference is a failure, not a figure.
        print("FAILED: the paths loaded different rows (above); exit 1", file=sys.stderr)
    return 0 if same else 1
