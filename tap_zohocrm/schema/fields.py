"""Map Zoho field metadata (settings/fields) to JSON Schema.

Types follow Zoho's `data_type` (formula and rollup_summary by their `return_type`), falling back
to `json_type` for types Zoho adds later; a field whose type is unknown is kept with an open
schema and a warning rather than dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from singer_sdk.singerlib.catalog import MetadataMapping

LOGGER = logging.getLogger("tap-zohocrm.schema")

STRING = {"type": ["string", "null"]}
INTEGER = {"type": ["integer", "null"]}
NUMBER = {"type": ["number", "null"]}
BOOLEAN = {"type": ["boolean", "null"]}
DATE = {"type": ["string", "null"], "format": "date"}
DATETIME = {"type": ["string", "null"], "format": "date-time"}
# Any JSON value (unknown types); an explicit union, since tools choke on a bare `{}`.
ANY: dict[str, Any] = {
    "type": ["object", "array", "string", "number", "integer", "boolean", "null"]
}
STRING_ARRAY = {"type": ["array", "null"], "items": {"type": "string"}}
OBJECT = {"type": ["object", "null"], "properties": {}, "additionalProperties": True}
OBJECT_ARRAY = {
    "type": ["array", "null"],
    "items": {"type": "object", "properties": {}, "additionalProperties": True},
}


def _shape(properties: dict[str, Any]) -> dict[str, Any]:
    """An object whose keys Zoho documents. Every path carries each declared key (null when
    Zoho leaves it out: an object read from Parquet cannot tell a missing key from a null
    one), so a record lands the same as records, JSONL or Parquet (docs/loading.md)."""
    return {"type": ["object", "null"], "properties": properties, "additionalProperties": True}


def _lookup(*extra: str) -> dict[str, Any]:
    properties = {"id": {"type": ["string", "null"]}, "name": {"type": ["string", "null"]}}
    for key in extra:
        properties[key] = {"type": ["string", "null"]}
    return {"type": ["object", "null"], "properties": properties, "additionalProperties": True}


LOOKUP = _lookup()
OWNER_LOOKUP = _lookup("email")
# A note's parent (from v3 on) names its module: {"module": {"api_name", "id"}, "name", "id"}.
PARENT_LOOKUP = {**LOOKUP, "properties": {
    **LOOKUP["properties"], "module": _shape({"api_name": STRING, "id": STRING})}}

# The record actions Zoho's approval and review processes allow (`$approval` has fewer keys in
# older API versions and orgs, `takeover` in newer ones: the union, null where absent).
APPROVAL = _shape({key: BOOLEAN for key in
                   ("delegate", "takeover", "approve", "reject", "resubmit")})
REVIEW_PROCESS = _shape({key: BOOLEAN for key in ("approve", "reject", "resubmit")})
# A file or image upload field's files, as Get Records returns them (Zoho's v8 OAS `FileDetails`
# and `Image_Upload`, without the request-only `_delete`; `attachment_Id` from responses).
# Their times stay Zoho's text, as nested values are not converted.
_UPLOADED = {
    "id": STRING, "File_Id__s": STRING, "File_Name__s": STRING, "Size__s": STRING,
    "Created_Time__s": STRING, "Modified_Time__s": STRING,
    "Created_By__s": OWNER_LOOKUP, "Modified_By__s": OWNER_LOOKUP, "Owner__s": OWNER_LOOKUP,
}
FILE_UPLOAD = {"type": ["array", "null"],
               "items": {**_shape({**_UPLOADED, "attachment_Id": STRING}), "type": "object"}}
IMAGE_UPLOAD = {"type": ["array", "null"],
                "items": {**_shape({**_UPLOADED, "Preview_Id__s": STRING, "Description__s": STRING,
                                    "State__s": STRING, "Sequence_Number__s": INTEGER}),
                          "type": "object"}}
TAGS = {
    "type": ["array", "null"],
    "items": {
        "type": "object",
        "properties": {
            "id": {"type": ["string", "null"]},
            "name": {"type": ["string", "null"]},
            "color_code": {"type": ["string", "null"]},
        },
        "additionalProperties": True,
    },
}

# data_type -> schema, for the types whose shape does not depend on other metadata.
DATA_TYPE_SCHEMAS: dict[str, dict[str, Any]] = {
    "text": STRING,
    "textarea": STRING,
    "mediumtext": STRING,
    "email": STRING,
    "phone": STRING,
    "website": STRING,
    "picklist": STRING,
    "autonumber": STRING,
    "profileimage": STRING,
    # Zoho's SDK reads event_reminder as a datetime, Airbyte as text; keep the text untouched.
    "event_reminder": STRING,
    "multiselectpicklist": STRING_ARRAY,
    "integer": INTEGER,
    "long": INTEGER,
    "bigint": INTEGER,
    "double": NUMBER,
    "decimal": NUMBER,
    "currency": NUMBER,
    "percent": NUMBER,
    "boolean": BOOLEAN,
    "date": DATE,
    "datetime": DATETIME,
    "lookup": LOOKUP,
    "userlookup": LOOKUP,
    "consent_lookup": LOOKUP,
    "multi_module_lookup": LOOKUP,
    "ownerlookup": OWNER_LOOKUP,
    "fileupload": FILE_UPLOAD,
    "imageupload": IMAGE_UPLOAD,
    "linetax": OBJECT_ARRAY,
    "multireminder": OBJECT_ARRAY,
    "RRULE": OBJECT,
    "ALARM": OBJECT,
    "time_range": OBJECT,
    "layout": OBJECT,
    "module": OBJECT,
}

RICH_TEXT_MEDIA_TYPE = "text/html"
# List calls that cut rich text (ApiVersion.cuts_rich_text) keep this many characters.
RICH_TEXT_LIST_CUT = 500

# Types whose values Get Records (a list call) never returns: Zoho sends them only on a
# single-record GET, and they are read through their own modules instead.
NOT_IN_LIST_CALLS = frozenset({"subform", "multiselectlookup", "multiuserlookup"})

# Formula and rollup fields take the type of their result.
RETURN_TYPE_SCHEMAS: dict[str, dict[str, Any]] = {
    "double": NUMBER,
    "currency": NUMBER,
    "percent": NUMBER,
    "decimal": NUMBER,
    "integer": INTEGER,
    "long": INTEGER,
    "bigint": INTEGER,
    "text": STRING,
    "string": STRING,
    "date": DATE,
    "datetime": DATETIME,
    "boolean": BOOLEAN,
}

# Marks formula and rollup summary properties (as `contentMediaType` marks rich text), so a sync
# run from a catalog knows them: Zoho changes their values without moving Modified_Time. A
# description is one of the schema keys a Singer catalog keeps.
COMPUTED_DESCRIPTIONS = {
    "formula": "Zoho formula field: recomputed without changing Modified_Time.",
    "rollup_summary": "Zoho rollup summary field: recomputed without changing Modified_Time.",
}

# Marks file and image upload properties: Bulk Read exports carry no column for them, so a
# backfill reads their values over REST (reads/bulk_backfill.py), and `--plan` counts those
# calls from a catalog alone.
UPLOAD_DESCRIPTIONS = {
    "fileupload": "Zoho file upload field: not in Bulk Read exports.",
    "imageupload": "Zoho image upload field: not in Bulk Read exports.",
}

# Marks lookups COQL answers with the id alone (a `--plan` from a catalog prices the Get
# Records pages that give their names).
ID_ONLY_IN_COQL_DESCRIPTIONS = {
    "consent_lookup": "Zoho consent lookup: COQL gives its id alone.",
    "multi_module_lookup": "Zoho multi-module lookup: COQL gives its id alone.",
}

JSON_TYPE_SCHEMAS: dict[str, dict[str, Any]] = {
    "string": STRING,
    "integer": INTEGER,
    "double": NUMBER,
    "boolean": BOOLEAN,
    "jsonobject": OBJECT,
    "jsonarray": {"type": ["array", "null"]},
}

# Keys Zoho adds to every record outside the fields metadata (see the Get Records samples).
SYSTEM_PROPERTIES: dict[str, dict[str, Any]] = {
    "$approved": BOOLEAN,
    "$approval_state": STRING,
    "$approval": APPROVAL,
    "$review_process": REVIEW_PROCESS,
    "$review": ANY,
    "$state": STRING,
    "$editable": BOOLEAN,
    "$currency_symbol": STRING,
    "$process_flow": BOOLEAN,
    "$orchestration": BOOLEAN,
    "$in_merge": BOOLEAN,
    "$stop_processing": BOOLEAN,
    "$converted": BOOLEAN,
    "$converted_detail": OBJECT,
    "$field_states": ANY,
    "$canvas_id": STRING,
    "$data_source_details": OBJECT,
    "$se_module": STRING,
    "$locked_for_me": BOOLEAN,
    "$attachments": ANY,
    "$is_shared_to_client": BOOLEAN,
    "$size": ANY,
    "$voice_note": BOOLEAN,
    "$wizard_connection_path": ANY,
    "$sharing_permission": STRING,
}


def system_properties_opt_in(metadata: MetadataMapping) -> MetadataMapping:
    """Leave the `$` keys out unless a catalog selects them, for a module COQL can read: only
    Get Records gives them, so loading them costs Get Records pages beside a COQL read or a Bulk
    Read export. A catalog's own `selected` or `selected-by-default` wins."""
    for breadcrumb, entry in metadata.items():
        if (len(breadcrumb) == 2 and breadcrumb[1] in SYSTEM_PROPERTIES
                and entry.selected is None and entry.selected_by_default is None):
            entry.selected_by_default = False
    return metadata


