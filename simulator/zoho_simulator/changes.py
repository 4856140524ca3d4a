"""Changes after the org is filled: records created, updated, deleted; fields added, removed."""

from __future__ import annotations

import copy
import random
import threading
from typing import Any

from .fields import (
    make_field,
)
from .org_users import OrgUsers
from .records import (
    Clock,
    Deleted,
    IdSequence,
    ModuleData,
    Rec,
    _clone,
    fmt_dt,
    parse_iso,
)
from .rendering import RecordRendering
from .values import OrgValues


class OrgChanges:
    """Changes after the org is filled: records created, updated, deleted; fields added, removed.
    Every public method takes `lock`; new values come from `values`, made as the API user."""

    def __init__(self, seed: int, lock: threading.RLock, clock: Clock,
                 modules: dict[str, ModuleData],
                 attachments: dict[str, dict[int, list[dict[str, Any]]]], ids: IdSequence,
                 values: OrgValues, users: OrgUsers, rendering: RecordRendering) -> None:
        self.seed = seed
        self.lock = lock
        self.clock = clock
        self.modules = modules
        self.attachments = attachments
        self.ids = ids
        self.values = values
        self.users = users
        self.rendering = rendering

    def _now(self) -> int:
        return int(self.clock.now())

    def _apply(self, md: ModuleData, rec: Rec, values: dict[str, Any]) -> None:
        for key, val in values.items():
            if key == "$approved":
                rec.approved = bool(val)
            elif key == "Converted__s":
                rec.converted = bool(val)
                rec.values[key] = bool(val)
            elif key in ("Created_Time", "Modified_Time") and isinstance(val, str):
                ts = int(parse_iso(val))
                if key == "Created_Time":
                    rec.ct = ts
                else:
                    rec.mt = ts
            else:
                rec.values[key] = val
        rec.values["Created_Time"] = fmt_dt(rec.ct)
        rec.values["Modified_Time"] = fmt_dt(rec.mt)
        if "Full_Name" in rec.values and ("First_Name" in values or "Last_Name" in values):
            rec.values["Full_Name"] = " ".join(
                str(x) for x in (rec.values.get("First_Name"), rec.values.get("Last_Name")) if x)

    def stored(self, module: str) -> ModuleData:
        """A module with records of its own (KeyError otherwise)."""
        md = self.modules.get(module)
        if md is None or not md.spec.stored:
            raise KeyError(module)
        return md

    def create_record(self, module: str, values: dict[str, Any] | None = None) -> dict[str, Any]:
        with self.lock:
            md = self.stored(module)
            if md.spec.subform_of is not None:  # rows come with their parent record
                raise KeyError(f"{module} is a subform: create a {md.spec.subform_of} record")
            now = self._now()
            rec = Rec(id=self.ids.new(), ct=now, mt=now, approved=True, converted=False)
            rng = random.Random(f"{self.seed}:new:{rec.id}")
            for fd in md.fields:
                if fd.api_name in md.spec.name_parts:
                    rec.values[fd.api_name] = self.values.value(rng, md, fd, rec)
            self.values.fill(rng, md, rec)
            self._apply(md, rec, values or {})
            md.recs[rec.id] = rec
            md.invalidate()
            return copy.deepcopy(self.rendering.render(module, rec, 8.0, None))

    def update_record(self, module: str, rid: str | int, values: dict[str, Any] | None = None
                      ) -> dict[str, Any]:
        with self.lock:
            md = self.stored(module)
            old = md.recs[int(rid)]
            # Copy-on-write: readers rendering the old object keep a consistent view.
            rec = Rec(id=old.id, ct=old.ct, mt=self._now(), approved=old.approved,
                      converted=old.converted, values=dict(old.values))
            if not values:
                rng = random.Random(f"{self.seed}:upd:{rec.id}:{rec.mt}")
                editable = [f for f in md.fields if not f.meta["field_read_only"]
                            and f.data_type in ("text", "integer", "double", "picklist")
                            and f.api_name not in md.spec.name_parts]
                values = {}
                for fd in rng.sample(editable, min(2, len(editable))):
                    values[fd.api_name] = self.values.value(rng, md, fd, rec)
            rec.values["Modified_By"] = self.users.current_ref()
            self._apply(md, rec, values)
            md.recs[rec.id] = rec
            md.invalidate()
            return copy.deepcopy(self.rendering.render(module, rec, 8.0, None))

    def delete_record(self, module: str, rid: str | int, permanent: bool = False,
                      unlisted: bool = False) -> None:
        """Delete as the current user: to the recycle bin, or permanently (also a record that
        is already in the recycle bin). Attachments and subform rows go with the record.
        `unlisted`: gone without a trace in `/deleted` or the recycle bin, as a deletion older
        than Zoho keeps, or one Zoho never lists (Notes).

        A subform row (a line item) or a link (a record of a linking module) is removed as
        Zoho removes it, by editing its parent record: the row is gone, the parent's
        Modified_Time moves, and nothing goes to the recycle bin or `/deleted`."""
        with self.lock:
            md = self.stored(module)
            if md.spec.subform_of is not None or md.spec.linking:
                rec = md.recs.pop(int(rid))
                md.invalidate()
                for parent, parent_id in self._parents_of(md, rec):
                    if parent_id in parent.recs:
                        self._touch(parent, parent_id)
                return
            rid = int(rid)
            now = self._now()
            if rid not in md.recs:
                entry = next((d for d in md.deleted if d.id == rid), None)
                if permanent and entry is not None and entry.type == "recycle":
                    entry.type, entry.ts = "permanent", now
                    return
                raise KeyError(rid)
            rec = md.recs.pop(rid)
            md.invalidate()
            self.attachments.get(module, {}).pop(rid, None)
            for sub in self._subforms_of(module):
                for row_id in [i for i, r in sub.recs.items()
                               if (r.values.get("Parent_Id") or {}).get("id") == str(rid)]:
                    del sub.recs[row_id]
                sub.invalidate()
            if unlisted:
                return
            creator = rec.values.get("Created_By")
            md.deleted.append(Deleted(
                rec.id, rec.values.get(md.spec.name_field or ""),
                "permanent" if permanent else "recycle",
                {"name": creator.get("name"), "id": creator.get("id")}
                if isinstance(creator, dict) else None,
                self.users.current_ref(email=False), now))

    def _subforms_of(self, module: str) -> list[ModuleData]:
        return [m for m in self.modules.values() if m.spec.subform_of == module]

    def _parents_of(self, md: ModuleData, row: Rec) -> list[tuple[ModuleData, int]]:
        """The records a subform row or a link belongs to: the subform's parent record, or the
        record whose multi-select lookup field lists the link."""
        if md.spec.subform_of is not None:
            parent = (row.values.get("Parent_Id") or {}).get("id")
            return [(self.modules[md.spec.subform_of], int(parent))] if parent else []
        out = []
        for holder in self.modules.values():
            for fd in holder.fields:
                info = fd.meta.get("multiselectlookup") or fd.meta.get("multiuserlookup") or {}
                if (info.get("linking_module") or {}).get("api_name") == md.name:
                    parent = (row.values.get(info.get("api_name", holder.name)) or {}).get("id")
                    if parent:
                        out.append((holder, int(parent)))
        return out

    def _touch(self, md: ModuleData, rid: int) -> None:
        """An edit of a record that changes none of its own fields (copy-on-write)."""
        old = md.recs[rid]
        rec = Rec(id=old.id, ct=old.ct, mt=self._now(), approved=old.approved,
                  converted=old.converted, values=dict(old.values))
        rec.values["Modified_By"] = self.users.current_ref()
        self._apply(md, rec, {})
        md.recs[rid] = rec
        md.invalidate()

    def purge_recycle_bin(self, module: str) -> int:
        """Empty a module's recycle bin: its entries become permanent deletes, dated now."""
        with self.lock:
            md = self.stored(module)
            now = self._now()
            n = 0
            for d in md.deleted:
                if d.type == "recycle":
                    d.type, d.ts = "permanent", now
                    n += 1
            return n

    def add_attachment(self, module: str, rid: str | int,
                       values: dict[str, Any] | None = None) -> dict[str, Any]:
        """Attach a file to a record now, as the current user."""
        with self.lock:
            md = self.stored(module)
            rec = md.recs[int(rid)]
            rng = random.Random(f"{self.seed}:attach:{rec.id}:{self.ids.cursor}")
            att = self.values.attachment(rng, md, rec, ts=self._now())
            att.update(values or {})
            self.attachments.setdefault(module, {}).setdefault(rec.id, []).append(att)
            return _clone(att)

    def add_field(self, module: str, meta: dict[str, Any]) -> None:
        with self.lock:
            md = self.stored(module)
            api = meta["api_name"]
            dt = meta.get("data_type", "text")
            extra = {k: v for k, v in meta.items() if k not in (
                "api_name", "data_type", "json_type", "field_label")}
            lookup = (meta.get("lookup") or {}).get("module", {}).get("api_name")
            extra.pop("lookup", None)
            picklist = [p.get("actual_value") for p in meta.get("pick_list_values") or []
                        if p.get("actual_value") not in (None, "-None-")] or None
            extra.pop("pick_list_values", None)
            fd = make_field(module, api, dt, label=meta.get("field_label"),
                            json_type=meta.get("json_type"), custom=meta.get("custom_field", True),
                            lookup=lookup, picklist=picklist, hint="word", **extra)
            md.fields = [f for f in md.fields if f.api_name != api] + [fd]
            rng = random.Random(f"{self.seed}:field:{module}:{api}")
            for rid, rec in list(md.recs.items()):
                new = Rec(id=rec.id, ct=rec.ct, mt=rec.mt, approved=rec.approved,
                          converted=rec.converted, values=dict(rec.values))
                new.values[api] = self.values.value(rng, md, fd, new)
                md.recs[rid] = new
            md.invalidate()

    def remove_field(self, module: str, api_name: str) -> None:
        """Delete a field, as an admin would in Setup; its values go with it."""
        with self.lock:
            md = self.stored(module)
            md.fields = [f for f in md.fields if f.api_name != api_name]
            for rec in md.recs.values():
                rec.values.pop(api_name, None)
            md.invalidate()
