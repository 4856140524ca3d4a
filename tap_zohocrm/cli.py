"""The `tap-zohocrm` command: `tap-zohocrm auth ...` sets up OAuth; anything else is the tap."""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:2] == ["auth"]:
        from tap_zohocrm.auth.grant_command import main as auth_main

        raise SystemExit(auth_main(sys.argv[2:]))
    from tap_zohocrm.errors import RunStopped
    from tap_zohocrm.tap import TapZohoCRM

    try:
        TapZohoCRM.cli()
    except RunStopped as exc:
        # Stopped before a sync started (a sync ends itself, with its last STATE).
        TapZohoCRM.logger.warning("Stopped by %s before any record was read; exit code %d.",
                                  exc.signal_name, exc.exit_code)
        raise SystemExit(exc.exit_code) from None


if __name__ == "__main__":
    main()
