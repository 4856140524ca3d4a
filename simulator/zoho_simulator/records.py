"""The org's data: records, deleted records, modules, the generator's word lists, and helpers."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from .directory import USER_SPECS
from .fields import (
    ORG_PREFIX,
    FieldDef,
    ModuleSpec,
)

# Time zone of the authenticating user: every datetime in responses carries its offset.
USER_TZ = ZoneInfo("America/Los_Angeles")


SEED_START = int(datetime(2024, 1, 1, tzinfo=USER_TZ).timestamp())


SEED_END = int(datetime(2025, 10, 31, 23, 59, 59, tzinfo=USER_TZ).timestamp())


def fmt_dt(ts: float) -> str:
    return datetime.fromtimestamp(int(ts), USER_TZ).isoformat()


def fmt_date(ts: float) -> str:
    return datetime.fromtimestamp(int(ts), USER_TZ).date().isoformat()


class IdSequence:
    """Record ids in the org's format, one sequence org-wide: ids grow with creation."""

    def __init__(self, seed: int) -> None:
        self.cursor = 100000
        self.rng = random.Random(f"{seed}:org")  # spaces the ids of records made one by one

    def new(self, rng: random.Random | None = None) -> int:
        self.cursor += (self.rng if rng is None else rng).randint(1, 2500)
        return int(f"{ORG_PREFIX}{self.cursor:012d}")


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
