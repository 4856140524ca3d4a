"""Discovery against the simulator: which modules become streams, and with which schemas."""

from __future__ import annotations

import pytest

from tests.helpers import discover, run_tap, tap_config


def _streams(catalog: dict) -> dict[str, dict]:
    return {entry["tap_stream_id"]: entry for entry in catalog["streams"]}


def test_discovery_lists_readable_modules_including_custom_and_linking(sim) -> None:
    streams = _streams(discover(tap_config(sim)))
    for name in ("leads", "contacts", "accounts", "deals", "price_books", "shipments",
                 "contacts_x_deals", "tasks", "events", "calls"):
        assert name in streams, name
    # api_supported false, forbidden, or gone from v3 on
    for name in ("home", "reports", "feeds", "invoices", "activities"):
        assert name not in streams, name


def test_forbidden_module_is_skipped_with_a_warning(sim) -> None:
    run = run_tap(tap_config(sim), "--discover")
    assert run.returncode == 0
    assert "Invoices" in run.stderr and "NO_PERMISSION" in run.stderr


def test_v2_discovers_activities(sim) -> None:
    streams = _streams(discover(tap_config(sim, api_version="v2")))
    assert "activities" in streams


def test_stream_keys_and_replication(sim) -> None:
    leads = _streams(discover(tap_config(sim)))["leads"]
    assert leads["key_properties"] == ["id"]
    root = next(m for m in leads["metadata"] if m["breadcrumb"] == [])["metadata"]
    assert root["valid-replication-keys"] == ["Modified_Time"]
    assert leads["replication_key"] == "Modified_Time"
    assert leads["replication_method"] == "INCREMENTAL"
    properties = leads["schema"]["properties"]
    assert len(properties) >= 110
    assert properties["Modified_Time"]["format"] == "date-time"


def test_modules_setting_limits_discovery(sim) -> None:
    streams = _streams(discover(tap_config(sim, modules=["Leads", "Shipments"])))
    org_streams = {"users", "org", "roles", "profiles", "modules", "fields", "deleted_records",
                   "attachments"}
    assert set(streams) - org_streams == {"leads", "shipments"}


def test_unknown_module_in_setting_is_reported_by_name(sim) -> None:
    run = run_tap(tap_config(sim, modules=["Leads", "Leeds"]), "--discover")
    assert run.returncode != 0
    assert "Leeds" in run.stderr


@pytest.mark.parametrize(
    ("overrides", "setting"),
    [
        ({"data_center": "mars"}, "data_center"),
        ({"api_version": "v9"}, "api_version"),
        ({"start_date": "last tuesday"}, "start_date"),
        ({"modules": "Leads"}, "modules"),
        ({"per_page": 500}, "per_page"),
        ({"api_url": "http://zoho.example.com"}, "api_url"),
        ({"environment": "staging"}, "environment"),
    ],
)
def test_invalid_settings_are_rejected_naming_the_setting(sim, overrides, setting) -> None:
    run = run_tap(tap_config(sim, **overrides), "--discover")
    assert run.returncode != 0
    assert setting in run.stderr


def test_about_lists_every_setting() -> None:
    import json
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "tap_zohocrm", "--about", "--format", "json"],
        capture_output=True, text=True, check=True,
    ).stdout
    settings = json.loads(out)["settings"]["properties"]
    for name in ("client_id", "client_secret", "refresh_token", "data_center", "environment",
                 "accounts_url", "api_url", "api_version", "start_date", "modules", "per_page"):
        assert name in settings, name
    assert settings["client_secret"].get("writeOnly") is True
    assert settings["refresh_token"].get("writeOnly") is True


def test_empty_optional_settings_count_as_unset(sim) -> None:
    # An orchestrator writes "" for a declared but unset variable: the default must apply.
    config = tap_config(sim, start_date="", modules="", data_center="", environment="",
                        token_store_legacy_table="", max_api_credits="", attachment_modules="")
    streams = _streams(discover(config))
    assert {"leads", "contacts", "shipments", "deals"} <= set(streams)
