"""The simulated org: deterministic record generation, storage, queries, rendering, mutations."""

from __future__ import annotations

import copy
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from .directory import USER_SPECS, build_users, user_id
from .fields import (
    ACTIVITY_FIELDS,
    ORG_PREFIX,
    FieldDef,
    ModuleSpec,
    build_specs,
    make_field,
    meta_id,
)

# Time zone of the authenticating user: every datetime in responses carries its offset.
USER_TZ = ZoneInfo("America/Los_Angeles")
SEED_START = int(datetime(2024, 1, 1, tzinfo=USER_TZ).timestamp())
SEED_END = int(datetime(2025, 10, 31, 23, 59, 59, tzinfo=USER_TZ).timestamp())


def fmt_dt(ts: float) -> str:
    return datetime.fromtimestamp(int(ts), USER_TZ).isoformat()


def fmt_date(ts: float) -> str:
    return datetime.fromtimestamp(int(ts), USER_TZ).date().isoformat()


class Clock:
    """Wall clock with a test-controlled offset (page-token / grant-code / token expiry tests)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset


@dataclass(slots=True)
class Rec:
    id: int
    ct: int
    mt: int
    approved: bool = True
    converted: bool = False
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Deleted:
    """One entry of Get Deleted Records (`/{module}/deleted`)."""
    id: int
    display_name: str | None
    type: str  # "recycle" | "permanent"
    created_by: dict[str, Any] | None
    deleted_by: dict[str, Any] | None
    ts: int  # deleted_time, epoch seconds

    def render(self) -> dict[str, Any]:
        return {"deleted_by": _clone(self.deleted_by), "id": str(self.id),
                "display_name": self.display_name, "type": self.type,
                "created_by": _clone(self.created_by), "deleted_time": fmt_dt(self.ts)}


@dataclass
class ModuleData:
    spec: ModuleSpec
    fields: list[FieldDef]
    recs: dict[int, Rec] = field(default_factory=dict)
    deleted: list[Deleted] = field(default_factory=list)
    _sorted: dict[tuple[str, bool], list[Rec]] = field(default_factory=dict)
    autonumber: int = 0
    ids: list[int] | None = None

    @property
    def name(self) -> str:
        return self.spec.api_name

    def by_api(self, version: float) -> dict[str, FieldDef]:
        return {f.api_name: f for f in self.fields if f.min_version <= version}

    def invalidate(self) -> None:
        self._sorted.clear()
        self.ids = None

    def sorted_recs(self, sort_by: str, desc: bool) -> list[Rec]:
        key = (sort_by, desc)
        cached = self._sorted.get(key)
        if cached is None:
            cached = self._sorted[key] = sort_recs(list(self.recs.values()), sort_by, desc)
        return cached


def sort_recs(recs: list[Rec], sort_by: str, desc: bool) -> list[Rec]:
    """Records in response order (sorted in place)."""
    attr = {"id": None, "Created_Time": "ct", "Modified_Time": "mt"}[sort_by]
    if attr is None:
        recs.sort(key=lambda r: r.id, reverse=desc)
    elif desc:  # ties broken by id ascending in both directions
        recs.sort(key=lambda r: (-getattr(r, attr), r.id))
    else:
        recs.sort(key=lambda r: (getattr(r, attr), r.id))
    return recs


FIRST = ["James", "Mary", "John", "Linda", "Ahmed", "Priya", "Wei", "Laura", "Carlos", "Emma",
         "Liam", "Olivia", "Noah", "Ava", "Lucas", "Mia", "Ethan", "Grace", "Daniel", "Hannah"]
FIRST_U = ["Zoë", "Søren", "José", "Chloé", "Björn", "Ñandú", "Łukasz", "Renée", "花子", "Ångström"]
LAST = ["Smith", "Johnson", "Brown", "Garcia", "Miller", "Davis", "Wilson", "Anderson", "Thomas",
        "Taylor", "Moore", "Martin", "Lee", "Walker", "Hall", "Young", "King", "Wright", "Scott"]
LAST_U = ["Müller", "Ørsted", "Núñez", "Dvořák", "Łęcki", "渡辺", "Öztürk", "François", "Çelik"]
COMPANY = ["Zylker", "Acme Corp", "Globex", "Initech", "Umbrella Ltd", "Stark Industries",
           "Wayne Enterprises", "Hooli", "Vandelay Imports", "Soylent", "Cyberdyne", "Tyrell"]
COMPANY_U = ["Ørsted ApS", "Müller GmbH", "東京支店", "Café Olé S.A.", "Ñandú Ltda", "Škoda Dílna"]
CITY = ["Austin", "Seattle", "Chicago", "Denver", "Boston", "Portland", "Phoenix", "Atlanta"]
CITY_U = ["München", "Zürich", "São Paulo", "Malmö", "東京", "Kraków"]
STATES = ["CA", "NY", "TX", "WA", "IL", "MA", "OR", "CO"]
COUNTRIES = ["United States", "Canada", "Germany", "India", "Japan", "Brazil", "Denmark"]
WORDS = ["alpha", "bravo", "delta", "quarterly", "renewal", "pilot", "expansion", "support",
         "migration", "onboarding", "upsell", "priority", "review", "follow-up", "kickoff"]
WORDS_U = ["überprüfung", "réunion", "visão", "søknad", "会議"]
TAGS = [("VIP", "#F17574"), ("Hot", "#F48435"), ("Partner", "#57B1FD"), ("Événement", "#879BFC")]
RRULES = ["FREQ=DAILY;INTERVAL=1;COUNT=3", "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,WE;COUNT=6",
          "FREQ=MONTHLY;INTERVAL=1;BYMONTHDAY=15;UNTIL=2026-01-15"]
# Owners / creators / modifiers of generated records: the first six users of the org's user
# directory (`directory.USER_SPECS`, served by GET /users), one of them deactivated.
USERS = [(u.name, u.email) for u in USER_SPECS[:6]]
FILE_STEMS = ["proposal", "contract", "invoice-scan", "brochure", "site-photo", "NDA", "quote",
              "Präsentation", "報告書", "meeting-notes"]
FILE_EXTS = ["pdf", "docx", "png", "jpg", "xlsx", "txt"]
# Keys of a Note besides its fields (v8 OAS `Note` schema); Notes carry no approval keys.
NOTE_META: dict[str, Any] = {"$attachments": None, "$editable": True,
                             "$is_shared_to_client": False, "$sharing_permission": "full_access",
                             "$size": None, "$state": "save", "$voice_note": False}
# Attachment keys, in the order of the v8 OAS `Attachment` schema (GET .../Attachments).
ATTACHMENT_KEYS = ("Owner", "Modified_By", "Created_By", "Parent_Id", "id", "Modified_Time",
                   "Created_Time", "File_Name", "Size", "$editable", "$file_id", "$type",
                   "$se_module", "$state", "$link_url")
# Modules whose records get attachments at start (about 10% of records, 1-3 each).
ATTACHMENT_MODULES = ("Leads", "Contacts", "Deals")


class Org:
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

    # ---------------------------------------------------------------- generation
    def _new_id(self, rng: random.Random) -> int:
        self._id_cursor += rng.randint(1, 2500)
        return int(f"{ORG_PREFIX}{self._id_cursor:012d}")

    @staticmethod
    def _times(rng: random.Random, n: int) -> list[tuple[int, int]]:
        """(Created, Modified) seconds: Modified_Time in tie groups of 3-12 that straddle pages."""
        groups: list[int] = []
        total = 0
        while total < n:
            size = rng.randint(3, 12) if rng.random() < 0.6 else 1
            size = min(size, n - total)
            groups.append(size)
            total += size
        # No group may end exactly on a 200-row page boundary: merge it with the next one.
        merged: list[int] = []
        pos = 0
        for size in groups:
            if merged and pos % 200 == 0 and pos > 0 and merged[-1] < 40:
                merged[-1] += size
            else:
                merged.append(size)
            pos += size
        seconds = sorted(rng.sample(range(SEED_START + 86400, SEED_END), len(merged)))
        out: list[tuple[int, int]] = []
        for sec, size in zip(seconds, merged, strict=True):
            for _ in range(size):
                ct = sec if rng.random() < 0.2 else max(
                    SEED_START, sec - int(rng.expovariate(1 / (40 * 86400))))
                out.append((ct, sec))
        rng.shuffle(out)
        return out

    def _generate(self, sizes: dict[str, int]) -> None:
        pending: list[tuple[int, str, int, int]] = []
        for name, n in sizes.items():
            rng = random.Random(f"{self.seed}:times:{name}")
            for ct, mt in self._times(rng, n):
                pending.append((ct, name, mt, len(pending)))
        pending.sort()
        for ct, name, mt, _ in pending:  # ids grow with creation time, org-wide sequence
            rid = self._new_id(self.rng)
            self.modules[name].recs[rid] = Rec(id=rid, ct=ct, mt=mt)
        for name in sizes:
            md = self.modules[name]
            rng = random.Random(f"{self.seed}:flags:{name}")
            for rec in md.recs.values():
                rec.approved = rng.random() >= 0.02 or name == "Notes"  # notes: no approval
                rec.converted = name == "Leads" and rng.random() < 0.10
        # Pass A: name fields first, so lookups anywhere can show the target's name.
        for name in sizes:
            md = self.modules[name]
            rng = random.Random(f"{self.seed}:names:{name}")
            parts = [f for f in md.fields if f.api_name in md.spec.name_parts]
            for rec in md.recs.values():
                for fd in parts:
                    rec.values[fd.api_name] = self._value(rng, md, fd, rec)
        for name in sizes:
            md = self.modules[name]
            rng = random.Random(f"{self.seed}:values:{name}")
            for rec in md.recs.values():
                self._fill(rng, md, rec)

    def _fill(self, rng: random.Random, md: ModuleData, rec: Rec,
              only: Iterable[FieldDef] | None = None) -> None:
        md.autonumber += 1
        skip = {"id", *(n for n in md.spec.name_parts if n in rec.values)}
        values = rec.values
        for fd in only if only is not None else md.fields:
            if fd.api_name not in skip:
                values[fd.api_name] = self._value(rng, md, fd, rec)

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

    def _user(self, rng: random.Random, email: bool = True) -> dict[str, Any]:
        u = rng.choice(self.users)
        return dict(u) if email else {"name": u["name"], "id": u["id"]}

    @staticmethod
    def _text(rng: random.Random, ascii_pool: list[str], uni_pool: list[str]) -> str:
        return rng.choice(uni_pool if rng.random() < 0.05 else ascii_pool)

    def _value(self, rng: random.Random, md: ModuleData, fd: FieldDef, rec: Rec) -> Any:
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
            return self._user(rng)
        if dt == "userlookup":
            return self._user(rng, email=False)
        if dt == "consent_lookup":
            return {"name": v.get(md.spec.name_field or "") or "Consent",
                    "id": str(self._new_id(rng))}
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
                return self._user(rng, email=False)
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
            return self._typed(rng, fd.meta["formula"]["return_type"])
        if dt == "rollup_summary":
            return self._typed(rng, fd.meta["rollup_summary"]["return_type"])
        if dt == "profileimage":
            return rng.randbytes(80).hex()
        if dt == "fileupload":
            return [{"File_Name__s": f"{rng.choice(WORDS)}-{i}.pdf",
                     "Size__s": str(rng.randint(1000, 900000)),
                     "File_Id__s": rng.randbytes(24).hex(), "attachment_Id": str(self._new_id(rng))}
                    for i in range(rng.randint(1, 2))]
        if dt == "imageupload":
            return [{"File_Name__s": f"photo-{i}.png", "Size__s": str(rng.randint(1000, 90000)),
                     "File_Id__s": rng.randbytes(24).hex(), "Description__s": None,
                     "Preview_Id__s": rng.randbytes(24).hex(), "State__s": "ACTIVE",
                     "id": str(self._new_id(rng))} for i in range(rng.randint(1, 2))]
        if dt == "subform":  # rows live in the subform module; single GETs assemble them
            self._subform_rows(rng, md, fd, rec)
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

    def _typed(self, rng: random.Random, return_type: str) -> Any:
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

    def _subform_rows(self, rng: random.Random, md: ModuleData, fd: FieldDef, rec: Rec) -> None:
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
            row = Rec(id=self._new_id(rng), ct=rec.ct, mt=rec.mt)
            row.values = {
                "Product_Name": self._pick(rng, "Products"), "Quantity": qty,
                "List_Price": price, "Discount": discount, "Total_After_Discount": after,
                "Tax": tax, "Net_Total": round(after + tax, 2), "Total": gross,
                "Description": None if rng.random() < 0.6 else self._text(rng, WORDS, WORDS_U),
                "Sequence_Number": i + 1, "Parent_Id": dict(parent),
                "Created_Time": fmt_dt(row.ct), "Modified_Time": fmt_dt(row.mt)}
            sub.recs[row.id] = row
        sub.invalidate()

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

    # ---------------------------------------------------------------- attachments, deletes
    def _seed_attachments(self) -> None:
        for name in ATTACHMENT_MODULES:
            md = self.modules.get(name)
            if md is None:
                continue
            rng = random.Random(f"{self.seed}:attachments:{name}")
            store = self.attachments.setdefault(name, {})
            for rid in sorted(md.recs):
                if rng.random() >= 0.10:
                    continue
                rec = md.recs[rid]
                store[rid] = [self._attachment(rng, md, rec) for _ in range(rng.randint(1, 3))]

    def _attachment(self, rng: random.Random, md: ModuleData, rec: Rec,
                    ts: int | None = None) -> dict[str, Any]:
        ct = ts if ts is not None else rng.randint(rec.ct, max(rec.ct, SEED_END))
        mt = ct if ts is not None or rng.random() < 0.7 else rng.randint(ct, max(ct, SEED_END))
        owner = self._user(rng) if ts is None else self._current()
        stem = rng.choice(FILE_STEMS)
        return {
            "Owner": owner, "Modified_By": dict(owner), "Created_By": dict(owner),
            "Parent_Id": {"name": rec.values.get(md.spec.name_field or ""), "id": str(rec.id)},
            "id": str(self._new_id(rng)), "Modified_Time": fmt_dt(mt), "Created_Time": fmt_dt(ct),
            "File_Name": f"{stem}-{rng.randint(1, 999)}.{rng.choice(FILE_EXTS)}",
            "Size": str(rng.randint(1_024, 8_000_000)), "$editable": True,
            "$file_id": rng.randbytes(40).hex(), "$type": "Attachment", "$se_module": md.name,
            "$state": "save", "$link_url": None}

    def _seed_deleted(self) -> None:
        """A few deleted records (recycle bin and permanent) per module of ordinary records."""
        for spec in self.specs:
            if not deleted_supported(spec):
                continue
            md = self.modules[spec.api_name]
            rng = random.Random(f"{self.seed}:deleted:{spec.api_name}")
            n = rng.randint(3, 6)
            for ts in sorted(rng.sample(range(SEED_START + 86400, SEED_END), n)):
                ghost = Rec(id=self._new_id(rng), ct=max(SEED_START, ts - rng.randint(0, 9**6)),
                            mt=ts)
                for fd in md.fields:
                    if fd.api_name in spec.name_parts:
                        ghost.values[fd.api_name] = self._value(rng, md, fd, ghost)
                kind = "permanent" if rng.random() < 0.4 else "recycle"
                creator = self._user(rng, email=False)
                deleter = None if rng.random() < 0.15 else self._user(rng, email=False)
                md.deleted.append(Deleted(ghost.id, ghost.values.get(spec.name_field or ""),
                                          kind, creator, deleter, ts))

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

    # ---------------------------------------------------------------- mutations
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

    def _stored(self, module: str) -> ModuleData:
        md = self.modules.get(module)
        if md is None or not md.spec.stored:
            raise KeyError(module)
        return md

    def create_record(self, module: str, values: dict[str, Any] | None = None) -> dict[str, Any]:
        with self.lock:
            md = self._stored(module)
            if md.spec.subform_of is not None:  # rows come with their parent record
                raise KeyError(f"{module} is a subform: create a {md.spec.subform_of} record")
            now = self._now()
            rec = Rec(id=self._new_id(self.rng), ct=now, mt=now, approved=True, converted=False)
            rng = random.Random(f"{self.seed}:new:{rec.id}")
            for fd in md.fields:
                if fd.api_name in md.spec.name_parts:
                    rec.values[fd.api_name] = self._value(rng, md, fd, rec)
            self._fill(rng, md, rec)
            self._apply(md, rec, values or {})
            md.recs[rec.id] = rec
            md.invalidate()
            return copy.deepcopy(self.render(module, rec, 8.0, None))

    def update_record(self, module: str, rid: str | int, values: dict[str, Any] | None = None
                      ) -> dict[str, Any]:
        with self.lock:
            md = self._stored(module)
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
                    values[fd.api_name] = self._value(rng, md, fd, rec)
            rec.values["Modified_By"] = self._current()
            self._apply(md, rec, values)
            md.recs[rec.id] = rec
            md.invalidate()
            return copy.deepcopy(self.render(module, rec, 8.0, None))

    def delete_record(self, module: str, rid: str | int, permanent: bool = False) -> None:
        """Delete as the current user: to the recycle bin, or permanently (also a record that
        is already in the recycle bin). Attachments and subform rows go with the record."""
        with self.lock:
            md = self._stored(module)
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
            if md.spec.subform_of is not None:
                return  # a subform row has no recycle bin entry of its own
            creator = rec.values.get("Created_By")
            md.deleted.append(Deleted(
                rec.id, rec.values.get(md.spec.name_field or ""),
                "permanent" if permanent else "recycle",
                {"name": creator.get("name"), "id": creator.get("id")}
                if isinstance(creator, dict) else None,
                self._current(email=False), now))

    def purge_recycle_bin(self, module: str) -> int:
        """Empty a module's recycle bin: its entries become permanent deletes, dated now."""
        with self.lock:
            md = self._stored(module)
            now = self._now()
            n = 0
            for d in md.deleted:
                if d.type == "recycle":
                    d.type, d.ts = "permanent", now
                    n += 1
            return n

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

    def add_attachment(self, module: str, rid: str | int,
                       values: dict[str, Any] | None = None) -> dict[str, Any]:
        """Attach a file to a record now, as the current user."""
        with self.lock:
            md = self._stored(module)
            rec = md.recs[int(rid)]
            rng = random.Random(f"{self.seed}:attach:{rec.id}:{self._id_cursor}")
            att = self._attachment(rng, md, rec, ts=self._now())
            att.update(values or {})
            self.attachments.setdefault(module, {}).setdefault(rec.id, []).append(att)
            return _clone(att)

    def add_field(self, module: str, meta: dict[str, Any]) -> None:
        with self.lock:
            md = self._stored(module)
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
                new.values[api] = self._value(rng, md, fd, new)
                md.recs[rid] = new
            md.invalidate()

    def remove_field(self, module: str, api_name: str) -> None:
        """Delete a field, as an admin would in Setup; its values go with it."""
        with self.lock:
            md = self._stored(module)
            md.fields = [f for f in md.fields if f.api_name != api_name]
            for rec in md.recs.values():
                rec.values.pop(api_name, None)
            md.invalidate()


def deleted_supported(spec: ModuleSpec) -> bool:
    """Modules Get Deleted Records serves (docs' list: standard and custom modules; not Notes,
    linking or subform modules). Activities (v2 only) is handled apart."""
    return spec.record_module and spec.api_name != "Notes"


def _clone(value: Any) -> Any:
    """Deep copy of JSON-like data; far faster than copy.deepcopy on a whole module."""
    if type(value) is dict:
        return {k: _clone(v) for k, v in value.items()}
    if type(value) is list:
        return [_clone(v) for v in value]
    return value


def parse_iso(value: str) -> float:
    """ISO-8601 with an offset (or Z) to epoch seconds; ValueError otherwise."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError("offset required")
    return parsed.timestamp()