def field_schema(field: dict[str, Any]) -> dict[str, Any] | None:
    """Return the JSON Schema of one field, or None if list calls never carry its values."""
    data_type = field.get("data_type")
    api_name = field.get("api_name")
    json_type = field.get("json_type")
    if data_type in NOT_IN_LIST_CALLS or field.get("virtual_field"):
        return None
    if api_name == "Tag" and json_type == "jsonarray":
        return dict(TAGS)
    if data_type == "id" or api_name == "id":
        return {"type": ["string"]}
    if api_name == "Parent_Id" and data_type == "lookup":
        return dict(PARENT_LOOKUP)
    if data_type in ("formula", "rollup_summary"):
        details = field.get(data_type) or {}
        return_type = details.get("return_type") if isinstance(details, dict) else None
        if return_type in RETURN_TYPE_SCHEMAS:
            return {**RETURN_TYPE_SCHEMAS[return_type],
                    "description": COMPUTED_DESCRIPTIONS[data_type]}
    elif data_type in DATA_TYPE_SCHEMAS:
        textarea = field.get("textarea")
        if isinstance(textarea, dict) and textarea.get("type") == "rich_text":
            # Marked so a sync run from a catalog knows list calls cut it (v7+).
            return {**STRING, "contentMediaType": RICH_TEXT_MEDIA_TYPE}
        if json_type == "jsonarray" and data_type in ("text", "bigint", "autonumber"):
            return dict(STRING_ARRAY)
        if data_type in UPLOAD_DESCRIPTIONS:
            return {**DATA_TYPE_SCHEMAS[data_type], "description": UPLOAD_DESCRIPTIONS[data_type]}
        if data_type in ID_ONLY_IN_COQL_DESCRIPTIONS:
            return {**DATA_TYPE_SCHEMAS[data_type],
                    "description": ID_ONLY_IN_COQL_DESCRIPTIONS[data_type]}
        return dict(DATA_TYPE_SCHEMAS[data_type])
    if json_type in JSON_TYPE_SCHEMAS:
        LOGGER.warning(
            "Field %s has data_type %r that the tap does not know; typed from json_type %r",
            api_name, data_type, json_type,
        )
        return dict(JSON_TYPE_SCHEMAS[json_type])
    LOGGER.warning(
        "Field %s has unknown data_type %r and json_type %r; kept without a type",
        api_name, data_type, json_type,
    )
    return dict(ANY)


