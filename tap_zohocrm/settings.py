"""The tap's settings: the one place that declares them, their defaults, labels and checks.

`meltano.yml`, the Meltano Hub definition and the README's settings table are generated from
this schema (`python scripts/sync_settings.py`), and a test fails when they drift apart.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from singer_sdk import typing as th

from tap_zohocrm import data_centers
from tap_zohocrm.api_versions import VERSIONS
from tap_zohocrm.auth import token_store
from tap_zohocrm.schema.property_kinds import json_types
from tap_zohocrm.schema.values import instant

API_VERSIONS = tuple(VERSIONS)
SECRET_SETTINGS = ("client_secret", "refresh_token", "token_store")

# Labels of the values of `options` settings, for Meltano's UI and `meltano config`.
OPTION_LABELS: dict[str, dict[str, str]] = {
    "data_center": data_centers.DATA_CENTER_NAMES,
    "environment": {"production": "Production", "sandbox": "Sandbox",
                    "developer": "Developer"},
    "api_version": {version: version for version in API_VERSIONS},
}

CONFIG_SCHEMA: dict[str, Any] = th.PropertiesList(
    th.Property(
        "client_id", th.StringType, required=True, title="Client ID",
        description="OAuth client id of a Self Client in the Zoho API console "
        "(api-console.zoho.com).",
    ),
    th.Property(
        "client_secret", th.StringType, required=True, secret=True, title="Client secret",
        description="OAuth client secret of the same Self Client.",
    ),
    th.Property(
        "refresh_token", th.StringType, required=True, secret=True, title="Refresh token",
        description="Refresh token from a Self Client grant code (`tap-zohocrm auth` "
        "exchanges the code for you). Use an administrator's: Zoho shows a token only the "
        "records its user may see.",
    ),
    th.Property(
        "data_center", th.StringType, default="us", allowed_values=list(data_centers.DATA_CENTERS),
        title="Data center",
        description="Zoho data center of the org (the domain you log in at: zoho.com is us, "
        "zoho.eu is eu, ...): picks the accounts server and the API domain.",
    ),
    th.Property(
        "environment", th.StringType, default="production",
        allowed_values=list(data_centers.ENVIRONMENTS), title="Environment",
        description="Zoho environment of the org: production, sandbox or developer.",
    ),
    th.Property(
        "accounts_url", th.StringType, title="Accounts URL",
        description="Override of the accounts server (https://; plain http only for "
        "127.0.0.1/localhost, e.g. the simulator). Default: from the data center.",
    ),
    th.Property(
        "api_url", th.StringType, title="API URL",
        description="Override of the API domain (https://; plain http only for "
        "127.0.0.1/localhost). Default: the token's api_domain.",
    ),
    th.Property(
        "api_version", th.StringType, default="v8", allowed_values=list(API_VERSIONS),
        title="API version", description="Zoho CRM API version: v8 (default) down to v2.",
    ),
    th.Property(
        "start_date", th.DateTimeType, title="Start date",
        description="Read records modified at or after this time when a stream has no "
        "bookmark yet. Default: every record.",
    ),
    th.Property(
        "modules", th.ArrayType(th.StringType), title="Modules",
        description="Module API names to discover, e.g. [\"Leads\", \"Deals\"], with their "
        "subform and linking modules. Default: every module the user can read. Fewer modules "
        "make discovery cheaper than deselecting streams with `select`.",
    ),
    th.Property(
        "exclude_modules", th.ArrayType(th.StringType), title="Excluded modules",
        description="Module API names not to discover, with their subform and linking "
        "modules (the Airflow DAG's `rest` task reads what its module groups do not name).",
    ),
    th.Property(
        "per_page", th.IntegerType, default=200, title="Records per page",
        description="Records per Get Records call, 1 to 200.",
    ),
    th.Property(
        "full_rich_text", th.BooleanType, default=True, title="Full rich text",
        description="Re-read rich text that v7+ list calls cut at 500 characters (v8: one "
        "Get Rich Text Fields call per page that has such records; v7: one call per record).",
    ),
    th.Property(
        "emit_deletes", th.BooleanType, default=False, title="Emit deletes",
        description="Also emit, on each module stream, a record with _sdc_deleted_at for "
        "every id deleted in Zoho since the last run.",
    ),
    th.Property(
        "deleted_full_listing_hours", th.NumberType, default=24,
        title="Deleted records full listing",
        description="Deleted records (the `deleted_records` stream, `emit_deletes`) are listed "
        "only for modules with a deletion in Zoho's recycle bin since their last listing, and "
        "for every module once its last listing is this many hours old: records deleted for "
        "good before the next run never show in the recycle bin. 0 lists every module each "
        "run.",
    ),
    th.Property(
        "deleted_id_check_hours", th.NumberType, default=24, title="Deleted records check",
        description="Hours after which every module with a bookmark (standard, custom, Notes) "
        "is read in full again, its rows tagged with a new table version and followed by "
        "ACTIVATE_VERSION: the loader flags (or removes) the rows Zoho no longer has, also "
        "those no deleted listing shows (Notes, records deleted for good). 0 turns it off. "
        "Costs one full read of each module per interval (--plan).",
    ),
    th.Property(
        "attachment_modules", th.ArrayType(th.StringType), title="Attachment modules",
        description="Modules whose records' attachment metadata the `attachments` stream "
        "reads (one call per record read in the run).",
    ),
    th.Property(
        "read_path", th.StringType, default="auto",
        allowed_values=["auto", "coql", "rest", "bulk"], title="Read path",
        description="How module records are read: auto (default) picks, for each full read, "
        "the path that costs the fewest API credits and gives every selected field (COQL from "
        "API v7, Bulk Read, Get Records); incremental reads use Get Records. rest, coql or "
        "bulk force one (where it can serve).",
    ),
    th.Property(
        "read_path_by_module", th.ObjectType(additional_properties=th.StringType),
        title="Read path by module",
        description="read_path for some modules, e.g. {\"Leads\": \"rest\"}.",
    ),
    th.Property(
        "bulk_read_threshold", th.IntegerType, title="Bulk Read threshold",
        description="Backfill a module with no bookmark through Bulk Read jobs when it has "
        "more records than this (e.g. 50000). Default: when Bulk Read costs the fewest "
        "credits and its export carries every selected field whole (read_path auto).",
    ),
    th.Property(
        "computed_refresh_days", th.NumberType, default=7, title="Computed values refresh",
        description="Days after which a module with formula, rollup summary, lookup or owner "
        "fields is read in full again (Zoho changes their values without Modified_Time); 0 "
        "turns it off. Costs one full read of the module per interval.",
    ),
    th.Property(
        "metadata_refresh_hours", th.NumberType, default=24, title="Metadata refresh",
        description="Hours between reads of the org metadata streams (users, org, roles, "
        "profiles, modules, fields): a run sooner after their last read emits nothing for "
        "them. 0 reads them every run.",
    ),
    th.Property(
        "progress_interval_seconds", th.NumberType, default=30, title="Progress interval",
        description="Seconds between progress lines per stream (records, total from Zoho's "
        "count, rate, ETA); 0 turns them and their count calls off.",
    ),
    th.Property(
        "request_timeout", th.IntegerType, default=300, title="Request timeout",
        description="Read timeout of one API call, in seconds.",
    ),
    th.Property(
        "max_retries", th.IntegerType, default=7, title="Max retries",
        description="Retries of a failing call (429, 5xx, timeouts, cut-off bodies) before "
        "the run stops.",
    ),
    th.Property(
        "retry_backoff_seconds", th.NumberType, default=2.0, title="Retry backoff",
        description="First retry wait in seconds; doubles per try up to 120 s (Retry-After "
        "wins when Zoho sends it).",
    ),
    th.Property(
        "token_store", th.StringType, secret=True, title="Token store",
        description="SQLAlchemy URL of the database where tap processes share the access "
        "token: sqlite:///, postgresql+psycopg:// (install tap-zohocrm[postgres]) or "
        "mysql+pymysql:// (tap-zohocrm[mysql]); `memory` for none. Default: "
        "$XDG_STATE_HOME/tap-zohocrm/tokens.db.",
    ),
    th.Property(
        "token_store_legacy_table", th.StringType, title="Legacy token table",
        description="Table in the archived Zoho SDKs' layout (useridentifier, accesstoken, "
        "refreshtoken, expirytime) to read access tokens from while migrating. Default: "
        "`oauthtokens` if the store's database has it; `none` for none.",
    ),
    th.Property(
        "max_concurrency", th.IntegerType, default=5, title="Max concurrency",
        description="Most API calls in flight at once, all streams together (Zoho allows 5 "
        "to 25 per org by edition; the Airflow DAG sets it per task).",
    ),
    th.Property(
        "parallel_modules", th.IntegerType, default=4, title="Parallel modules",
        description="Streams synced at the same time (modules, org metadata, deleted "
        "records), their records interleaved in the output; API calls stay within "
        "max_concurrency. Modules whose attachments are read sync one after another. 1 syncs "
        "one stream after another (the next modules are still read ahead).",
    ),
    th.Property(
        "max_api_credits", th.IntegerType, title="Max API credits",
        description="Stop cleanly (resumable STATE) before this run spends more API credits.",
    ),
    th.Property(
        "api_credits_reserve", th.IntegerType, default=0, title="API credits reserve",
        description="Stop cleanly when Zoho reports (X-API-CREDITS-REMAINING) fewer credits "
        "left today than this.",
    ),
).to_dict()

REQUIRED_SETTINGS = frozenset(CONFIG_SCHEMA.get("required", ()))


def drop_empty_settings(config: dict[str, Any]) -> list[str]:
    """Remove optional settings given as "": an empty value means unset, not a value.

    Orchestrators write "" for a variable that is declared but empty (`${UNSET_VAR}`), and
    such a value must not replace a default. Returns the keys removed.
    """
    empty = [key for key, value in config.items()
             if value == "" and key not in REQUIRED_SETTINGS]
    for key in empty:
        del config[key]
    return empty


def read_numbers_given_as_text(config: dict[str, Any]) -> None:
    """Read numeric settings given as text ("0.5") as numbers.

    Meltano passes such settings as text: they are declared `kind: string` there, because
    Meltano's `decimal` kind breaks `meltano run` when the value comes from the environment.
    A value that is not a number is left for validation to report.
    """
    for key, prop in CONFIG_SCHEMA["properties"].items():
        value = config.get(key)
        if not isinstance(value, str) or not json_types(prop) & {"number", "integer"}:
            continue
        try:
            number = float(value)
        except ValueError:
            continue
        if "integer" in json_types(prop) and number.is_integer():
            config[key] = int(number)
        elif "number" in json_types(prop):
            config[key] = number


def fill_defaults(config: dict[str, Any]) -> None:
    """Give every unset setting its default from the schema, so code reads `config[key]`."""
    for key, prop in CONFIG_SCHEMA["properties"].items():
        if prop.get("default") is not None:
            config.setdefault(key, prop["default"])


def check_settings(config: Mapping[str, Any]) -> list[str]:
    """Checks JSON Schema cannot express; each message names the setting."""
    errors = []
    for key in ("accounts_url", "api_url"):
        url_error = None if config.get(key) is None else data_centers.url_error(key, config[key])
        if url_error:
            errors.append(url_error)
    paths = ("auto", "coql", "rest", "bulk")
    for module, path in (config.get("read_path_by_module") or {}).items():
        if path not in paths:
            errors.append(f"`read_path_by_module` {module}: must be one of {', '.join(paths)}, "
                          f"got {path!r}")
    store_error = token_store.check_setting(config.get("token_store"))
    if store_error:
        errors.append(store_error)
    start = config.get("start_date")
    if start is not None and instant(start) is None:
        errors.append(f"`start_date` must be an ISO-8601 date or datetime, got {start!r}")
    per_page = config.get("per_page")
    if per_page is not None and (not isinstance(per_page, int) or not 1 <= per_page <= 200):
        errors.append(f"`per_page` must be an integer from 1 to 200, got {per_page!r}")
    for key, least in (("max_concurrency", 1), ("max_retries", 0), ("api_credits_reserve", 0),
                       ("max_api_credits", 1)):
        value = config.get(key)
        if value is not None and (not isinstance(value, int) or value < least):
            errors.append(f"`{key}` must be an integer of at least {least}, got {value!r}")
    for key, unit, zero in (
        ("computed_refresh_days", "days", "turns the refresh off"),
        ("metadata_refresh_hours", "hours", "reads the metadata streams every run"),
        ("deleted_full_listing_hours", "hours", "lists every module's deleted records each run"),
        ("deleted_id_check_hours", "hours", "turns the check off"),
    ):
        value = config.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                  or value < 0):
            errors.append(f"`{key}` must be a number of {unit}, 0 or more (0 {zero}), "
                          f"got {value!r}")
    for key in ("modules", "exclude_modules"):
        names = config.get(key)
        if names is not None and (
            not isinstance(names, list) or not all(isinstance(m, str) and m for m in names)
        ):
            errors.append(f"`{key}` must be a list of module API names, "
                          "e.g. [\"Leads\", \"Deals\"]")
    both = _names(config.get("modules")) & _names(config.get("exclude_modules"))
    if both:
        errors.append(f"`modules` and `exclude_modules` both name {', '.join(sorted(both))}: "
                      "remove them from one of the two")
    return errors


def unknown_settings(config: dict[str, Any], known: Iterable[str]) -> list[str]:
    """A warning for each key of `config` the tap does not read: a misspelled setting would
    otherwise be ignored silently. `_`-prefixed keys are an orchestrator's own and pass."""
    known = sorted(known)
    warnings = []
    for key in sorted(k for k in config if k not in known and not k.startswith("_")):
        close = difflib.get_close_matches(key, known, n=1)
        hint = f": did you mean {close[0]}?" if close else " and is ignored"
        warnings.append(f"Setting `{key}` is not a setting of tap-zohocrm{hint}")
    return warnings


def _names(value: Any) -> set[str]:
    return {v for v in value if isinstance(v, str)} if isinstance(value, list) else set()


def hide_secrets(error: str, config: Mapping[str, Any]) -> str:
    """`error` with the value of every secret setting replaced by ***."""
    for key in SECRET_SETTINGS:
        value = config.get(key)
        if isinstance(value, str) and value and value in error:
            error = error.replace(value, "***")
    return error
