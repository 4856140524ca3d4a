"""Allow `python -m tap_zohocrm` (and `python -m tap_zohocrm auth ...`)."""

from tap_zohocrm.cli import main

main()
