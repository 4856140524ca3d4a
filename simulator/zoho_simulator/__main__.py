"""CLI: `python -m zoho_simulator --port 8000 --size Leads=5000`; serves until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from types import FrameType

from .simulator import Simulator


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="zoho_simulator", description=__doc__)
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--size", action="append", default=[], metavar="MODULE=N")
    p.add_argument("--latency-ms", type=float, default=0)
    p.add_argument("--page-token-cap", type=int, default=100_000)
    p.add_argument("--token-lifetime", type=int, default=3600)
    p.add_argument("--bulk-job-seconds", type=float, default=1.0,
                   help="time a Bulk Read job takes to complete")
    p.add_argument("--bulk-page-size", type=int, default=200_000,
                   help="records per Bulk Read page (Zoho: 200,000)")
    p.add_argument("--positional-page-tokens", action="store_true",
                   help="page tokens are offsets (like page), not keyset positions")
    p.add_argument("--deleted-page-cap", type=int, default=None,
                   help="entries /{module}/deleted reaches with page (default: no cap)")
    p.add_argument("--notes-v8-plain", action="store_true",
                   help="v8 GET /Notes ignores If-Modified-Since and page_token")
    p.add_argument("--no-admin", action="store_true", help="user is not an admin (Notes 403)")
    p.add_argument("--unservable-modules", action="store_true",
                   help="list system modules (Locking_Information__s, ...) whose records Zoho "
                   "refuses")
    p.add_argument("--rejected-token-code", default="INVALID_TOKEN",
                   choices=("INVALID_TOKEN", "AUTHENTICATION_FAILURE"),
                   help="the 401 code of an expired or revoked access token")
    p.add_argument("--v8-user-types-only", action="store_true",
                   help="from v8 on, refuse users?type=AllUsers/DeletedUsers (not in the v8 "
                   "OpenAPI file)")
    p.add_argument("--recycle-bin-own-deletions", action="store_true",
                   help="with --no-admin, settings/recycle_bin lists only the API user's own "
                   "deletions")
    args = p.parse_args(argv)
    sizes: dict[str, int] = {}
    for item in args.size:
        name, _, n = item.partition("=")
        if not n.isdigit():
            p.error(f"--size expects MODULE=N, got {item!r}")
        sizes[name] = int(n)
    sim = Simulator(seed=args.seed, sizes=sizes, latency_ms=args.latency_ms,
                    page_token_cap=args.page_token_cap, token_lifetime=args.token_lifetime,
                    user_is_admin=not args.no_admin, bulk_job_seconds=args.bulk_job_seconds,
                    bulk_page_size=args.bulk_page_size,
                    positional_page_tokens=args.positional_page_tokens,
                    deleted_page_cap=args.deleted_page_cap,
                    notes_v8_plain=args.notes_v8_plain,
                    unservable_modules=args.unservable_modules,
                    rejected_token_code=args.rejected_token_code,
                    v8_user_types_only=args.v8_user_types_only,
                    recycle_bin_own_deletions=args.recycle_bin_own_deletions)
    done = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    # Before the address is printed: whoever reads it may stop the simulator at once.
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    sim.start(port=args.port, host=args.host)
    print(f"zoho-simulator listening on {sim.url}")
    print(json.dumps({**sim.credentials, "api_url": sim.url, "accounts_url": sim.url}))
    sys.stdout.flush()
    done.wait()
    sim.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
