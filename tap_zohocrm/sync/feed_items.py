"""What a module's read puts on its page feed, in order (sync/read_ahead.PageFeed carries each
as a future): the main thread takes them one by one and does what each says."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Records:
    """Records to emit, in the order read.

    Bulk Read export rows come in id order, not Modified_Time order, so they do not move the
    bookmark (`moves_bookmark` false): a STATE written mid-export (after a BATCH file, or when
    the run fails) would otherwise resume REST past rows the export had not reached yet.
    """

    records: list[dict[str, Any]]
    moves_bookmark: bool = True


@dataclass
class DeleteMarkers:
    """The delete markers of one deleted-records listing, and when Zoho answered it (None: no
    listing was due this run)."""

    records: list[dict[str, Any]] = field(default_factory=list)
    listed_at: str | None = None


@dataclass(frozen=True)
class ExportPosition:
    """Every row of a Bulk Read export page is handed on: where the export goes on from."""

    position: dict[str, Any]


@dataclass(frozen=True)
class ExportDone:
    """After the last export rows: the bookmark becomes where REST goes on (`since`), and the
    saved export position is dropped."""

    since: str | None


FeedItem = Records | DeleteMarkers | ExportPosition | ExportDone


def ready(item: FeedItem) -> Future[FeedItem]:
    """An item put on the feed as it is (no completion to wait for)."""
    done: Future[FeedItem] = Future()
    done.set_result(item)
    return done
