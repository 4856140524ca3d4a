"""Values of generated records, field by field, as Zoho would hold them; the rows of their
subforms and their attachments."""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

from .fields import (
    FieldDef,
    meta_id,
)
from .org_users import OrgUsers
from .records import (
    CITY,
    CITY_U,
    COMPANY,
    COMPANY_U,
    COUNTRIES,
    FILE_EXTS,
    FILE_STEMS,
    FIRST,
    FIRST_U,
    LAST,
    LAST_U,
    RRULES,
    SEED_END,
    SEED_START,
    STATES,
    TAGS,
    WORDS,
    WORDS_U,
    IdSequence,
    ModuleData,
    Rec,
    fmt_date,
    fmt_dt,
)


class OrgValues:
    """Values of generated records, field by field, as Zoho would hold them: a lookup points
    at a record of `modules`, an owner is one of `users`, a new id comes from `ids`."""

    def __init__(self, modules: dict[str, ModuleData], users: OrgUsers, ids: IdSequence
                 ) -> None:
        self.modules = modules
        self.users = users
        self.ids = ids

    def _pick(self, rng: random.Random, module: str) -> dict[str, Any] | None:
        md = self.modules.get(module)
        if md is None or not md.recs:
            return None
        rec = rng.choice(list(md.recs.values())) if len(md.recs) < 64 else \
            md.recs[rng.choice(self._ids_cache(md))]
        return {"name": rec.values.get(md.spec.name_field or "", None), "id": str(rec.id)}

    @staticmethod
    def _ids_cache(md: ModuleData) -> list[int]:
        if md.ids is None or len(md.ids) != len(md.recs):
            md.ids = list(md.recs)
        return md.ids

    @staticmethod
    def _text(rng: random.Random, ascii_pool: list[str], uni_pool: list[str]) -> str:
        return rng.choice(uni_pool if rng.random() < 0.05 else ascii_pool)

    def value(self, rng: random.Random, md: ModuleData, fd: FieldDef, rec: Rec) -> Any:
        dt, hint, api = fd.data_type, fd.hint, fd.api_name
        if hint == "converted":
            return self._converted_value(rng, fd, rec)
        if api in ("Created_Time",):
            return fmt_dt(rec.ct)
        if api == "Modified_Time":
            return fmt_dt(rec.mt)
        if fd.null_rate and rng.random() < fd.null_rate:
            return None
        v = rec.values
        if dt in ("text", "mediumtext") and api != "Tag":
            return self._text_value(rng, hint, v, rec)
        if api == "Tag":
            return [{"name": n, "id": meta_id(f"tag.{n}"), "color_code": c}
                    for n, c in rng.sample(TAGS, rng.choice([0, 0, 0, 1, 2]))]
        if dt == "textarea":
            if hint == "long":  # rich text, sometimes longer than the 500-char list cut
                return "<p>" + " ".join(rng.choice(WORDS) for _ in range(rng.randint(10, 160))) \
                    + "</p>"
            # Multi-line, as users type notes: Bulk Read CSV cells then span lines.
            words = [self._text(rng, WORDS, WORDS_U) for _ in range(rng.randint(3, 14))]
            return "\n".join(" ".join(words[i:i + 6]) for i in range(0, len(words), 6)
                             ).capitalize() + "."
        if dt == "email":
            first = str(v.get("First_Name") or rng.choice(FIRST)).lower()
            return f"{first}.{rng.choice(LAST).lower()}{rng.randint(1, 99)}@example.com"
        if dt == "phone":
            return f"555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}"
        if dt == "website":
            return f"https://www.{rng.choice(COMPANY).split()[0].lower()}.com"
        if dt == "picklist":
            return "Available" if hint == "available" else rng.choice(fd.choices)
        if dt == "multiselectpicklist":
            return rng.sample(fd.choices, rng.randint(0, min(3, len(fd.choices))))
        if dt == "integer":
            return rng.randint(0, 10000)
        if dt == "long":
            return rng.randint(0, 2**40)
        if dt == "bigint":
            # Above 2**53: precision is lost if a client parses it as a float.
            return str(rng.randint(2**53 + 1, 2**62))
        if dt in ("double", "percent"):
            return round(rng.uniform(0, 100), 2)
        if dt == "currency":
            return round(rng.uniform(100, 1_000_000), 2)
        if dt == "boolean":
            return rng.random() < 0.4
        if dt == "date":
            return fmt_date(rng.randint(SEED_START, SEED_END + 180 * 86400))
        if dt in ("datetime", "event_reminder"):
            return fmt_dt(rng.randint(SEED_START, SEED_END))
        if dt == "ownerlookup":
            return self.users.pick(rng)
        if dt == "userlookup":
            return self.users.pick(rng, email=False)
        if dt == "consent_lookup":
            return {"name": v.get(md.spec.name_field or "") or "Consent",
                    "id": str(self.ids.new(rng))}
        if dt == "lookup":
            if hint == "parent":  # Notes.Parent_Id carries its module
                target = rng.choice(["Leads", "Contacts", "Accounts", "Deals"])
                got = self._pick(rng, target)
                if got is None:
                    return None
                v["$se_module"] = target
                return {**got, "module": {"api_name": target, "id": meta_id(f"module.{target}")}}
            target = fd.meta["lookup"].get("module", {}).get("api_name", "")
            if target == "users":
                return self.users.pick(rng, email=False)
            return self._pick(rng, target)
        if dt == "multi_module_lookup":
            target = rng.choice(["Accounts", "Deals", "Quotes"])
            got = self._pick(rng, target)
            if got is not None:
                v["$se_module"] = target
            return got
        if dt == "RRULE":
            return {"RRULE": rng.choice(RRULES)}
        if dt == "ALARM":
            when = fmt_dt(rng.randint(SEED_START, SEED_END))
            return {"ALARM": f"FREQ=NONE;ACTION=EMAILANDPOPUP;TRIGGER=DATE-TIME:{when}"}
        if dt == "autonumber":
            an = fd.meta.get("auto_number") or {}
            return f"{an.get('prefix', '')}{an.get('start_number', 1) + md.autonumber}" \
                   f"{an.get('suffix', '')}"
        if dt == "formula":
            return self.typed(rng, fd.meta["formula"]["return_type"])
        if dt == "rollup_summary":
            return self.typed(rng, fd.meta["rollup_summary"]["return_type"])
        if dt == "profileimage":
            return rng.randbytes(80).hex()
        if dt == "fileupload":
            return [{"File_Name__s": f"{rng.choice(WORDS)}-{i}.pdf",
                     "Size__s": str(rng.randint(1000, 900000)),
                     "File_Id__s": rng.randbytes(24).hex(), "attachment_Id": str(self.ids.new(rng))}
                    for i in range(rng.randint(1, 2))]
        if dt == "imageupload":
            return [{"File_Name__s": f"photo-{i}.png", "Size__s": str(rng.randint(1000, 90000)),
                     "File_Id__s": rng.randbytes(24).hex(), "Description__s": None,
                     "Preview_Id__s": rng.randbytes(24).hex(), "State__s": "ACTIVE",
                     "id": str(self.ids.new(rng))} for i in range(rng.randint(1, 2))]
        if dt == "subform":  # rows live in the subform module; single GETs assemble them
            self.subform_rows(rng, md, fd, rec)
            return None
        if dt in ("multiselectlookup", "multiuserlookup"):
            return None  # derived from the linking module on single-record reads
        if fd.meta.get("json_type") == "jsonobject":  # unknown data types (e.g. zia_magic)
            return {"sentiment": rng.choice(["positive", "neutral", "negative"]),
                    "score": round(rng.random(), 2)}
        return None

    def _text_value(self, rng: random.Random, hint: str, v: dict[str, Any], rec: Rec) -> str:
        if hint == "first_name":
            return self._text(rng, FIRST, FIRST_U)
        if hint == "last_name":
            return self._text(rng, LAST, LAST_U)
        if hint == "full_name":
            return " ".join(str(x) for x in (v.get("First_Name"), v.get("Last_Name")) if x)
        if hint == "company":
            return self._text(rng, COMPANY, COMPANY_U)
        if hint == "city":
            return self._text(rng, CITY, CITY_U)
        if hint == "state":
            return rng.choice(STATES)
        if hint == "country":
            return rng.choice(COUNTRIES)
        if hint == "zip":
            return f"{rng.randint(10000, 99999)}"
        if hint == "street":
            return f"{rng.randint(1, 9999)} {rng.choice(['Main', 'Oak', 'Pine', 'Elm'])} St"
        if hint == "title":
            return rng.choice(["CEO", "VP Sales", "Engineer", "Buyer", "CTO", "Directeur Général"])
        if hint == "handle":
            return f"{rng.choice(FIRST).lower()}_{rng.randint(1, 999)}"
        if hint == "code":
            return f"{rng.choice('ABCDEFGHJKLMNPQRSTUVWXYZ')}{rng.randint(100, 99999)}"
        if hint in ("subject", "deal", "product"):
            return f"{self._text(rng, WORDS, WORDS_U).capitalize()} {rng.choice(COMPANY)} " \
                   f"{rng.randint(1, 999)}"
        if hint == "duration":
            return f"{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
        return self._text(rng, WORDS, WORDS_U)

    def typed(self, rng: random.Random, return_type: str) -> Any:
        if return_type in ("double", "currency"):
            return round(rng.uniform(0, 100000), 2)
        if return_type == "integer":
            return rng.randint(0, 500)
        if return_type == "boolean":
            return rng.random() < 0.5
        if return_type == "date":
            return fmt_date(rng.randint(SEED_START, SEED_END))
        if return_type == "datetime":
            return fmt_dt(rng.randint(SEED_START, SEED_END))
        return f"{rng.choice(WORDS)}-{rng.randint(1, 99)}"

    def _converted_value(self, rng: random.Random, fd: FieldDef, rec: Rec) -> Any:
        api = fd.api_name
        if api == "Converted__s":
            return rec.converted
        if not rec.converted:
            return None
        if api == "Converted_Date_Time":
            return fmt_dt(rec.mt)
        return self._pick(rng, api.removeprefix("Converted_") + "s")

    def fill(self, rng: random.Random, md: ModuleData, rec: Rec,
             only: Iterable[FieldDef] | None = None) -> None:
        """Every field of a record (or those of `only`), name parts already set kept."""
        md.autonumber += 1
        skip = {"id", *(n for n in md.spec.name_parts if n in rec.values)}
        values = rec.values
        for fd in only if only is not None else md.fields:
            if fd.api_name not in skip:
                values[fd.api_name] = self.value(rng, md, fd, rec)

    def subform_rows(self, rng: random.Random, md: ModuleData, fd: FieldDef, rec: Rec) -> None:
        """1-4 rows of `rec`'s subform `fd`, stored as records of the subform module."""
        sub = self.modules.get((fd.meta.get("subform") or {}).get("module", {}).get("api_name"))
        if sub is None:
            return
        parent = {"name": rec.values.get(md.spec.name_field or ""), "id": str(rec.id)}
        for i in range(rng.randint(1, 4)):
            qty = float(rng.randint(1, 20))
            price = round(rng.uniform(5, 2000), 2)
            gross = round(qty * price, 2)
            discount = round(gross * rng.choice([0, 0, 0, 0.05, 0.1]), 2)
            after = round(gross - discount, 2)
            tax = round(after * rng.choice([0, 0, 0.0725]), 2)
            row = Rec(id=self.ids.new(rng), ct=rec.ct, mt=rec.mt)
            row.values = {
                "Product_Name": self._pick(rng, "Products"), "Quantity": qty,
                "List_Price": price, "Discount": discount, "Total_After_Discount": after,
                "Tax": tax, "Net_Total": round(after + tax, 2), "Total": gross,
                "Description": None if rng.random() < 0.6 else self._text(rng, WORDS, WORDS_U),
                "Sequence_Number": i + 1, "Parent_Id": dict(parent),
                "Created_Time": fmt_dt(row.ct), "Modified_Time": fmt_dt(row.mt)}
            sub.recs[row.id] = row
        sub.invalidate()

    def attachment(self, rng: random.Random, md: ModuleData, rec: Rec,
                   ts: int | None = None) -> dict[str, Any]:
        """An attachment of `rec`: generated, or added at `ts` by the API user."""
        ct = ts if ts is not None else rng.randint(rec.ct, max(rec.ct, SEED_END))
        mt = ct if ts is not None or rng.random() < 0.7 else rng.randint(ct, max(ct, SEED_END))
        owner = self.users.pick(rng) if ts is None else self.users.current_ref()
        stem = rng.choice(FILE_STEMS)
        return {
            "Owner": owner, "Modified_By": dict(owner), "Created_By": dict(owner),
            "Parent_Id": {"name": rec.values.get(md.spec.name_field or ""), "id": str(rec.id)},
            "id": str(self.ids.new(rng)), "Modified_Time": fmt_dt(mt), "Created_Time": fmt_dt(ct),
            "File_Name": f"{stem}-{rng.randint(1, 999)}.{rng.choice(FILE_EXTS)}",
            "Size": str(rng.randint(1_024, 8_000_000)), "$editable": True,
            "$file_id": rng.randbytes(40).hex(), "$type": "Attachment", "$se_module": md.name,
            "$state": "save", "$link_url": None}
