"""An error the tap foresees ends the run with one line and its own exit code, no traceback
(the traceback only at debug level); a setting the tap does not know is a warning."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers import discover, run_tap, select_streams, tap_config

# The exit codes docs/operations.md documents.
EXIT_BAD_STATE = 5
EXIT_BAD_CREDENTIALS = 6


def _errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "| ERROR " in line]


def test_wrong_refresh_token_is_one_line_in_discovery_and_sync(sim) -> None:
    catalog = select_streams(discover(tap_config(sim, modules=["Leads"])), {"leads"})
    config = tap_config(sim, modules=["Leads"], refresh_token="1000.wrong.token")
    for run in (run_tap(config, "--discover"), run_tap(config, catalog=catalog, check=False)):
        assert run.returncode == EXIT_BAD_CREDENTIALS, run.stderr[-3000:]
        assert "Traceback" not in run.stderr, run.stderr[-3000:]
        (line,) = _errors(run.stderr)
        assert "Zoho rejected the refresh token (invalid_code)" in line
        assert "1000.wrong.token" not in run.stderr
    debug = run_tap(config, "--discover", env={"TAP_ZOHOCRM_LOGLEVEL": "debug"})
    assert debug.returncode == EXIT_BAD_CREDENTIALS
    assert "Traceback" in debug.stderr and "ZohoAuthError" in debug.stderr


def test_state_file_not_json_names_the_file_and_the_way_out(sim, tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(tap_config(sim, modules=["Leads"])))
    state = tmp_path / "state.json"
    state.write_text('{"bookmarks": {"leads": {}}\n')  # cut off mid-write
    proc = subprocess.run(
        [sys.executable, "-m", "tap_zohocrm", "--config", str(config), "--state", str(state)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == EXIT_BAD_STATE, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    (line,) = _errors(proc.stderr)
    assert f"State file {state} is not valid JSON" in line
    assert "meltano state clear" in line and "remove the file" in line


def test_misspelled_setting_is_named_with_the_closest_known_one(sim) -> None:
    """Keys the SDK adds to the settings (stream maps, flattening, BATCH, faker) and an
    orchestrator's `_`-prefixed keys pass quietly: only the misspelled one is named."""
    config = tap_config(
        sim, modules=["Leads"], api_verison="v7", stream_maps={}, stream_map_config={},
        flattening_enabled=False, flattening_max_depth=1, faker_config={"locale": "en_US"},
        batch_config={"encoding": {"format": "jsonl", "compression": "gzip"},
                      "storage": {"root": "file:///tmp"}},
        _meltano_note="x",
    )
    run = run_tap(config, "--discover")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "leads" in {s["tap_stream_id"] for s in json.loads(run.stdout)["streams"]}
    unknown = [line for line in run.stderr.splitlines() if "is not a setting" in line]
    assert len(unknown) == 1, unknown
    assert "| WARNING " in unknown[0]
    assert "Setting `api_verison` is not a setting of tap-zohocrm: did you mean api_version?" \
        in unknown[0]