def module_schema(fields: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Build the JSON Schema of a module from its fields metadata."""
    properties: dict[str, Any] = {"id": {"type": ["string"]}}
    for field in fields:
        api_name = field.get("api_name")
        if not api_name or api_name in properties:
            continue
        schema = field_schema(field)
        if schema is not None:
            properties[api_name] = schema
    for name, schema in SYSTEM_PROPERTIES.items():
        properties.setdefault(name, dict(schema))
    properties[MISMATCH_PROPERTY] = dict(MISMATCH_SCHEMA)
    return {"type": "object", "properties": properties, "required": ["id"]}


def is_computed(prop: dict[str, Any]) -> bool:
    """Whether a property holds a formula or rollup summary value."""
    return prop.get("description") in COMPUTED_DESCRIPTIONS.values()


def is_upload(prop: dict[str, Any]) -> bool:
    """Whether a property holds a file or image upload field's values."""
    return prop.get("description") in UPLOAD_DESCRIPTIONS.values()


def is_id_only_in_coql(prop: dict[str, Any]) -> bool:
    """Whether COQL gives a property's lookup without its name (Get Records gives both)."""
    return prop.get("description") in ID_ONLY_IN_COQL_DESCRIPTIONS.values()


def is_owner(prop: dict[str, Any]) -> bool:
    """Whether a property holds a user (owner, created by, modified by): `{id, name, email}`."""
    return "email" in (prop.get("properties") or {}) and "id" in (prop.get("properties") or {})


def is_lookup(prop: dict[str, Any]) -> bool:
    """Whether a property holds a lookup or owner object, whose `name` Zoho shows as the looked
    up record or user is named now."""
    types = prop.get("type") or []
    return "object" in types and {"id", "name"} <= set(prop.get("properties") or {})


def requestable_fields(schema: dict[str, Any]) -> list[str]:
    """Field API names to put in `fields=`: the schema's, without `id` and `$` keys."""
    # `$` keys come with every record unasked; `_` keys are the tap's own (`_sdc_deleted_at`,
    # `_zoho_mismatched_values`): Zoho API names start with a letter.
    return [name for name in schema["properties"] if name != "id" and name[0] not in "$_"]


MISMATCH_PROPERTY = "_zoho_mismatched_values"
# Values that do not fit their field's type go here, untouched, and the field is set to null:
# the typed column stays typed and nothing is lost.
MISMATCH_SCHEMA = {"type": ["object", "null"], "properties": {}, "additionalProperties": True}
