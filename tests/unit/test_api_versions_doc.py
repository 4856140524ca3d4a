"""docs/api-versions.md quotes the table of Zoho API versions the tap works from."""

from __future__ import annotations

from pathlib import Path

from tap_zohocrm.api_versions import capability_table

DOC = Path(__file__).resolve().parents[2] / "docs" / "api-versions.md"


def test_the_doc_quotes_the_version_table() -> None:
    assert capability_table() in DOC.read_text(), (
        "docs/api-versions.md is out of date; paste in:\n" + capability_table())
