"""The simulated org: deterministic record generation, storage, queries, rendering, mutations."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any

from .changes import OrgChanges
from .computed import OrgComputed
from .directory import build_users, user_id
from .fields import (
    ACTIVITY_FIELDS,
    FieldDef,
    build_specs,
    meta_id,
)
from .records import (
    NOTE_META,
    USERS,
    Clock,
    ModuleData,
    Rec,
    _clone,
    fmt_dt,
    parse_iso,
    sort_recs,
)
from .seeding import OrgSeeding
from .values import OrgValues


class Org(OrgChanges, OrgValues, OrgSeeding, OrgComputed):
    """All org data. Every public method takes `self.lock`; readers get immutable snapshots."""

    def __init__(self, seed: int, sizes: dict[str, int] | None, clock: Clock) -> None:
        self.seed = seed
        self.clock = clock
        self.lock = threading.RLock()
        self.rng = random.Random(f"{seed}:org")
        self.users = [{"name": n, "id": user_id(i), "email": e}
                      for i, (n, e) in enumerate(USERS)]
        self.directory = build_users()
        self.current_user = 0  # index in `directory` of the user the API calls act as
        self.specs = build_specs()
        self.modules: dict[str, ModuleData] = {
            s.api_name: ModuleData(spec=s, fields=list(s.fields)) for s in self.specs}
        self.modules["Activities"].fields = list(ACTIVITY_FIELDS)
        # module -> parent record id -> attachments (full objects, ATTACHMENT_KEYS)
        self.attachments: dict[str, dict[int, list[dict[str, Any]]]] = {}
        self._id_cursor = 100000
        sizes = dict(sizes or {})
        self._generate({s.api_name: sizes.get(s.api_name, s.default_size)
                        for s in self.specs if s.stored and s.subform_of is None})
        self._seed_attachments()
        self._seed_deleted()

    def _subform_value(self, fd: FieldDef, rec: Rec, version: float) -> list[dict[str, Any]]:
        """The subform array of a single-record GET: the rows GET /{subform} lists."""
        sub = self.modules.get((fd.meta.get("subform") or {}).get("module", {}).get("api_name"))
        if sub is None:
            return []
        rid = str(rec.id)
        rows = sorted((r for r in sub.recs.values()
                       if (r.values.get("Parent_Id") or {}).get("id") == rid),
                      key=lambda r: (r.values.get("Sequence_Number") or 0, r.id))
        return [self.render(sub.name, r, version, None, single=True) for r in rows]

    def _subforms_of(self, module: str) -> list[ModuleData]:
        return [m for m in self.modules.values() if m.spec.subform_of == module]

    def user_directory(self) -> list[dict[str, Any]]:
        """Every user of the org (deleted ones included) as GET /users shows them."""
        with self.lock:
            return [_clone(u) for u in self.directory]

    def _current(self, email: bool = True) -> dict[str, Any]:
        u = self.directory[self.current_user]
        ref = {"name": u["full_name"], "id": u["id"]}
        if email:
            ref["email"] = u["email"]
        return ref

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

    # ---------------------------------------------------------------- rendering
    def render(self, module: str, rec: Rec, version: float, selected: list[FieldDef] | None,
               *, single: bool = False, cut_rich_text: bool = True) -> dict[str, Any]:
        """One record as Zoho returns it. `selected` None = all fields of that version."""
        md = self.modules[module]
        v = rec.values
        if module == "Activities":
            src = next(m for m in ("Tasks", "Events", "Calls") if rec.id in self.modules[m].recs)
            v = {**v, "Activity_Type": src, "Subject": v.get("Subject") or v.get("Event_Title")}
        fields = selected if selected is not None else [
            f for f in md.fields if f.min_version <= version]
        out: dict[str, Any] = {}
        for fd in fields:
            api = fd.api_name
            if api == "id":
                continue
            if not fd.list_ok and not single:
                continue  # v7+ docs: subform/MSL/MUL values only on single-record GET
            if fd.data_type in ("multiselectlookup", "multiuserlookup"):
                out[api] = self._linked(md, fd, rec)
                continue
            if fd.data_type == "subform":
                out[api] = self._subform_value(fd, rec, version)
                continue
            val = v.get(api)
            if module == "Notes" and api == "Parent_Id" and version < 3 and val:
                # v2/v2.1 samples: Parent_Id is {name, id}; the parent module is in $se_module.
                val = {"name": val.get("name"), "id": val.get("id")}
            if (not single and cut_rich_text and version >= 7 and isinstance(val, str)
                    and (fd.meta.get("textarea") or {}).get("type") == "rich_text"):
                val = val[:500]  # v7+ list calls cut rich text to 500 characters
            out[api] = val
        out["id"] = str(rec.id)
        if "$se_module" in v:
            out["$se_module"] = v["$se_module"]
        if module == "Notes":
            out.update(NOTE_META)
        elif md.spec.subform_of is None:  # subform rows carry no record-level $ keys
            out.update(self._meta_keys(module, rec, version))
        return out

    def _linked(self, md: ModuleData, fd: FieldDef, rec: Rec) -> list[dict[str, Any]]:
        info = fd.meta.get("multiselectlookup") or fd.meta.get("multiuserlookup") or {}
        link = self.modules.get(info.get("linking_module", {}).get("api_name", ""))
        if link is None:
            return []
        own = info.get("api_name", md.name)
        other = next(f.api_name for f in link.fields
                     if f.data_type in ("lookup", "userlookup") and f.api_name != own)
        rid = str(rec.id)
        return [{other: lr.values.get(other), "id": str(lr.id)} for lr in link.recs.values()
                if (lr.values.get(own) or {}).get("id") == rid]

    def _meta_keys(self, module: str, rec: Rec, version: float) -> dict[str, Any]:
        state = "approved" if rec.approved else "approval_process_pending"
        meta: dict[str, Any] = {
            "$currency_symbol": "$", "$field_states": None, "$state": "save",
            "$process_flow": False, "$approved": rec.approved,
            "$approval": {"delegate": False, "approve": False, "reject": False,
                          "resubmit": False},
            "$editable": True, "$review_process": {"approve": False, "reject": False,
                                                   "resubmit": False},
            "$review": None, "$in_merge": False, "$orchestration": False,
            "$stop_processing": False, "$approval_state": state,
        }
        if version >= 8:
            meta["$locked_for_me"] = False
        if module == "Leads" and version < 4:  # v4 removed $converted (now Converted__s)
            meta["$converted"] = rec.converted
            detail: dict[str, Any] = {}
            if rec.converted:
                v = rec.values
                detail = {"deal": (v.get("Converted_Deal") or {}).get("id"),
                          "convert_date": v.get("Converted_Date_Time"),
                          "contact": (v.get("Converted_Contact") or {}).get("id"),
                          "converted_by": self.users[0]["id"],
                          "account": (v.get("Converted_Account") or {}).get("id")}
            meta["$converted_detail"] = detail
        return meta

    def all_records(self, module: str, version: float = 8.0) -> list[dict[str, Any]]:
        """Every record with every list-call field of `version`, rich text uncut."""
        with self.lock:
            md = self.modules[module]
            if module == "Activities":
                recs = [r for _, r in self.activity_recs()]
            else:
                recs = list(md.recs.values())
            out = [self.render(module, r, version, None, cut_rich_text=False)
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
