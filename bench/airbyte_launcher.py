"""Run Airbyte's `source-zoho-crm` against a local Zoho CRM simulator.

The connector's Zoho hosts are fixed in `source_zoho_crm.api.ZohoAPI` (read-only mappings of
data-center region to URL). This launcher replaces both mappings on the class with the URL in
`ZOHO_SIMULATOR_URL`, then hands over to the connector's own entry point with the same
arguments (`spec`, `check`, `discover`, `read --config C --catalog K`). Nothing else is changed.

Runs in the connector's own virtual environment (bench/.venv-airbyte), not the tap's.
"""

from __future__ import annotations

import os
from types import MappingProxyType


def patch_hosts(url: str) -> None:
    from source_zoho_crm.api import ZohoAPI

    url = url.rstrip("/")
    for attr in ("_DC_REGION_TO_ACCESS_URL", "_DC_REGION_TO_API_URL"):
        regions = getattr(ZohoAPI, attr)
        setattr(ZohoAPI, attr, MappingProxyType(dict.fromkeys(regions, url)))


def main() -> None:
    patch_hosts(os.environ["ZOHO_SIMULATOR_URL"])
    from source_zoho_crm.run import run

    run()  # reads sys.argv[1:]


if __name__ == "__main__":
    main()
