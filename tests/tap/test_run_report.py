"""Plan before a run, progress during it, a report after it: checked against the simulator."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.helpers import discover, run_tap, select_streams, tap_config

# The logging config Meltano writes (SINGER_SDK_LOG_CONFIG) for a plugin that declares the
# `structured-logging` capability: the SDK's JSON formatter on stderr.
STRUCTURED_LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"singer_formatter": {"()": "singer_sdk.logging.StructuredFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "singer_formatter",
                             "stream": "ext://sys.stderr"}},
    "root": {"handlers": ["console"], "level": "INFO"},
}
LOG_FORMATS = pytest.mark.parametrize("structured", [False, True], ids=["text", "json"])


def _log_env(structured: bool, tmp_path: Path) -> dict[str, str]:
    if not structured:
        return {}
    path = tmp_path / "logging.json"
    path.write_text(json.dumps(STRUCTURED_LOGGING))
    return {"SINGER_SDK_LOG_CONFIG": str(path)}


def _log_records(stderr: str) -> list[dict]:
    """Every stderr line of a structured run is one JSON log record."""
    return [json.loads(line) for line in stderr.splitlines() if line.strip()]


def _messages(stderr: str, structured: bool) -> list[str]:
    if structured:
        return [r["message"] for r in _log_records(stderr)]
    return stderr.splitlines()


def _report(stderr: str, structured: bool = False) -> dict:
    """The report's figures: one text line in plain logs, a field of the readable report's own
    record (an object, not JSON text) in structured logs."""
    if not structured:
        assert "Run report:" in stderr
        line = next(x for x in stderr.splitlines() if "ZOHO_RUN_REPORT " in x)
        return json.loads(line.split("ZOHO_RUN_REPORT ", 1)[1])
    records = _log_records(stderr)
    reports = [r for r in records if "run_report" in r["extra"]]
    assert len(reports) == 1
    assert reports[0]["logger_name"] == "tap-zohocrm.report"
    assert reports[0]["message"].startswith("Run report: ")
    assert not [r for r in records if "ZOHO_RUN_REPORT" in r["message"]]
    assert isinstance(reports[0]["extra"]["run_report"], dict)
    return reports[0]["extra"]["run_report"]


def _plan(stdout: str) -> dict:
    line = next(x for x in stdout.splitlines() if x.startswith("ZOHO_RUN_PLAN "))
    return json.loads(line.split("ZOHO_RUN_PLAN ", 1)[1])


def test_plan_matches_the_calls_of_the_real_run(make_simulator) -> None:
    sim = make_simulator(seed=73, sizes={"Leads": 2300, "Contacts": 450, "Deals": 130})
    config = tap_config(sim, full_rich_text=False)
    catalog = discover(config)
    for state in (None, "incremental"):
        if state == "incremental":
            for record in sim.records("Leads")[:150]:
                sim.update_record("Leads", record["id"])
            state = first.last_state  # noqa: F821 - set by the first pass
        sim.reset_stats()
        planned = run_tap(config, "--plan", catalog=catalog, state=state)
        assert planned.returncode == 0, planned.stderr[-3000:]
        assert '"type": "RECORD"' not in planned.stdout and '"type":"RECORD"' not in planned.stdout
        plan = _plan(planned.stdout)
        plan_calls = sim.stats()["api_calls"]
        sim_plan_requests = [r for r in sim.requests() if r["path"].startswith("/crm/")]
        sim.reset_stats()
        run = run_tap(config, catalog=catalog, state=state)
        actual = sim.stats()["api_calls"]
        assert abs(plan["api_calls"] - actual) <= 0.05 * actual, (plan["api_calls"], actual)
        leads_row = next(r for r in plan["streams"] if r["stream"] == "leads")
        assert leads_row["records"] == len(run.records("leads"))
        # the plan reads settings/modules (names), the counts that price each module's read
        # (one, or two where COQL may leave records out) and /org: nothing else
        asked = [r["path"] for r in sim_plan_requests]
        assert len(asked) == plan_calls
        assert len([p for p in asked if p.endswith("/actions/count")]) >= len(
            [r for r in plan["streams"] if r["records"] is not None])
        assert {p for p in asked if not p.endswith("/actions/count")} == {
            "/crm/v8/settings/modules", "/crm/v8/org"}
        assert plan["daily_credit_allowance"] > 0
        if state is None:
            first = run  # noqa: F841


@LOG_FORMATS
def test_progress_lines_with_total_rate_and_eta(make_simulator, structured: bool,
                                                tmp_path: Path) -> None:
    # Get Records pages: records go out a page at a time over several progress intervals (a
    # COQL read sends them in a few large pieces, too few to show a cadence).
    sim = make_simulator(seed=79, sizes={"Leads": 3000}, latency_ms=60)
    config = tap_config(sim, modules=["Leads"], full_rich_text=False, progress_interval_seconds=0.5,
                        max_concurrency=1, read_path="rest")
    run = run_tap(config, catalog=select_streams(discover(config), {"leads"}),
                  env=_log_env(structured, tmp_path))
    # Readable text, also as the message of a structured record.
    lines = [x for x in _messages(run.stderr, structured) if "Progress leads:" in x]
    assert len(lines) >= 3
    assert len(lines) < 3000 / 200  # a steady cadence, not one per page
    done = [int(re.search(r"leads: (\d+) records of 3000", x).group(1)) for x in lines]
    assert done == sorted(done) and done[-1] <= 3000
    assert all(re.search(r"\d+ records/s, ETA \d+ s", x) for x in lines)


@LOG_FORMATS
def test_report_figures_match_the_run(make_simulator, structured: bool, tmp_path: Path) -> None:
    sim = make_simulator(seed=83, sizes={"Leads": 1200, "Contacts": 300})
    config = tap_config(sim, modules=["Leads", "Contacts"], full_rich_text=False,
                        retry_backoff_seconds=0.05)
    catalog = select_streams(discover(config), {"leads", "contacts", "users"})
    sim.reset_stats()
    sim.add_fault(r"^/crm/v8/Leads$", status=500, count=3)
    sim.add_fault(r"^/crm/v8/Contacts$", status=429, count=2, retry_after=1)
    run = run_tap(config, catalog=catalog, env=_log_env(structured, tmp_path))
    report = _report(run.stderr, structured)
    stats = sim.stats()
    assert report["api_calls"] == stats["api_calls"]
    assert report["token_requests"] == stats["token_requests"]
    for stream in ("leads", "contacts", "users"):
        assert report["streams"][stream]["records"] == len(run.records(stream))
        assert report["streams"][stream]["status"] == "ok"
    assert report["streams"]["leads"]["retries"] == 3
    causes = list(report["streams"]["leads"]["retry_causes"])
    assert causes == ["HTTP 500 INTERNAL_ERROR from GET /crm/v8/Leads"]
    assert report["streams"]["contacts"]["retries"] == 2


@LOG_FORMATS
def test_report_is_written_when_the_run_fails(make_simulator, structured: bool,
                                              tmp_path: Path) -> None:
    sim = make_simulator(seed=89, sizes={"Leads": 400})
    config = tap_config(sim, modules=["Leads"], max_retries=1, retry_backoff_seconds=0.05)
    catalog = select_streams(discover(config), {"leads"})
    sim.add_fault(r"^/crm/v8/Leads$", status=500, count=None)
    run = run_tap(config, catalog=catalog, check=False, env=_log_env(structured, tmp_path))
    assert run.returncode != 0
    report = _report(run.stderr, structured)
    assert report["streams"]["leads"]["status"] == "failed"
    assert report["streams"]["leads"]["retries"] == 1


def test_plan_names_a_bulk_read_backfill(make_simulator) -> None:
    sim = make_simulator(seed=74, sizes={"Leads": 2300, "Contacts": 120})
    config = tap_config(sim, modules=["Leads", "Contacts"], bulk_read_threshold=1000)
    planned = run_tap(config, "--plan", catalog=select_streams(discover(config),
                                                                {"leads", "contacts"}))
    assert planned.returncode == 0, planned.stderr[-3000:]
    rows = {r["stream"]: r for r in _plan(planned.stdout)["streams"]}
    assert rows["leads"]["note"].startswith("Bulk Read: 1 job(s)")
    assert "rich-text re-reads" not in rows["leads"]["note"]  # the export has them whole
    assert "Bulk Read" not in rows["contacts"]["note"]  # under the threshold: REST
    assert (rows["leads"]["read_path"], rows["contacts"]["read_path"]) == ("bulk", "rest")
    table = {line.split()[0]: line for line in planned.stdout.splitlines()
             if line.startswith(("leads ", "contacts "))}
    assert "  bulk  Bulk Read: 1 job(s)" in table["leads"]
    assert table["contacts"].endswith("  rest")


def test_plan_names_each_modules_path_with_its_notes(make_simulator) -> None:
    # Leads (over 50 fields) are cheaper by COQL; rich text still says its re-reads.
    sim = make_simulator(seed=75, sizes={"Leads": 3000, "Contacts": 600})
    config = tap_config(sim, modules=["Leads", "Contacts"])
    planned = run_tap(config, "--plan", catalog=select_streams(discover(config),
                                                                {"leads", "contacts"}))
    assert planned.returncode == 0, planned.stderr[-3000:]
    rows = {r["stream"]: r for r in _plan(planned.stdout)["streams"]}
    assert (rows["leads"]["read_path"], rows["contacts"]["read_path"]) == ("coql", "rest")
    leads = next(x for x in planned.stdout.splitlines() if x.startswith("leads "))
    assert "  coql  + up to" in leads and leads.endswith("rich-text re-reads")
