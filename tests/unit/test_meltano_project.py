"""Adding an org to meltano.yml files of other layouts than this repository's: the org goes
at the end of `plugins.extractors`, every other line stays as it was, or nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tap_zohocrm.auth.meltano_project import ProjectError, add_org, org_entry

ENTRY = org_entry("acme", {"data_center": "eu", "api_url": "https://www.zohoapis.eu"})
PATH = Path("meltano.yml")


def check(text: str) -> str:
    result = add_org(text, ENTRY, PATH)
    data = yaml.safe_load(result)
    assert data["plugins"]["extractors"][-1] == ENTRY
    # Only lines added: the old ones all there, in order.
    old = iter(result.splitlines())
    assert all(line in old for line in text.splitlines())
    return result


def test_indented_list_last_in_the_file_without_a_final_newline() -> None:
    text = ("version: 1\nplugins:\n    extractors:\n        -   name: tap-zohocrm\n"
            "            namespace: tap_zohocrm  # mine\n            # inside the item")
    result = check(text)
    assert result.startswith(text + "\n        - name: tap-zohocrm--acme\n")


def test_crlf_lines_and_a_nested_extractors_key_elsewhere() -> None:
    text = ("environments:\r\n- name: dev\r\n  config:\r\n    plugins:\r\n      extractors:\r\n"
            "      - name: tap-zohocrm\r\nplugins:\r\n  extractors:\r\n  - name: tap-zohocrm\r\n"
            "  # loaders below\r\n  loaders:\r\n  - name: target-jsonl\r\n")
    result = check(text)
    assert "\r\n  - name: tap-zohocrm--acme\r\n" in result
    assert result.index("tap-zohocrm--acme") < result.index("  # loaders below")
    assert "\n" not in result.replace("\r\n", "")


def test_a_flow_style_list_is_refused_not_rewritten() -> None:
    with pytest.raises(ProjectError, match="add the org's extractor yourself"):
        add_org("plugins:\n  extractors: [{name: tap-zohocrm}]\n", ENTRY, PATH)
