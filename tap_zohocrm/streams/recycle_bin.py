"""Zoho's recycle bin, read once per run to tell which modules' deleted records to list.

Listing a module's deleted records (`/{module}/deleted`) costs a call per module every run, and
on an hourly schedule the answer is nearly always that nothing was deleted. The recycle bin
(`settings/recycle_bin`, API v6 on) lists the records deleted in every module, newest first:
one call tells which modules had a record deleted since their last listing, and only those are
listed again.

The recycle bin does not show every deletion: not those of modules whose records skip it
(`recycle_bin_on_delete` false in settings/modules), not a record deleted for good before the
next run (purged from the recycle bin, or deleted permanently), and, for a user who is not an
administrator, perhaps not the records other users deleted. So it is used only with an
administrator's token and for modules whose deletions go through it; and a module is listed
whatever the recycle bin shows once its last listing is older than
`deleted_full_listing_hours`: what the recycle bin could not show arrives then. The time of a
module's last listing (Zoho's clock: the Date of its answer) is kept in its state
(DELETIONS_LISTED_AT), and a skipped listing leaves it as it was, so the next listing starts
where the last one did.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from tap_zohocrm.api_versions import RECYCLE_BIN_VERSION
from tap_zohocrm.errors import ZohoAPIError
from tap_zohocrm.responses import EMPTY_STATUSES, is_refusal, response_json
from tap_zohocrm.schema.values import instant

if TYPE_CHECKING:
    from tap_zohocrm.sync.run import ZohoRun
    from tap_zohocrm.zoho_api import ZohoApi

PER_PAGE = 200  # Zoho's maximum for the recycle bin
# A listing goes on from this much before the last one was answered: deletions saved around
# that instant.
CLOCK_MARGIN = timedelta(minutes=5)
# Zoho's clock (a listing's time) ahead of the tap's by more than this: not a time to trust.
FUTURE_SKEW = timedelta(hours=1)
SCOPE = "ZohoCRM.settings.recycle_bin.READ"
# The deleted records of Activities are those of its tasks, events and calls.
_MODULES_OF = {"Activities": frozenset({"Activities", "Tasks", "Events", "Calls"})}


class RecycleBin:
    """The org's recycle bin, read newest first as far back as the modules ask (one page of
    200 entries at a time); shared by every stream of the run, read through the API door of
    the first that asks."""

    def __init__(self, api: ZohoApi[ZohoRun]) -> None:
        self.api = api
        run = api.run
        version = run.api_version if run.version.recycle_bin else RECYCLE_BIN_VERSION
        self.url = f"{run.api_domain}/crm/{version}/settings/recycle_bin"
        self._lock = threading.Lock()
        self._entries: list[tuple[str, datetime]] = []  # (module api_name, deleted_time)
        self._oldest: datetime | None = None
        self._newest_first = True
        self._pages = 0
        self._ended = False
        self.unusable: str | None = None  # why it cannot tell, this run

    def deleted_since(self, module: str, since: datetime) -> bool | None:
        """Whether it lists a record of `module` deleted at or after `since`; None when it
        cannot tell (refused, or an answer it does not understand)."""
        with self._lock:
            while self.unusable is None and not self._ended and (
                    not self._newest_first or self._oldest is None or self._oldest >= since):
                self._read_page()
            if self.unusable is not None:
                return None
            modules = _MODULES_OF.get(module, frozenset({module}))
            return any(name in modules and deleted >= since for name, deleted in self._entries)

    def _read_page(self) -> None:
        page = self._pages + 1
        params = {"sort_by": "deleted_time", "sort_order": "desc", "page": page,
                  "per_page": PER_PAGE}
        try:
            response = self.api.call("", params, url=self.url)
        except ZohoAPIError as exc:
            self._give_up(exc, refused=is_refusal(exc.status, exc.code))
            return
        self._pages = page
        if response.status_code in EMPTY_STATUSES:
            self._ended = True
            return
        body = response_json(response)
        entries = body.get("recycle_bin") if isinstance(body, dict) else None
        if not isinstance(entries, list):
            self._give_up("no recycle_bin list in its answer")
            return
        for entry in entries:
            module = ((entry or {}).get("module") or {}).get("api_name")
            deleted = instant((entry or {}).get("deleted_time"))
            if not isinstance(module, str) or deleted is None:
                self._give_up(f"an entry without module or deleted_time: {entry!r:.200}")
                return
            if self._oldest is not None and deleted > self._oldest:
                self._newest_first = False  # then it is read to its end
            self._oldest = deleted if self._oldest is None else min(self._oldest, deleted)
            self._entries.append((module, deleted))
        info = body.get("info")
        if not entries or not (isinstance(info, dict) and info.get("more_records")):
            self._ended = True
        if page == 1:
            self.api.logger.info(
                "Deleted records are listed only for modules with a deletion in Zoho's recycle "
                "bin since their last listing, and for every module once that listing is %s "
                "hours old (deleted_full_listing_hours)",
                self.api.run.config["deleted_full_listing_hours"])

    def _give_up(self, why: Any, *, refused: bool = False) -> None:
        self.unusable = str(why)
        if refused:
            self.api.logger.info(
                "Zoho refused its recycle bin (%s): deleted records are listed for every "
                "module each run. Grant the scope %s (ZohoCRM.settings.ALL has it) to list "
                "only the modules with new deletions.", why, SCOPE)
        else:
            self.api.logger.warning(
                "Zoho's recycle bin could not be read (%s): deleted records are listed for "
                "every module this run", why)


def recycle_bin(api: ZohoApi[ZohoRun]) -> RecycleBin:
    """The run's recycle bin, built by the first stream that asks (read through its `api`)."""
    return api.run.shared("recycle_bin", lambda: RecycleBin(api))


