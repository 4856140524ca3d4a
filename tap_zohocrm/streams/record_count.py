"""Zoho's Record Count seen from a module stream: progress lines with a total, the Bulk Read
threshold, and the rows an export should hold. Asked only when needed, once per filter."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from tap_zohocrm.errors import ZohoAPIError
from tap_zohocrm.responses import is_refusal, response_json
from tap_zohocrm.streams.module_rules import filter_params

if TYPE_CHECKING:
    import requests

    from tap_zohocrm.pagination import RecordsPaginator
    from tap_zohocrm.sync.run_report import StreamReport


def _count_of(response: requests.Response) -> int:
    """The count in a Record Count answer (Zoho sends it as a string); none for 204 and 304."""
    if response.status_code in (204, 304):
        return 0
    return int(response_json(response).get("count") or 0)


class RecordCount:
    """Mixin of the module stream: how many records Zoho counts."""

    api_name: str
    config: Mapping[str, Any]
    logger: logging.Logger
    path: str
    _report: StreamReport
    _expected: int | None  # the records this sync reads, once counted
    _counts: dict[str | None, int | None]  # record_count's answers, by `since`

    if TYPE_CHECKING:  # provided by the stream this is mixed into
        def request_json(self, path: str, params: dict[str, Any] | None = None, *,
                         headers: dict[str, str] | None = None) -> requests.Response: ...
        def starting_since(self, *, incremental: bool = False) -> str | None: ...

    @property
    def counts_records(self) -> bool:
        """Whether the sync asks Zoho for the record count (progress lines with an ETA)."""
        return float(self.config["progress_interval_seconds"]) > 0

    def record_count(self, since: str | None) -> int | None:
        """Zoho's Record Count with the sync's filters of the records modified since `since`
        (asked once per `since` in a run); None when Zoho refuses those filters: its files
        document none of them for Record Count."""
        if since in self._counts:
            return self._counts[since]
        headers = {"If-Modified-Since": since} if since else {}
        try:
            response = self.request_json(f"{self.path}/actions/count",
                                         filter_params(self.api_name), headers=headers)
        except ZohoAPIError as exc:
            if not is_refusal(exc.status, exc.code):
                raise
            self.logger.info("%s: Zoho refused the record count with the sync's filters (%s)",
                             self.api_name, exc.code or exc.status)
            count = None
        else:
            count = _count_of(response)
        self._counts[since] = count
        return count

    def expected_records(self) -> int:
        """Records the sync will read: Zoho's count action with the sync's own filter (once).
        Refused, a first sync counts the documented way (every record, near enough for
        progress and the Bulk Read threshold); an incremental one goes without a total."""
        if self._expected is not None:
            return self._expected
        since = self.starting_since()
        count = self.record_count(since)
        if count is None and not since:
            count = _count_of(self.request_json(f"{self.path}/actions/count"))
        self._expected = count or 0
        return self._expected

    @override
    def expected_total(self) -> int | None:
        # Asked once the first page shows there is more to read (`_count_if_more_pages`): a
        # run that reads one page or none (an idle scheduled run) spends no call on it.
        return self._expected

    def _count_if_more_pages(self, paginator: RecordsPaginator) -> None:
        if (self.counts_records and not paginator.finished
                and self._report.expected is None):
            self._report.expected = self.expected_records()

