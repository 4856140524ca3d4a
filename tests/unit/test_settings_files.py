"""The settings that meltano.yml, the Meltano Hub definition and the README repeat agree with
what the tap itself declares (`tap-zohocrm --about --format json`)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
HUB_FILE = ROOT / "hub" / "extractors" / "tap-zoho-crm" / "tap-zohocrm.yml"
# number: see scripts/sync_settings.py (Meltano's decimal kind fails with environment values).
KIND_OF_TYPE = {"string": "string", "integer": "integer", "number": "string",
                "boolean": "boolean", "array": "array", "object": "object"}


def _about() -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "tap_zohocrm", "--about", "--format", "json"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout
    return json.loads(out)


def _extractor() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "meltano.yml").read_text())
    return next(p for p in data["plugins"]["extractors"] if p["name"] == "tap-zohocrm")


def _expected_kind(prop: dict[str, Any]) -> str:
    if "enum" in prop:
        return "options"
    if prop.get("format") == "date-time":
        return "date_iso8601"
    types = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
    return KIND_OF_TYPE[next(t for t in types if t != "null")]


def test_meltano_yml_declares_every_setting_as_the_tap_does() -> None:
    about = _about()
    extractor = _extractor()
    assert extractor["capabilities"] == about["capabilities"]
    assert "structured-logging" in extractor["capabilities"]
    props = about["settings"]["properties"]
    settings = {s["name"]: s for s in extractor["settings"]}
    assert list(settings) == list(props)
    for name, prop in props.items():
        setting = settings[name]
        assert setting["label"], name
        assert setting["description"] == " ".join(prop["description"].split()), name
        assert setting["kind"] == _expected_kind(prop), name
        assert bool(setting.get("sensitive")) == bool(prop.get("writeOnly")), name
        assert setting.get("value") == prop.get("default"), name
        if "enum" in prop:
            assert [o["value"] for o in setting["options"]] == prop["enum"], name
            assert all(o["label"] for o in setting["options"]), name
    for secret in ("client_secret", "refresh_token", "token_store"):
        assert settings[secret]["sensitive"] is True


def test_hub_definition_matches_meltano_yml() -> None:
    hub = yaml.safe_load(HUB_FILE.read_text())
    extractor = _extractor()
    assert hub["name"] == "tap-zoho-crm"
    assert hub["namespace"] == extractor["namespace"]
    assert hub["executable"] == extractor["executable"]
    assert hub["capabilities"] == extractor["capabilities"]
    assert hub["settings"] == extractor["settings"]
    assert hub["settings_group_validation"] == extractor["settings_group_validation"]
    assert "meltano_sdk" in hub["keywords"]
    assert hub["maintenance_status"] in {"active", "beta", "development", "inactive", "unknown"}
    for key in ("variant", "pip_url", "label", "description", "repo"):
        assert hub[key], key


def test_readme_settings_table_lists_every_setting_with_its_default() -> None:
    about = _about()
    readme = (ROOT / "README.md").read_text()
    rows = dict(re.findall(r"^\| `(\w+)` \| ([^|]+) \|", readme, re.MULTILINE))
    required = set(about["settings"]["required"])
    for name, prop in about["settings"]["properties"].items():
        assert name in rows, f"README settings table lacks {name}"
        if name in required:
            assert rows[name].startswith("required"), name
        elif prop.get("default") is not None:
            assert json.dumps(prop["default"]) in rows[name], name
        if prop.get("writeOnly"):
            assert "secret" in rows[name], name


def test_generated_files_are_up_to_date() -> None:
    proc = subprocess.run([sys.executable, "scripts/sync_settings.py", "--check"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