def goes_through_recycle_bin(run: ZohoRun, module: str) -> bool:
    """Whether settings/modules, as read this run, says the module's deletions go to the
    recycle bin (all of them, for Activities)."""
    listed = {m.get("api_name"): m for m in run.settings_lists.get("/settings/modules") or []
              if isinstance(m, dict)}
    names = _MODULES_OF[module] - {module} if module in _MODULES_OF else {module}
    return all((listed.get(name) or {}).get("recycle_bin_on_delete") is True for name in names)


def listed_since(listed_at: str | None) -> str | None:
    """Where a listing goes on from after the last one, which began at `listed_at`."""
    last = instant(listed_at)
    return (last - CLOCK_MARGIN).isoformat() if last else None


def due_whatever_it_shows(config: Any, listed_at: str | None) -> bool:
    """Whether a module's deleted records are listed whatever the recycle bin shows: never
    listed yet, its last listing deleted_full_listing_hours old, that setting 0, or a last
    listing later than any clock skew explains (a state edited by hand: no time to go on from)."""
    hours = float(config["deleted_full_listing_hours"])
    last = instant(listed_at)
    if last is None or hours <= 0:
        return True
    age = datetime.now(UTC) - last
    return age >= timedelta(hours=hours) or age < -FUTURE_SKEW


def listing_due(api: ZohoApi[ZohoRun], module: str, since: str | None,
                listed_at: str | None) -> bool:
    """Whether the deleted records of `module` are listed this run: from `since`, when its
    last listing was at `listed_at` (see the module's docstring)."""
    run = api.run
    start, last = instant(since), instant(listed_at)
    if start is None or last is None or due_whatever_it_shows(run.config, listed_at):
        return True
    if run.token_user_is_admin is not True or not goes_through_recycle_bin(run, module):
        return True
    # What was deleted before the last listing was listed then.
    found = recycle_bin(api).deleted_since(module, max(start, last - CLOCK_MARGIN))
    if found is False:
        api.logger.debug("%s: no deletion in Zoho's recycle bin since %s: deleted records "
                            "not listed this run", module, since)
    return found is not False
