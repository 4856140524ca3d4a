"""What each Zoho CRM API version can do, in one table: the tap asks the run's `ApiVersion`, never
a version number. A new version is one row here (docs/api-versions.md quotes this table).

Sources: `../shared/reference/zoho-crm-api.md` (paging, field groups, rich text, recycle bin).
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class ApiVersion:
    """One API version's capabilities."""

    name: str  # as in the URL: "v8"
    # Get Records pages past 2,000 records with `page_token` (v2 and v2.1 stop at `page`).
    page_tokens: bool
    # Get Records works without `fields` (every field); from v3 on, `fields` is required and
    # takes at most 50 a call.
    fields_optional: bool
    # settings/fields?type=all lists fields taken out of every layout too.
    lists_unused_fields: bool
    # GET settings/recycle_bin exists (older versions read it through v8).
    recycle_bin: bool
    # List calls cut rich-text values at 500 characters.
    cuts_rich_text: bool
    # Get Rich Text Fields (actions/fetch_full_data): full rich text of 200 records a call;
    # without it, a cut record is read again by itself.
    rich_text_per_page: bool
    # COQL: rows a query returns at most (its LIMIT), field API names a SELECT takes, values an
    # IN list takes; lookups and owner come with their `name` (before: `id` only).
    coql_rows: int
    coql_columns: int
    coql_in_values: int
    coql_lookup_names: bool


def _row(name: str, since: float) -> ApiVersion:
    return ApiVersion(
        name=name,
        page_tokens=since >= 3,
        fields_optional=since < 3,
        lists_unused_fields=since >= 2.1,
        recycle_bin=since >= 6,
        cuts_rich_text=since >= 7,
        rich_text_per_page=since >= 8,
        coql_rows=2000 if since >= 4 else 200,
        coql_columns=500 if since >= 7 else 50,
        coql_in_values=100 if since >= 7 else 50,
        coql_lookup_names=since >= 7,
    )


VERSIONS: dict[str, ApiVersion] = {
    name: _row(name, float(name.lstrip("v")))
    for name in ("v2", "v2.1", "v3", "v4", "v5", "v6", "v7", "v8")
}
# The recycle bin's version when the run's own has none (its answer does not depend on it).
RECYCLE_BIN_VERSION = "v8"


def api_version(name: str) -> ApiVersion:
    """The row of `name` (one of VERSIONS; the settings allow no other)."""
    try:
        return VERSIONS[name]
    except KeyError:
        raise ValueError(f"api_version must be one of {', '.join(VERSIONS)}; got {name!r}"
                         ) from None


def capability_table() -> str:
    """The table as Markdown (docs/api-versions.md quotes it; a test keeps the two equal)."""
    names = [f.name for f in fields(ApiVersion) if f.name != "name"]
    lines = ["| capability | " + " | ".join(VERSIONS) + " |",
             "|---|" + "---|" * len(VERSIONS)]
    lines += [f"| `{name}` | " + " | ".join(_cell(getattr(row, name))
                                            for row in VERSIONS.values()) + " |"
              for name in names]
    return "\n".join(lines)


def _cell(value: bool | int) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value:,}"
