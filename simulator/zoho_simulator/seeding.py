"""How the org is first filled: ids, times, records, subform rows, attachments, deletions."""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

from .fields import (
    ORG_PREFIX,
    FieldDef,
)
from .records import (
    ATTACHMENT_MODULES,
    FILE_EXTS,
    FILE_STEMS,
    SEED_END,
    SEED_START,
    WORDS,
    WORDS_U,
    Deleted,
    ModuleData,
    Rec,
    deleted_supported,
    fmt_dt,
)


class OrgSeeding:
    """How the org is first filled: ids, times, records, subform rows, attachments, deletions."""

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
