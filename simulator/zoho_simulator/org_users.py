"""The org's users as records see them: the owners of generated records, the directory GET
/users lists, and the user the API calls act as."""

from __future__ import annotations

import random
from typing import Any

from .directory import build_users, user_id
from .records import USERS


class OrgUsers:
    def __init__(self) -> None:
        # Owners, creators and modifiers of generated records ({name, id, email}).
        self.owners = [{"name": n, "id": user_id(i), "email": e}
                       for i, (n, e) in enumerate(USERS)]
        self.directory = build_users()
        self.current = 0  # index in `directory` of the user the API calls act as

    def pick(self, rng: random.Random, email: bool = True) -> dict[str, Any]:
        """A random owner, as a lookup of a generated record shows them."""
        u = rng.choice(self.owners)
        return dict(u) if email else {"name": u["name"], "id": u["id"]}

    def current_ref(self, email: bool = True) -> dict[str, Any]:
        """The API user, as the records they create, edit or delete show them."""
        u = self.directory[self.current]
        ref = {"name": u["full_name"], "id": u["id"]}
        if email:
            ref["email"] = u["email"]
        return ref
