"""JSONL BATCH files written by the tap (tap_zohocrm/batch_files/jsonl.py) over the simulator."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from tests.helpers import discover, run_tap, select_streams, tap_config
from zoho_simulator import Simulator


def _batch_files(messages: list[dict]) -> dict[str, list[tuple[dict, Path]]]:
    files: dict[str, list[tuple[dict, Path]]] = {}
    for m in messages:
        if m["type"] == "BATCH":
            files.setdefault(m["stream"], []).extend(
                (m["encoding"], Path(unquote(urlparse(url).path))) for url in m["manifest"])
    return files


def _lines(encoding: dict, path: Path) -> list[dict]:
    opener = gzip.open if encoding["compression"] == "gzip" else open
    with opener(path, "rt", encoding="utf-8") as f:  # type: ignore[operator]
        return [json.loads(line) for line in f]


@pytest.mark.parametrize("compression", ["gzip", "none"])
def test_jsonl_batch_files_hold_the_record_paths_records(
        compression: str, make_simulator: Callable[..., Simulator], tmp_path: Path) -> None:
    sim = make_simulator(seed=61, sizes={"Leads": 450, "Contacts": 130})
    config = tap_config(sim, modules=["Leads", "Contacts"])
    catalog = select_streams(discover(config), {"leads", "contacts"})
    records = run_tap(config, catalog=catalog)
    out = tmp_path / "batches"
    batch = run_tap({**config, "batch_config": {
        "encoding": {"format": "jsonl", "compression": compression},
        "storage": {"root": out.as_uri()}, "batch_size": 200}}, catalog=catalog)
    files = _batch_files(batch.messages)
    assert set(files) == {"leads", "contacts"}
    assert not batch.records("leads")  # records went to files, not to stdout
    # Files of batch_size records, in order; their lines are the record path's records.
    assert [len(_lines(*f)) for f in files["leads"]] == [200, 200, 50]
    for stream in ("leads", "contacts"):
        rows = [row for encoding, path in files[stream] for row in _lines(encoding, path)]
        assert rows == records.records(stream)
        for encoding, path in files[stream]:
            assert encoding == {"format": "jsonl", "compression": compression}
            assert path.parent == out and path.name.endswith(
                ".jsonl.gz" if compression == "gzip" else ".jsonl")
            assert path.read_bytes()[:2] == b"\x1f\x8b" if compression == "gzip" \
                else path.read_bytes()[:1] == b"{"
    # Written under a temporary name, renamed when complete: nothing else is left.
    assert sorted(out.iterdir()) == sorted(p for f in files.values() for _, p in f)
    # The bookmark still moves as on the record path.
    assert batch.last_state["bookmarks"]["leads"]["replication_key_value"] == \
        records.last_state["bookmarks"]["leads"]["replication_key_value"]
