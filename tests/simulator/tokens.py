"""An access token from the simulator's OAuth endpoint, for tests that call its API directly."""

from __future__ import annotations

import requests

from zoho_simulator import Simulator


def token_headers(sim: Simulator, scope: str) -> dict[str, str]:
    """The Authorization header of a fresh access token with `scope`."""
    creds = {**sim.credentials, "refresh_token": sim.issue_refresh_token(scope)}
    r = requests.post(f"{sim.url}/oauth/v2/token", data={"grant_type": "refresh_token", **creds},
                      timeout=10)
    return {"Authorization": f"Zoho-oauthtoken {r.json()['access_token']}"}
