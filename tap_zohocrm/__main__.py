"""Allow `python -m tap_zohocrm`."""

from tap_zohocrm.tap import TapZohoCRM

TapZohoCRM.cli()
