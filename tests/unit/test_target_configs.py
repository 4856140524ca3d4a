"""The ready configs in target_configs/ and the recipes that use them."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from pathlib import Path

from singer_sdk.helpers._batch import BatchConfig

from tap_zohocrm.tap import TapZohoCRM

ROOT = Path(__file__).resolve().parents[2]


def test_the_tap_reads_every_key_of_its_parquet_config() -> None:
    # The tap ignores keys it does not declare: a stray one looks like a setting and does nothing.
    config = json.loads((ROOT / "target_configs" / "parquet.json").read_text())
    schema = copy.deepcopy(TapZohoCRM.config_jsonschema)
    TapZohoCRM.append_builtin_config(schema)  # batch_config, stream maps, ...
    declared = set(schema["properties"])
    assert set(config) <= declared, sorted(set(config) - declared)
    batch = {f.name for f in dataclasses.fields(BatchConfig)}  # what the SDK reads
    assert set(config["batch_config"]) <= batch, sorted(set(config["batch_config"]) - batch)


def test_parquet_recipe_keeps_its_messages_out_of_target_jsonl_output() -> None:
    # target-jsonl writes output/<stream>.jsonl: a messages file there reads as one more stream.
    for doc in ("README.md", "docs/loading.md"):
        text = (ROOT / doc).read_text()
        assert "target_configs/parquet.json >" in text, doc
        assert not re.findall(r"output/[\w-]+\.jsonl\b", text), (doc, re.findall(
            r"output/[\w-]+\.jsonl\b", text))
