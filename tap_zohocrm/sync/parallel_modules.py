"""Module streams synced side by side (`parallel_modules`), their records interleaved.

The SDK syncs streams one after another. With `parallel_modules` above 1, the streams that may
(`syncs_side_by_side`: every stream that syncs no child stream: module streams, org metadata,
deleted records) sync side by side, `parallel_modules` at a time; the modules whose attachments
are read (one attachments stream serves every parent) then sync one after another. Every API
call still passes the process-wide `max_concurrency` gate.

Singer allows one stream's records to interleave with another's. STATE stays correct because a
stream writes each record before it moves its bookmark, and every change to the tap's state, and
every STATE message (which copies it), happens under the run's `state_lock`.

A stop (SIGTERM, SIGINT; sync/stop.py) ends the wait for the streams' threads at once: the
tap writes the last STATE and exits without them.

`sync_streams` replaces the SDK's `Tap.sync_all`, step for step; it relies on the SDK private
APIs listed in docs/development.md, and tests/unit/test_sdk_contract.py fails when the pinned
SDK's `sync_all` changes.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from singer_sdk import Stream, Tap

    from tap_zohocrm.sync.run import ZohoRun


@runtime_checkable
class SyncsSideBySide(Protocol):
    """A stream that may sync in a thread of its own."""

    @property
    def syncs_side_by_side(self) -> bool: ...

    @property
    def reads_ahead(self) -> bool: ...


def sync_streams(tap: Tap, run: ZohoRun, workers: int) -> None:
    """The SDK's sync_all, with the streams that may `workers` at a time."""
    tap._reset_state_progress_markers()
    tap._set_compatible_replication_methods()
    if tap.state:
        tap._state_writer.write_state(tap.state)
    streams = [
        s for s in tap.streams.values()
        if (s.selected or s.has_selected_descendents) and not s.parent_stream_type
    ]
    side_by_side = [s for s in streams
                    if isinstance(s, SyncsSideBySide) and s.syncs_side_by_side]
    # The few-call streams (org metadata, deleted records) first: done while the module streams'
    # first pages are read ahead, instead of waiting behind the large modules for a thread.
    side_by_side.sort(key=lambda s: isinstance(s, SyncsSideBySide) and s.reads_ahead)
    run.build_shared_parts()
    with run.state_lock:
        for stream in side_by_side:
            _ = stream.stream_state  # each bookmark entry created here, not by two threads

    def sync(stream: Stream) -> None:
        stream.sync()
        with run.state_lock:
            stream.finalize_state_progress_markers()

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="zoho-module")
    try:
        futures = [pool.submit(sync, s) for s in side_by_side]
        # A stop (SIGTERM) ends this wait at once: the threads' calls in flight are abandoned.
        run.stop.wait_all(futures)
    finally:
        pool.shutdown(wait=not run.stop.requested, cancel_futures=True)
    for future in futures:
        if (failure := future.exception()) is not None:
            raise failure
    for one in streams:
        if one not in side_by_side:
            sync(one)
    for each in tap.streams.values():
        each.log_sync_costs()
