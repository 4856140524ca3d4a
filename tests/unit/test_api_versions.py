"""The API version table: what each of v2 to v8 can do, as Zoho's docs and change logs say
(zoho-crm-api.md; docs/how-it-reads-zoho.md)."""

from __future__ import annotations

import re

import pytest

from tap_zohocrm.api_versions import RECYCLE_BIN_VERSION, VERSIONS, api_version
from tap_zohocrm.settings import CONFIG_SCHEMA

NAMES = ["v2", "v2.1", "v3", "v4", "v5", "v6", "v7", "v8"]
CAPABILITIES = ("page_tokens", "fields_optional", "lists_unused_fields", "recycle_bin",
                "cuts_rich_text", "rich_text_per_page")


@pytest.mark.parametrize(("name", "since", "gained"), [
    # page_token past 2,000 records (v2 and v2.1 stop at `page`), and `fields` required
    # (50 a call): v3 on.
    ("page_tokens", "v3", True),
    ("fields_optional", "v3", False),
    # settings/fields?type=all: v2.1 on.
    ("lists_unused_fields", "v2.1", True),
    # settings/recycle_bin: v6 on.
    ("recycle_bin", "v6", True),
    # List calls cut rich text at 500 characters: v7 on; Get Rich Text Fields: v8.
    ("cuts_rich_text", "v7", True),
    ("rich_text_per_page", "v8", True),
])
def test_each_capability_changes_at_its_version(name, since, gained) -> None:
    assert [getattr(api_version(v), name) for v in NAMES] == [
        (NAMES.index(v) >= NAMES.index(since)) is gained for v in NAMES]


def test_rich_text_is_reread_per_page_only_where_list_calls_cut_it() -> None:
    assert all(api_version(n).cuts_rich_text for n in NAMES if api_version(n).rich_text_per_page)


def test_every_version_row_is_named_as_in_the_url() -> None:
    assert list(VERSIONS) == NAMES
    assert all(api_version(name).name == name for name in NAMES)
    assert all(isinstance(getattr(api_version(n), c), bool) for n in NAMES for c in CAPABILITIES)


def test_the_recycle_bins_own_version_has_it() -> None:
    assert api_version(RECYCLE_BIN_VERSION).recycle_bin


def test_the_setting_allows_every_version_and_no_other() -> None:
    setting = CONFIG_SCHEMA["properties"]["api_version"]
    assert setting["enum"] == NAMES
    assert setting["default"] in NAMES


@pytest.mark.parametrize("name", ["v9", "v1", "8", "V8", "v2.0", "", "v8 "])
def test_an_unknown_version_names_the_allowed_ones(name) -> None:
    allowed = ", ".join(NAMES)
    with pytest.raises(ValueError, match=re.escape(f"one of {allowed}; got {name!r}")):
        api_version(name)
