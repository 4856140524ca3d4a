"""Tokens in the layout of Zoho's archived SDKs (`oauthtokens`: useridentifier, accesstoken,
refreshtoken, expirytime in ms), read so that a token such an SDK keeps is used too while users
migrate. Nothing is ever written there."""

from __future__ import annotations

import time
from typing import Any

from tap_zohocrm.auth.tokens import StoredToken, TokenKey, TokenStoreError

LEGACY_TABLE = "oauthtokens"


def find_legacy_table(engine: Any, setting: str | None, store: str) -> Any:
    """The legacy table to read tokens from: `setting` names it; None looks for `oauthtokens`;
    "" reads none. A table named but missing or in another layout is an error."""
    from sqlalchemy import BigInteger, Column, MetaData, String, Table, inspect

    name = setting
    if name == "":
        return None
    explicit = name is not None
    name = name or LEGACY_TABLE
    inspector = inspect(engine)
    if not inspector.has_table(name):
        if explicit:
            msg = f"legacy token table {name!r} does not exist"
            raise TokenStoreError(f"token store {store}: {msg}")
        return None
    columns = {c["name"].lower() for c in inspector.get_columns(name)}
    wanted = {"useridentifier", "accesstoken", "refreshtoken", "expirytime"}
    if not wanted <= columns:
        if explicit:
            msg = (f"table {name!r} is not in the Zoho SDK layout (columns "
                   f"{', '.join(sorted(wanted))})")
            raise TokenStoreError(f"token store {store}: {msg}")
        return None
    return Table(
        name, MetaData(),
        Column("useridentifier", String(100)),
        Column("accesstoken", String(1000)),
        Column("refreshtoken", String(1000)),
        Column("expirytime", BigInteger),
    )


def legacy_token(conn: Any, t: Any, key: TokenKey) -> StoredToken | None:
    """The legacy table's newest token for the refresh token, if any."""
    from sqlalchemy import select

    if t is None:
        return None
    row = conn.execute(
        select(t.c.accesstoken, t.c.expirytime)
        .where(t.c.refreshtoken == key.refresh_token)
        .order_by(t.c.expirytime.desc())
        .limit(1)
    ).first()
    if row is None or not row.accesstoken or not row.expirytime:
        return None
    return StoredToken(row.accesstoken, int(row.expirytime) / 1000.0, None, None,
                       source=t.name)


def prefer(own: StoredToken | None, legacy: StoredToken | None) -> StoredToken | None:
    """Our own row while it has a good while left, else whichever lives longer."""
    if legacy is None or (own is not None and own.expires_at > time.time() + 600):
        return own
    if own is None or legacy.expires_at > own.expires_at:
        return legacy
    return own
