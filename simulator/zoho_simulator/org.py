"""The simulated org: its data, the objects that fill, change and render it, and its queries."""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from typing import Any

from .changes import OrgChanges
from .computed import OrgComputed
from .fields import ACTIVITY_FIELDS, build_specs, meta_id
from .org_users import OrgUsers
from .records import (
    Clock,
    IdSequence,
    ModuleData,
    Rec,
    _clone,
    fmt_dt,
    parse_iso,
    sort_recs,
)
from .rendering import RecordRendering
from .seeding import OrgSeeding
from .values import OrgValues


class Org:
    """All org data, one lock for all of it. Readers get immutable snapshots; `changes` and
    `computed` change it, `rendering` shows a record as Zoho does."""

    def __init__(self, seed: int, sizes: dict[str, int] | None, clock: Clock) -> None:
        self.lock = threading.RLock()
        self.users = OrgUsers()
        self.specs = build_specs()
        self.modules: dict[str, ModuleData] = {
            s.api_name: ModuleData(spec=s, fields=list(s.fields)) for s in self.specs}
        self.modules["Activities"].fields = list(ACTIVITY_FIELDS)
        # module -> parent record id -> attachments (full objects, ATTACHMENT_KEYS)
        self.attachments: dict[str, dict[int, list[dict[str, Any]]]] = {}
        ids = IdSequence(seed)
        values = OrgValues(self.modules, self.users, ids)
        self.rendering = RecordRendering(self.modules, self.users)
        self.changes = OrgChanges(seed, self.lock, clock, self.modules, self.attachments, ids,
                                  values, self.users, self.rendering)
        self.computed = OrgComputed(seed, self.lock, self.modules, self.users, values,
                                    self.changes)
        sizes = dict(sizes or {})
        OrgSeeding(seed, self.specs, self.modules, self.attachments, ids, values,
                   self.users).fill({s.api_name: sizes.get(s.api_name, s.default_size)
                                     for s in self.specs if s.stored and s.subform_of is None})

    @property
    def current_user(self) -> int:
        """Index in the user directory of the user the API calls act as."""
        return self.users.current

    @current_user.setter
    def current_user(self, index: int) -> None:
        self.users.current = index

    def user_directory(self) -> list[dict[str, Any]]:
        """Every user of the org (deleted ones included) as GET /users shows them."""
        with self.lock:
            return [_clone(u) for u in self.users.directory]

    # ---------------------------------------------------------------- queries
    def module(self, name: str) -> ModuleData | None:
        return self.modules.get(name)

    def activity_recs(self) -> list[tuple[str, Rec]]:
        return [(m, r) for m in ("Tasks", "Events", "Calls") for r in self.modules[m].recs.values()]

    def query(self, module: str, *, sort_by: str = "id", desc: bool = True,
              converted: str | None = "false", approved: str | None = "true",
              since: float | None = None, ids: set[int] | None = None) -> list[Rec]:
        """Matching records in response order. Caller holds no lock; snapshot returned."""
        with self.lock:
            md = self.modules[module]
            if module == "Activities":
                recs = [r for _, r in self.activity_recs()]
                attr = {"id": "id", "Created_Time": "ct", "Modified_Time": "mt"}[sort_by]
                recs.sort(key=lambda r: (-getattr(r, attr) if desc else getattr(r, attr), r.id))
            elif ids is not None:
                # At most 100 ids: look them up instead of scanning the whole module (a sync
                # asks this for every page's other field groups).
                recs = sort_recs([md.recs[i] for i in ids if i in md.recs], sort_by, desc)
            else:
                recs = md.sorted_recs(sort_by, desc)
                if since is not None and sort_by == "Modified_Time":
                    # Those modified since: one end of the Modified_Time order, found by
                    # bisection (a million-record module is not scanned for every page).
                    if desc:
                        recs = recs[:bisect_right(recs, -since, key=lambda r: -r.mt)]
                    else:
                        recs = recs[bisect_left(recs, since, key=lambda r: r.mt):]
                    since = None
        conv: Callable[[Rec], bool] | None = None
        if module == "Leads" and converted in ("true", "false"):
            want_c = converted == "true"
            conv = lambda r: r.converted == want_c  # noqa: E731
        want_a = None if approved in (None, "both") else approved == "true"
        if conv is None and want_a is None and since is None and ids is None:
            return recs
        return [r for r in recs
                if (conv is None or conv(r))
                and (want_a is None or r.approved == want_a)
                and (since is None or r.mt >= since)
                and (ids is None or r.id in ids)]

    def all_records(self, module: str, version: float = 8.0) -> list[dict[str, Any]]:
        """Every record with every list-call field of `version`, rich text uncut."""
        with self.lock:
            md = self.modules[module]
            if module == "Activities":
                recs = [r for _, r in self.activity_recs()]
            else:
                recs = list(md.recs.values())
            out = [self.rendering.render(module, r, version, None, cut_rich_text=False)
                   for r in sorted(recs, key=lambda r: r.id)]
        return [{k: v if type(v) not in (dict, list) else _clone(v) for k, v in r.items()}
                for r in out]

    def deleted_rows(self, module: str, kind: str = "all", since: float | None = None,
                     desc: bool = True) -> list[dict[str, Any]]:
        """Get Deleted Records entries, newest first unless `desc` is False (ties: id asc)."""
        with self.lock:
            if module == "Activities":
                entries = [d for m in ("Tasks", "Events", "Calls")
                           for d in self.modules[m].deleted]
            else:
                entries = list(self.modules[module].deleted)
            rows = [d for d in entries if kind in ("all", d.type)
                    and (since is None or d.ts >= since)]
            rows.sort(key=lambda d: (-d.ts if desc else d.ts, d.id))
            return [d.render() for d in rows]

    def recycle_bin_rows(self, deleted_by: str | None = None) -> list[dict[str, Any]]:
        """The recycle bin (GET settings/recycle_bin): the `recycle` entries of every module,
        newest first (ties: id asc); only those `deleted_by` a user id, when given."""
        with self.lock:
            entries = [(md, d) for md in self.modules.values() for d in md.deleted
                       if d.type == "recycle" and (deleted_by is None or (
                           d.deleted_by or {}).get("id") == deleted_by)]
            entries.sort(key=lambda e: (-e[1].ts, e[1].id))
            return [{"display_name": d.display_name, "deleted_time": fmt_dt(d.ts),
                     "owner": _clone(d.created_by), "module": {
                         "api_name": md.name, "id": meta_id(f"module.{md.name}")},
                     "deleted_by": _clone(d.deleted_by), "id": str(d.id)}
                    for md, d in entries]

    def record_attachments(self, module: str, rid: int) -> list[dict[str, Any]] | None:
        """A record's attachments, newest first (ties: id asc); None if there is no record."""
        with self.lock:
            md = self.modules[module]
            if rid not in md.recs:
                return None
            items = [_clone(a) for a in self.attachments.get(module, {}).get(rid, [])]
        items.sort(key=lambda a: (-parse_iso(a["Created_Time"]), int(a["id"])))
        return items

    def all_attachments(self, module: str) -> list[dict[str, Any]]:
        with self.lock:
            items = [_clone(a) for lst in self.attachments.get(module, {}).values() for a in lst]
        return sorted(items, key=lambda a: int(a["id"]))
