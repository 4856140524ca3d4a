"""Every Zoho data_type maps to a precise JSON Schema type; unknown types stay, with a warning."""

from __future__ import annotations

import logging

import pytest
import requests

from tap_zohocrm.schema.fields import field_schema, module_schema
from tests.helpers import discover, tap_config

EXPECTED = {
    "text": "string", "textarea": "string", "email": "string", "phone": "string",
    "website": "string", "picklist": "string", "autonumber": "string",
    "profileimage": "string", "mediumtext": "string", "event_reminder": "string",
    "multiselectpicklist": "array", "integer": "integer", "long": "integer",
    "bigint": "integer", "double": "number", "currency": "number", "percent": "number",
    "boolean": "boolean", "date": "string", "datetime": "string", "lookup": "object",
    "ownerlookup": "object", "userlookup": "object", "consent_lookup": "object",
    "multi_module_lookup": "object", "fileupload": "array", "imageupload": "array",
    "RRULE": "object", "ALARM": "object",
}
FORMATS = {"date": "date", "datetime": "date-time"}


def _sim_fields(sim, module: str) -> list[dict]:
    token = requests.post(
        f"{sim.url}/oauth/v2/token",
        data={"grant_type": "refresh_token", **sim.credentials}, timeout=10,
    ).json()["access_token"]
    response = requests.get(
        f"{sim.url}/crm/v8/settings/fields", params={"module": module},
        headers={"Authorization": f"Zoho-oauthtoken {token}"}, timeout=10,
    )
    return response.json()["fields"]


def test_every_data_type_in_the_org_maps_to_its_type(sim) -> None:
    seen: set[str] = set()
    for module in ("Leads", "Events", "Tasks", "Quotes", "Shipments", "Contacts", "Deals"):
        for field in _sim_fields(sim, module):
            data_type = field["data_type"]
            schema = field_schema(field)
            if data_type in ("subform", "multiselectlookup", "multiuserlookup"):
                assert schema is None, field["api_name"]  # read through their own modules
                seen.add(data_type)
                continue
            assert schema is not None
            if field["api_name"] == "id":
                assert schema == {"type": ["string"]}  # record ids stay strings (19 digits)
            elif field["api_name"] == "Tag":
                assert schema["type"][0] == "array"
                assert set(schema["items"]["properties"]) >= {"id", "name"}
            elif data_type in EXPECTED:
                assert schema["type"][0] == EXPECTED[data_type], (field["api_name"], data_type)
                if data_type in FORMATS:
                    assert schema["format"] == FORMATS[data_type]
                if data_type in ("lookup", "ownerlookup", "userlookup"):
                    assert "id" in schema["properties"]
                if data_type == "ownerlookup":
                    assert "email" in schema["properties"]
            elif data_type in ("formula", "rollup_summary"):
                return_type = field[data_type]["return_type"]
                kind = {"double": "number", "currency": "number", "integer": "integer",
                        "text": "string", "date": "string", "datetime": "string",
                        "boolean": "boolean"}[return_type]
                assert schema["type"][0] == kind, field["api_name"]
            seen.add(data_type)
    missing = set(EXPECTED) | {"formula", "rollup_summary", "subform", "multiselectlookup",
                               "multiuserlookup"}
    assert missing - seen == set(), f"simulator lacks data types: {missing - seen}"


def test_unknown_type_is_kept_permissively_with_a_warning(caplog) -> None:
    with caplog.at_level(logging.WARNING):
        schema = field_schema({"api_name": "X", "data_type": "zia_magic",
                               "json_type": "jsonobject"})
        assert schema == {"type": ["object", "null"], "properties": {},
                          "additionalProperties": True}
        schema = field_schema({"api_name": "Y", "data_type": "hologram", "json_type": "voxel"})
        assert set(schema["type"]) >= {"object", "array", "string", "number", "null"}
    assert "zia_magic" in caplog.text and "hologram" in caplog.text


@pytest.mark.parametrize("return_type", ["double", "currency", "text", "date", "datetime",
                                         "boolean", "integer"])
def test_formula_return_types(return_type) -> None:
    field = {"api_name": "F", "data_type": "formula", "json_type": "string",
             "formula": {"return_type": return_type}}
    assert field_schema(field) is not None


def test_module_schema_has_id_and_system_keys() -> None:
    schema = module_schema([{"api_name": "Last_Name", "data_type": "text", "json_type": "string"}])
    assert schema["properties"]["id"] == {"type": ["string"]}
    assert "$approved" in schema["properties"]
    assert schema["required"] == ["id"]


def test_custom_module_unknown_type_survives_discovery(sim) -> None:
    catalog = discover(tap_config(sim, modules=["Shipments"]))
    props = next(s for s in catalog["streams"] if s["tap_stream_id"] == "shipments")["schema"][
        "properties"
    ]
    unknown = [n for n, s in props.items()
               if s.get("type") == ["object", "null"] and not s["properties"]]
    assert unknown, "the field with data_type zia_magic should be kept as an open object"
