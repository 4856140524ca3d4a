"""What a catalog selects: the `$` keys left out by default where COQL can read a module, and
deselected properties taken out of records as the SDK's own pass does, for less work."""

from __future__ import annotations

import copy
import random
from typing import Any

from singer_sdk.helpers._catalog import pop_deselected_record_properties
from singer_sdk.singerlib.catalog import Metadata, MetadataMapping

from tap_zohocrm.schema.fields import SYSTEM_PROPERTIES, module_schema, system_properties_opt_in
from tap_zohocrm.sync.record_messages import Deselection

FIELDS = [
    {"api_name": "Last_Name", "data_type": "text"},
    {"api_name": "Owner", "data_type": "ownerlookup"},
    {"api_name": "Modified_Time", "data_type": "datetime"},
]


def metadata(schema: dict[str, Any]) -> MetadataMapping:
    md = MetadataMapping.get_standard_metadata(
        schema=schema, key_properties=["id"], valid_replication_keys=["Modified_Time"])
    md.root.selected = True
    return md


def test_the_dollar_keys_are_left_out_unless_selected() -> None:
    schema = module_schema(FIELDS)
    mask = system_properties_opt_in(metadata(schema)).resolve_selection()
    assert not any(mask[("properties", name)] for name in SYSTEM_PROPERTIES)
    assert mask[("properties", "Last_Name")] and mask[("properties", "Owner")]
    assert mask[("properties", "Owner", "properties", "email")]


def test_a_catalogs_own_choice_wins() -> None:
    schema = module_schema(FIELDS)
    md = metadata(schema)
    md[("properties", "$approved")] = Metadata(inclusion=Metadata.InclusionType.AVAILABLE,
                                               selected=True)
    md[("properties", "$state")] = Metadata(inclusion=Metadata.InclusionType.AVAILABLE,
                                            selected_by_default=True)
    mask = system_properties_opt_in(md).resolve_selection()
    assert mask[("properties", "$approved")] and mask[("properties", "$state")]
    assert not mask[("properties", "$editable")]
    # The catalog written by discovery says so, for Meltano and other tools to show.
    written = {tuple(e["breadcrumb"]): e["metadata"] for e in md.to_list()}
    assert written[("properties", "$editable")]["selected-by-default"] is False


def record(rng: random.Random) -> dict[str, Any]:
    row: dict[str, Any] = {"id": str(rng.randrange(10**12)), "Last_Name": "Ng",
                           "Modified_Time": "2024-01-01T00:00:00+00:00",
                           "Owner": {"id": "1", "name": "A", "email": "a@x.com"}}
    for name in rng.sample(sorted(SYSTEM_PROPERTIES), k=rng.randrange(len(SYSTEM_PROPERTIES))):
        row[name] = rng.choice([True, None, "x", {"a": 1}])
    return row


def test_popping_deselected_keys_gives_what_the_sdks_pass_gives() -> None:
    schema = module_schema(FIELDS)
    rng = random.Random(5)
    cases = []
    opted = system_properties_opt_in(metadata(schema)).resolve_selection()
    cases.append(opted)
    nested = metadata(schema)
    nested[("properties", "Owner", "properties", "email")] = Metadata(
        inclusion=Metadata.InclusionType.AVAILABLE, selected=False)
    cases.append(nested.resolve_selection())
    parent = metadata(schema)
    parent[("properties", "Owner")] = Metadata(inclusion=Metadata.InclusionType.AVAILABLE,
                                               selected=False)
    cases.append(parent.resolve_selection())
    for mask in cases:
        deselection = Deselection(schema, mask)
        for _ in range(200):
            row = record(rng)
            want = copy.deepcopy(row)
            pop_deselected_record_properties(want, schema, mask)
            assert deselection.strip(row) == want
    assert not Deselection(schema, cases[0]).nested and Deselection(schema, cases[1]).nested
    assert not Deselection(schema, cases[2]).nested  # Owner goes whole, by name


def test_nothing_deselected_passes_records_through() -> None:
    schema = module_schema(FIELDS)
    deselection = Deselection(schema, metadata(schema).resolve_selection())
    rows = [record(random.Random(i)) for i in range(5)]
    assert list(deselection.strip_all(copy.deepcopy(rows))) == rows
