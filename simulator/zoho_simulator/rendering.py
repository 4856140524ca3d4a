"""One record as Zoho returns it: the fields a call asks for, in its API version."""

from __future__ import annotations

from typing import Any

from .fields import FieldDef
from .org_users import OrgUsers
from .records import NOTE_META, ModuleData, Rec


class RecordRendering:
    """Records of `modules` rendered as Get Records answers them; the users lookups name."""

    def __init__(self, modules: dict[str, ModuleData], users: OrgUsers) -> None:
        self.modules = modules
        self.users = users

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
                          "converted_by": self.users.owners[0]["id"],
                          "account": (v.get("Converted_Account") or {}).get("id")}
            meta["$converted_detail"] = detail
        return meta

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
