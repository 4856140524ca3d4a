"""What a run logs at the default level: what it will read, progress, warnings a user can act
on, the run report. The SDK's notes a user cannot act on are logged at DEBUG instead, so a run
at DEBUG (`meltano --log-level debug`, `TAP_ZOHOCRM_LOGLEVEL=DEBUG`) still shows them."""

from __future__ import annotations

import logging

from typing_extensions import override

# The SDK's messages (their format strings) that tell a user nothing to do.
SDK_NOTES = (
    # One line per parent stream of the attachments stream, at every start.
    "Added '%s' as child stream to '%s'",
    # Deleted records are listed newest first: the SDK's note on every module's partition.
    "Stream is assumed to be unsorted, progress is not resumable if interrupted",
    "Skipping parse of env var settings...",
)
# The per-module partitions of deleted_records: "Beginning sync of 'deleted_records'" says it.
PARTITION_START = "Starting incremental sync of '%s' with bookmark value: %s"
PARTITIONED_STREAMS = ("deleted_records",)


class SdkNotesAtDebug(logging.Filter):
    """On the console handlers: an SDK note becomes a DEBUG record, shown only when its logger
    is enabled for DEBUG. (The SDK logs them at INFO or WARNING and offers no setting.)"""

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno <= logging.DEBUG or not _is_sdk_note(record):
            return True
        record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def _is_sdk_note(record: logging.LogRecord) -> bool:
    if record.msg in SDK_NOTES:
        return True
    return (record.msg == PARTITION_START and isinstance(record.args, tuple)
            and bool(record.args) and record.args[0] in PARTITIONED_STREAMS)


def log_sdk_notes_at_debug() -> None:
    """Put the filter on the root logger's handlers (the SDK's console handler, or those of
    the logging config Meltano writes), once."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, SdkNotesAtDebug) for f in handler.filters):
            handler.addFilter(SdkNotesAtDebug())


def metrics_at_debug(metrics_logger: logging.Logger) -> None:
    """The SDK's METRIC lines (request counts, sync timers) only in a run at DEBUG: the SDK
    sets its metrics logger to the plugin's level, and the run report gives the same figures."""
    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        metrics_logger.setLevel(logging.WARNING)
