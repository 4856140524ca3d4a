"""Zoho's Record Count of a module: progress lines with a total, the Bulk Read choice, and the
rows an export should hold. Asked only when needed, once per `since` in a sync."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tap_zohocrm.errors import ZohoAPIError
from tap_zohocrm.responses import EMPTY_STATUSES, is_refusal, response_json

if TYPE_CHECKING:
    import requests

    from tap_zohocrm.reads.calls import Calls


def count_of(response: requests.Response) -> int:
    """The count in a Record Count answer (Zoho sends it as a string); none for 204 and 304."""
    if response.status_code in EMPTY_STATUSES:
        return 0
    return int(response_json(response).get("count") or 0)


class RecordCounts:
    """A module's record counts with the sync's filters."""

    def __init__(self, calls: Calls, *, path: str, filters: Mapping[str, Any]) -> None:
        self.calls = calls
        self.path = f"{path}/actions/count"
        self.filters = dict(filters)
        self._counts: dict[str | None, int | None] = {}
        self._expected: dict[str | None, int] = {}
        self.calls_made = 0  # what the counts cost (the plan's rows show it)

    def count(self, since: str | None) -> int | None:
        """The records modified since `since` with the sync's filters; None when Zoho refuses
        those filters (its files document none of them for Record Count)."""
        if since in self._counts:
            return self._counts[since]
        headers = {"If-Modified-Since": since} if since else {}
        try:
            self.calls_made += 1
            response = self.calls.call(self.path, self.filters, headers=headers)
        except ZohoAPIError as exc:
            if not is_refusal(exc.status, exc.code):
                raise
            self.calls.logger.info("%s: Zoho refused the record count with the sync's filters "
                                   "(%s)", self.calls.module_api_name, exc.code or exc.status)
            count = None
        else:
            count = count_of(response)
        self._counts[since] = count
        return count

    def expected(self, since: str | None) -> int:
        """Records a read from `since` will get. Refused, a first read counts the documented
        way (every record: near enough for progress and the Bulk Read choice); an incremental
        one goes without a total (0)."""
        if since not in self._expected:
            count = self.count(since)
            if count is None and not since:
                self.calls_made += 1
                count = count_of(self.calls.call(self.path))
            self._expected[since] = count or 0
        return self._expected[since]
