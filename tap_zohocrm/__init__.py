"""Singer tap for Zoho CRM."""

from tap_zohocrm._version import __version__

__all__ = ["__version__"]
