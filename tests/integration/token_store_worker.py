"""One of N concurrent processes sharing a token store (driven by test_token_store.py).

Usage: python tests/integration/token_store_worker.py SIM_URL CLIENT_ID STORE_URL (secret and
refresh token on stdin's first line as JSON, so they are not in the process list). Prints
`ready`, then for every command line on stdin runs it and prints one JSON line:

    call          one API call (GET settings/modules), refreshing or retrying on 401 as the tap does
    loop SECONDS  API calls back to back for SECONDS
    quit
"""

from __future__ import annotations

import json
import logging
import sys
import time

import requests

from tap_zohocrm.auth.authenticator import ZohoAuthenticator
from tap_zohocrm.auth.token_store import TokenStore


def main() -> int:
    sim_url, client_id, store_url = sys.argv[1:4]
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(process)d %(name)s %(message)s")
    secrets = json.loads(sys.stdin.readline())
    auth = ZohoAuthenticator(
        auth_endpoint=f"{sim_url}/oauth/v2/token",
        client_id=client_id,
        client_secret=secrets["client_secret"],
        refresh_token=secrets["refresh_token"],
        token_store=TokenStore(store_url),
        throttle_first_wait=0.5,
    )
    session = requests.Session()
    rejected = 0

    def call() -> None:
        nonlocal rejected
        for _ in range(5):
            token = auth.ensure_token()
            response = session.get(f"{sim_url}/crm/v8/settings/modules",
                                   headers={"Authorization": f"Zoho-oauthtoken {token}"},
                                   timeout=30)
            if response.status_code == 200:
                auth.token_accepted(token)  # as the tap's streams do
                return
            if response.status_code == 401:
                rejected += 1
                if not auth.invalidate(token):
                    raise SystemExit("a freshly issued token was rejected")
                continue
            raise SystemExit(f"HTTP {response.status_code}")
        raise SystemExit("no valid token after 5 tries")

    print("ready", flush=True)
    for line in sys.stdin:
        command = line.split()
        if not command or command[0] == "quit":
            break
        calls = 0
        if command[0] == "call":
            call()
            calls = 1
        elif command[0] == "loop":
            deadline = time.monotonic() + float(command[1])
            while time.monotonic() < deadline:
                call()
                calls += 1
                time.sleep(0.05)
        print(json.dumps({"token_requests": auth.token_requests, "rejected": rejected,
                          "calls": calls}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
