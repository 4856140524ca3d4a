"""How the org is first filled: record times and ids, records, attachments, deleted records."""

from __future__ import annotations

import random
from typing import Any

from .fields import ModuleSpec
from .org_users import OrgUsers
from .records import (
    ATTACHMENT_MODULES,
    SEED_END,
    SEED_START,
    Deleted,
    IdSequence,
    ModuleData,
    Rec,
    deleted_supported,
)
from .values import OrgValues


class OrgSeeding:
    """How the org is first filled: record times and ids, records, attachments, deleted records;
    the values come from `values`."""

    def __init__(self, seed: int, specs: list[ModuleSpec], modules: dict[str, ModuleData],
                 attachments: dict[str, dict[int, list[dict[str, Any]]]], ids: IdSequence,
                 values: OrgValues, users: OrgUsers) -> None:
        self.seed = seed
        self.specs = specs
        self.modules = modules
        self.attachments = attachments
        self.ids = ids
        self.values = values
        self.users = users

    def fill(self, sizes: dict[str, int]) -> None:
        """Records (`sizes`: how many per module), then attachments, then deleted records."""
        self._generate(sizes)
        self._seed_attachments()
        self._seed_deleted()

    # ---------------------------------------------------------------- generation

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
            rid = self.ids.new()
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
                    rec.values[fd.api_name] = self.values.value(rng, md, fd, rec)
        for name in sizes:
            md = self.modules[name]
            rng = random.Random(f"{self.seed}:values:{name}")
            for rec in md.recs.values():
                self.values.fill(rng, md, rec)

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
                store[rid] = [self.values.attachment(rng, md, rec)
                              for _ in range(rng.randint(1, 3))]

    def _seed_deleted(self) -> None:
        """A few deleted records (recycle bin and permanent) per module of ordinary records."""
        for spec in self.specs:
            if not deleted_supported(spec):
                continue
            md = self.modules[spec.api_name]
            rng = random.Random(f"{self.seed}:deleted:{spec.api_name}")
            n = rng.randint(3, 6)
            for ts in sorted(rng.sample(range(SEED_START + 86400, SEED_END), n)):
                ghost = Rec(id=self.ids.new(rng), ct=max(SEED_START, ts - rng.randint(0, 9**6)),
                            mt=ts)
                for fd in md.fields:
                    if fd.api_name in spec.name_parts:
                        ghost.values[fd.api_name] = self.values.value(rng, md, fd, ghost)
                kind = "permanent" if rng.random() < 0.4 else "recycle"
                creator = self.users.pick(rng, email=False)
                deleter = None if rng.random() < 0.15 else self.users.pick(rng, email=False)
                md.deleted.append(Deleted(ghost.id, ghost.values.get(spec.name_field or ""),
                                          kind, creator, deleter, ts))
