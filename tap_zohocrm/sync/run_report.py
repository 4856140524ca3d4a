"""What a run did, per stream: live progress with an ETA, and a closing report.

Progress lines come at a steady cadence (not per page); the report is logged at the end of the
run, failed or not, as a readable block per stream that carries the figures as the log record's
`run_report` field. Under structured (JSON) logging, as Meltano sets up for a plugin with the
`structured-logging` capability, that field is a JSON object of the line; plain text logs show
no fields, so there one `ZOHO_RUN_REPORT {json}` line follows for log scrapers.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from singer_sdk.logging import StructuredFormatter

LOGGER = logging.getLogger("tap-zohocrm.report")
REPORT_PREFIX = "ZOHO_RUN_REPORT "
REPORT_FIELD = "run_report"  # the report's field in a structured log record
READ_TO_END = "ok"  # the status of a stream whose sync went to its end


@dataclass
class StreamReport:
    records: int = 0
    api_calls: int = 0
    credits: int = 0
    retries: Counter = field(default_factory=Counter)  # cause -> count
    expected: int | None = None  # from Zoho's record count, when read
    started: float | None = None
    finished: float | None = None
    last_progress: float = 0.0
    status: str = "not started"
    reason: str | None = None  # why a skipped stream was skipped
    # Read in full again for values Zoho changes without Modified_Time (computed_refresh_days):
    # the stream's records, calls and credits are then the refresh's cost.
    refresh: bool = False
    # Strings Zoho sent with a lone UTF-16 surrogate, written with U+FFFD in its place.
    replaced_surrogates: int = 0
    # How a module's records were read: rest, coql or bulk (None: not a module's records).
    read_path: str | None = None

    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or time.monotonic()) - self.started

    def as_dict(self) -> dict[str, Any]:
        return {
            "records": self.records, "expected": self.expected, "api_calls": self.api_calls,
            "credits": self.credits, "retries": sum(self.retries.values()),
            "retry_causes": dict(self.retries), "seconds": round(self.elapsed(), 2),
            "status": self.status, "reason": self.reason, "computed_refresh": self.refresh,
        } | ({"replaced_surrogates": self.replaced_surrogates} if self.replaced_surrogates
             else {}) | ({"read_path": self.read_path} if self.read_path else {})


class RunReport:
    """Shared by every stream of one tap run (thread-safe: read-ahead threads count calls)."""

    def __init__(self, progress_interval: float) -> None:
        self.progress_interval = progress_interval
        self.streams: dict[str, StreamReport] = {}
        self.started = time.monotonic()
        self._lock = threading.Lock()

    def stream(self, name: str) -> StreamReport:
        with self._lock:
            return self.streams.setdefault(name, StreamReport())

    def call(self, name: str, credits: int) -> None:
        report = self.stream(name)
        with self._lock:
            report.api_calls += 1
            report.credits += credits

    def retry(self, name: str, cause: str) -> None:
        report = self.stream(name)
        with self._lock:
            report.retries[cause] += 1

    def replaced(self, name: str, count: int) -> None:
        report = self.stream(name)
        with self._lock:
            report.replaced_surrogates += count

    def start(self, name: str, expected: int | None) -> None:
        report = self.stream(name)
        report.started = report.last_progress = time.monotonic()
        report.expected = expected
        report.status = "running"

    def record(self, name: str, report: StreamReport, logger: logging.Logger) -> None:
        """Count one emitted record; log progress when the interval has passed."""
        report.records += 1
        if not report.records % 200:
            self._progress(name, report, logger)

    def add_records(self, name: str, report: StreamReport, count: int,
                    logger: logging.Logger) -> None:
        """Count records written in bulk (Bulk Read blocks converted to Parquet)."""
        report.records += count
        self._progress(name, report, logger)

    def _progress(self, name: str, report: StreamReport, logger: logging.Logger) -> None:
        if self.progress_interval <= 0:  # 0 turns progress lines off
            return
        now = time.monotonic()
        if now - report.last_progress >= self.progress_interval:
            report.last_progress = now
            logger.info(progress_line(name, report))

    def finish(self, name: str, status: str) -> None:
        report = self.stream(name)
        report.finished = time.monotonic()
        report.status = status

    def summary(self, token_requests: int, stopped_reason: str | None) -> dict[str, Any]:
        streams = {n: r.as_dict() for n, r in sorted(self.streams.items()) if r.started}
        return {
            "seconds": round(time.monotonic() - self.started, 2),
            "records": sum(s["records"] for s in streams.values()),
            "api_calls": sum(r.api_calls for r in self.streams.values()),
            "credits": sum(r.credits for r in self.streams.values()),
            "token_requests": token_requests,
            "stopped_early": stopped_reason,
            "streams": streams,
        }

    def log_summary(self, token_requests: int, stopped_reason: str | None) -> None:
        summary = self.summary(token_requests, stopped_reason)
        lines = [
            f"Run report: {summary['records']} records, {summary['api_calls']} API calls, "
            f"{summary['credits']} credits, {token_requests} token requests, "
            f"{summary['seconds']} s" + (f"; stopped early: {stopped_reason}"
                                         if stopped_reason else "")
        ]
        for name, s in summary["streams"].items():
            causes = ", ".join(f"{c} x{n}" for c, n in s["retry_causes"].items()) or "none"
            lines.append(
                f"  {name}: {s['status']}, "
                + ("computed-values refresh (read in full), " if s["computed_refresh"] else "")
                + f"{s['records']} records"
                + (f" of {s['expected']} expected" if s["expected"] is not None else "")
                + f", {s['api_calls']} calls, {s['credits']} credits, "
                f"{s['retries']} retries ({causes}), {s['seconds']} s"
                + (f", {s['replaced_surrogates']} values with a lone surrogate written with "
                   "U+FFFD" if s.get("replaced_surrogates") else "")
                + (f"; {s['reason']}" if s["reason"] else "")
            )
        LOGGER.info("\n".join(lines), extra={REPORT_FIELD: summary})
        if not logs_structured(LOGGER):
            # Text formatters drop `extra` fields: one line a log scraper can parse.
            LOGGER.info(REPORT_PREFIX + json.dumps(summary, separators=(",", ":")))


def logs_structured(logger: logging.Logger) -> bool:
    """Whether every handler the logger's records reach writes them with the SDK's JSON
    formatter (which keeps `extra` fields)."""
    handlers: list[logging.Handler] = []
    current: logging.Logger | None = logger
    while current is not None:
        handlers += current.handlers
        if not current.propagate:
            break
        current = current.parent
    return bool(handlers) and all(isinstance(h.formatter, StructuredFormatter) for h in handlers)


def progress_line(name: str, report: StreamReport) -> str:
    elapsed = max(report.elapsed(), 1e-6)
    rate = report.records / elapsed
    line = f"Progress {name}: {report.records} records"
    if report.expected:
        line += f" of {report.expected} ({100 * report.records / report.expected:.0f}%)"
    line += f", {rate:.0f} records/s"
    if report.expected and rate > 0:
        remaining = max(report.expected - report.records, 0) / rate
        line += f", ETA {remaining:.0f} s"
    return line
