"""The org's users by id, for owner fields read through COQL.

Get Records gives an owner field as `{id, name, email}` with the user's full name; COQL gives
`{id, name}` with the last name only. The directory (users of every status, read once per run:
a call per 200 users and kind) fills the name and e-mail Get Records would give, so a warehouse
cannot tell which path read a record. A user it does not know leaves the record's owner fields
to be read over REST.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from tap_zohocrm.errors import ZohoAPIError
from tap_zohocrm.pagination import ListPaginator
from tap_zohocrm.responses import is_refusal

if TYPE_CHECKING:
    from tap_zohocrm.reads.calls import Calls

USER_KINDS = ("AllUsers", "DeletedUsers")


class UsersDirectory:
    """Read on first use, by whichever stream asks first."""

    def __init__(self, calls: Calls) -> None:
        self.calls = calls
        self._users: dict[str, dict[str, Any]] | None = None
        self._lock = threading.Lock()

    def owner(self, value: Any) -> dict[str, Any] | None:
        """The owner object Get Records gives for a COQL owner value; None when unknown."""
        if not isinstance(value, dict) or value.get("id") is None:
            return None
        user = self.users().get(str(value["id"]))
        if user is None:
            return None
        return {**value, "id": str(value["id"]), "name": user.get("full_name"),
                "email": user.get("email")}

    def users(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            if self._users is None:
                self._users = self._read()
            return self._users

    def _read(self) -> dict[str, dict[str, Any]]:
        users: dict[str, dict[str, Any]] = {}
        for kind in USER_KINDS:
            paginator = ListPaginator(page_tokens=False)
            while not paginator.finished:
                try:
                    answer = self.calls.call("/users", {"type": kind, "per_page": 200,
                                                        **paginator.params()})
                except ZohoAPIError as exc:
                    if not is_refusal(exc.status, exc.code):
                        raise
                    break  # those users' records get their owner fields over REST
                for user in self.calls.items(answer):
                    users.setdefault(str(user.get("id")), user)
                paginator.advance(answer)
        return users
