"""A run at the default level logs what a person reads: what it will read, progress, warnings a
user can act on, the run report. The SDK's other notes come back at DEBUG."""

from __future__ import annotations

import re

from tests.helpers import discover, run_tap, select_streams, tap_config

# Warnings a user can act on (a setting, a grant, a token, a discovery, a schedule). Any other
# WARNING in a default run fails the test: move it to DEBUG or make it say what to do.
ACTIONABLE_WARNINGS = tuple(re.compile(pattern) for pattern in (
    r"Skipping (module|stream) \S+: ",                      # refused, unreadable: grant or name it
    r"Skipping the deleted records of module ",
    r"Zoho refused users\?type=",
    r"The refresh token acts as user .*, whose profile is",  # non-admin token
    r"Retrying .* after ",
    r"Stopping .* cleanly: ",                                # credit stops and budgets
    r"Stopped by ",
    r"Zoho returned fields the catalog does not have .* Run discovery again",
    r"values that did not fit their field's type were kept in ",
    r"Field \S+ has (unknown )?data_type",
    r"Setting `\w+` ",
    r"State bookmark for ",
    r"Bulk Read",
    r"rich.text",
    r"token request",
    r"Zoho's page limit on ",
    r"Stream \S+: the catalog ",
    r"Zoho lists no deleted records for module ",
))
# The SDK's notes and the tap's own details that go to DEBUG.
DEBUG_ONLY = ("METRIC: ", "as child stream to", "Stream is assumed to be unsorted",
              "Skipping parse of env var settings", "not supported in the API",
              "Zoho returned fields the catalog does not have")


def _warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "| WARNING " in line]


def test_a_default_run_logs_what_a_person_reads(make_simulator) -> None:
    sim = make_simulator(seed=7)
    config = tap_config(sim)
    catalog = discover(config)
    names = {entry["tap_stream_id"] for entry in catalog["streams"]}
    run = run_tap(config, catalog=select_streams(catalog, names))
    lines = run.stderr.splitlines()

    unactionable = [line for line in _warnings(run.stderr)
                    if not any(p.search(line) for p in ACTIONABLE_WARNINGS)]
    assert not unactionable, "\n".join(unactionable)
    assert not [line for line in lines if any(note in line for note in DEBUG_ONLY)]
    # Per stream: where it starts and its report line; a few lines for the run itself.
    assert "Run report:" in run.stderr
    assert len(lines) <= 12 + 3 * len(names), f"{len(lines)} lines:\n{run.stderr[-6000:]}"

    debug = run_tap(config, catalog=catalog, env={"TAP_ZOHOCRM_LOGLEVEL": "DEBUG"})
    assert "METRIC: " in debug.stderr  # the SDK's metrics logger, back at its own level
    for note in ("as child stream to", "Stream is assumed to be unsorted",
                 "users: Zoho returned fields the catalog does not have"):
        assert re.search(rf"\| DEBUG +\| .*{re.escape(note)}", debug.stderr), note
    assert len(debug.records("leads")) == len(run.records("leads")) > 0
