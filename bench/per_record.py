"""Per-record cost of one emit path, on pre-fetched raw records (run by bench/run.py).

One process per path, so each starts with the same interpreter state. The stream's
`get_records` is replaced by the pre-fetched raw dicts (a fresh deep copy per pass, made before
the clock starts); everything after it is the stream's own: `post_process`, the SDK's
`_sync_records` (selection, type conformance as the stream sets it, state), and the tap's
message writer. stdout goes to /dev/null at the file-descriptor level, so any writer's output
(text or binary buffer) is discarded the same way.

Paths: `tap` (tap_zohocrm's ModuleStream), `sdk` (bench/plain_sdk_tap.py with the same value
conversions, identical output), `sdk-raw` (plain_sdk_tap without conversion: the SDK's bare
default path).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))


def make_stream(path: str, config: dict[str, Any], catalog: dict[str, Any], name: str) -> Any:
    if path == "tap":
        from tap_zohocrm.tap import TapZohoCRM

        tap: Any = TapZohoCRM(config=config["tap"], catalog=catalog, validate_config=True)
    else:
        from plain_sdk_tap import PlainSDKTap

        plain = {**config["plain"], "convert_values": path == "sdk"}
        tap = PlainSDKTap(config=plain, catalog=catalog, validate_config=True)
    return tap.streams[name]


@contextlib.contextmanager
def stdout_to(target: str) -> Iterator[None]:
    """Point file descriptor 1 at `target` (whatever object writes to it), then restore."""
    sys.stdout.flush()
    saved = os.dup(1)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(fd, 1)
    os.close(fd)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def one_pass(stream: Any, records: list[dict[str, Any]]) -> float:
    """Seconds to emit `records` through the stream (from get_records to flushed stdout)."""
    stream.get_records = lambda context: iter(records)
    start = time.perf_counter()
    stream.sync()
    sys.stdout.flush()
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--path", choices=("tap", "sdk", "sdk-raw"), required=True)
    p.add_argument("--config", required=True, help="JSON: {'tap': {...}, 'plain': {...}}")
    p.add_argument("--catalog", required=True)
    p.add_argument("--stream", default="leads")
    p.add_argument("--records", required=True, help="JSON list of raw records")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--sample", type=int, default=1000, help="records written to --sample-out")
    p.add_argument("--sample-out", required=True)
    p.add_argument("--result", required=True)
    args = p.parse_args()

    config = json.loads(Path(args.config).read_text())
    catalog = json.loads(Path(args.catalog).read_text())
    raw = json.loads(Path(args.records).read_text())

    # Streams are built (settings/modules call, token) before any clock starts.
    streams = [make_stream(args.path, config, catalog, args.stream)
               for _ in range(args.repeat + 1)]
    with stdout_to(args.sample_out):
        one_pass(streams[0], copy.deepcopy(raw[: args.sample]))
    seconds = []
    for stream in streams[1:]:
        records = copy.deepcopy(raw)
        with stdout_to(os.devnull):
            seconds.append(one_pass(stream, records))
        del records
    result = {
        "path": args.path, "records": len(raw), "fields": len(raw[0]) if raw else 0,
        "seconds": seconds, "median_seconds": statistics.median(seconds),
        "records_per_s": len(raw) / statistics.median(seconds),
        "best_records_per_s": len(raw) / min(seconds),
        "conformance": str(getattr(streams[0], "TYPE_CONFORMANCE_LEVEL", "?")),
        "writer": type(streams[0]._tap.message_writer).__name__
        if hasattr(streams[0]._tap, "message_writer") else "?",
    }
    Path(args.result).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
