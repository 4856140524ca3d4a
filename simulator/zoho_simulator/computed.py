"""Values Zoho changes without moving a record's Modified_Time.

Formula fields are recomputed on save and by Zoho's scheduled refresh of date formulas, rollup
summaries when child records change; the `name` inside a lookup or owner object is the looked
up record's or user's name as it is now. None of these moves the Modified_Time of the records
that show them (Zoho documents it for formulas; assumed for the rest, the case that would lose
data). `change_computed_values` makes such changes at once, for tests.
"""

from __future__ import annotations

import random
import threading
from typing import Any

from .changes import OrgChanges
from .org_users import OrgUsers
from .records import COMPANY, LAST, ModuleData, Rec
from .values import OrgValues

COMPUTED_TYPES = ("formula", "rollup_summary")
LOOKUP_TYPES = ("lookup", "multi_module_lookup", "consent_lookup")
USER_TYPES = ("ownerlookup", "userlookup")


class OrgComputed:
    """Recomputed formula and rollup values, renamed lookup targets and users: new values from
    `values`, a renamed record edited through `changes`."""

    def __init__(self, seed: int, lock: threading.RLock, modules: dict[str, ModuleData],
                 users: OrgUsers, values: OrgValues, changes: OrgChanges) -> None:
        self.seed = seed
        self.lock = lock
        self.modules = modules
        self.users = users
        self.values = values
        self.changes = changes

    def change_computed_values(self, seed: int = 0, renamed_records: int = 2,
                               renamed_users: int = 1) -> dict[str, Any]:
        """Recompute every formula and rollup summary value, rename `renamed_records` records
        that other records look up (each rename is an edit of that record: its own
        Modified_Time moves) and `renamed_users` users. The records that show these values
        keep their Modified_Time. Returns what changed."""
        with self.lock:
            rng = random.Random(f"{self.seed}:computed:{seed}")
            recomputed = {name: n for name, md in self.modules.items()
                          if (n := self._recompute(rng, md))}
            renamed = [self._rename_target(rng, i) for i in range(renamed_records)]
            users = [self._rename_user(rng, i) for i in range(renamed_users)]
        return {"recomputed": recomputed, "renamed_records": [r for r in renamed if r],
                "renamed_users": users}

    def _recompute(self, rng: random.Random, md: ModuleData) -> int:
        computed = [(f.api_name, f.meta[f.data_type]["return_type"]) for f in md.fields
                    if f.data_type in COMPUTED_TYPES]
        if not computed or not md.spec.stored:
            return 0
        for rid, rec in list(md.recs.items()):
            values = {api: self.values.typed(rng, return_type) for api, return_type in computed}
            md.recs[rid] = self._copy(rec, values)
        md.invalidate()
        return len(md.recs)

    @staticmethod
    def _copy(rec: Rec, values: dict[str, Any]) -> Rec:
        """Copy-on-write, as edits do (readers rendering the old object stay consistent); the
        Modified_Time stays."""
        return Rec(id=rec.id, ct=rec.ct, mt=rec.mt, approved=rec.approved,
                   converted=rec.converted, values={**rec.values, **values})

    def _rename_everywhere(self, types: tuple[str, ...], ref_id: str, name: str) -> None:
        """Give every lookup of `types` that points at `ref_id` the new name."""
        for md in self.modules.values():
            fields = [f.api_name for f in md.fields if f.data_type in types]
            changed = False
            for rid, rec in list(md.recs.items()):
                refs = {api: {**value, "name": name} for api in fields
                        if isinstance(value := rec.values.get(api), dict)
                        and value.get("id") == ref_id}
                if refs:
                    md.recs[rid] = self._copy(rec, refs)
                    changed = True
            if changed:
                md.invalidate()

    def _rename_target(self, rng: random.Random, n: int) -> dict[str, Any] | None:
        """Rename a record that some lookup points at (its own Modified_Time moves)."""
        targets = sorted({(str(f.meta["lookup"]["module"]["api_name"]), value["id"])
                          for md in self.modules.values() for f in md.fields
                          if f.data_type == "lookup" and (f.meta.get("lookup") or {}).get(
                              "module", {}).get("api_name") in self.modules
                          for rec in md.recs.values()
                          if isinstance(value := rec.values.get(f.api_name), dict)
                          and value.get("id")})
        targets = [(m, i) for m, i in targets if int(i) in self.modules[m].recs
                   and self.modules[m].spec.name_field]
        if not targets:
            return None
        module, ref_id = rng.choice(targets)
        spec = self.modules[module].spec
        new = f"{rng.choice(COMPANY)} renamed {n}"
        values = ({"Last_Name": new} if spec.name_field == "Full_Name"
                  else {str(spec.name_field): new})
        name = self.changes.update_record(module, ref_id, values)[str(spec.name_field)]
        self._rename_everywhere(LOOKUP_TYPES, ref_id, name)
        return {"module": module, "id": ref_id, "name": name}

    def _rename_user(self, rng: random.Random, n: int) -> dict[str, Any]:
        """Rename a user who owns records (Get Users shows the new name)."""
        user = rng.choice(self.users.owners)
        last = f"{rng.choice(LAST)}-Renamed{n}"
        name = f"{user['name'].split(' ')[0]} {last}"
        user["name"] = name
        for entry in self.users.directory:
            if entry["id"] == user["id"]:
                entry.update({"full_name": name, "last_name": last})
        self._rename_everywhere(USER_TYPES, user["id"], name)
        return {"id": user["id"], "name": name}
