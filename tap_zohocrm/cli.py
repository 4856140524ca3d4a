"""The `tap-zohocrm` command: `tap-zohocrm auth ...` sets up OAuth; anything else is the tap.

An error the tap foresees (a setting, the state, the credentials, a call Zoho refuses) ends the
run with its one-line message and its own exit code (docs/operations.md); its traceback is
logged only at debug level (`TAP_ZOHOCRM_LOGLEVEL=debug`). Any other error keeps its traceback.
"""

from __future__ import annotations

import logging
import sys

# Exit codes of the errors the tap foresees (docs/operations.md); 3 (credits used up) is
# tap.py's.
EXIT_BAD_SETTING = 4
EXIT_BAD_STATE = 5
EXIT_BAD_CREDENTIALS = 6
EXIT_ZOHO_REFUSED = 7


def main() -> None:
    if sys.argv[1:2] == ["auth"]:
        from tap_zohocrm.auth.grant_command import main as auth_main

        raise SystemExit(auth_main(sys.argv[2:]))
    from tap_zohocrm.errors import RunStopped, ZohoAPIError, ZohoAuthError, ZohoConfigError
    from tap_zohocrm.sync.state_checks import InvalidStateError
    from tap_zohocrm.tap import TapZohoCRM

    # Most specific first: InvalidStateError is a ZohoConfigError, ZohoAuthError and
    # ZohoAPIError are both the SDK's FatalAPIError.
    foreseen = (
        (InvalidStateError, EXIT_BAD_STATE),
        (ZohoConfigError, EXIT_BAD_SETTING),
        (ZohoAuthError, EXIT_BAD_CREDENTIALS),
        (ZohoAPIError, EXIT_ZOHO_REFUSED),
    )
    try:
        TapZohoCRM.cli()
    except RunStopped as exc:
        # Stopped before a sync started (a sync ends itself, with its last STATE).
        TapZohoCRM.logger.warning("Stopped by %s before any record was read; exit code %d.",
                                  exc.signal_name, exc.exit_code)
        raise SystemExit(exc.exit_code) from None
    except Exception as exc:
        code = next((code for kind, code in foreseen if isinstance(exc, kind)), None)
        if code is None:
            raise
        logger = TapZohoCRM.logger
        logger.error("%s", exc, exc_info=exc if logger.isEnabledFor(logging.DEBUG) else None)
        raise SystemExit(code) from None


if __name__ == "__main__":
    main()
