"""The `tap-zohocrm` command: `tap-zohocrm auth ...` sets up OAuth; anything else is the tap."""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:2] == ["auth"]:
        from tap_zohocrm.auth.grant_command import main as auth_main

        raise SystemExit(auth_main(sys.argv[2:]))
    from tap_zohocrm.tap import TapZohoCRM

    TapZohoCRM.cli()


if __name__ == "__main__":
    main()
