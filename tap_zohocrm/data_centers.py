"""Zoho data centers: where to get tokens and where the CRM API lives.

Tokens are issued per data center and per environment (production, sandbox, developer), so a
wrong pair fails with `invalid_code`; the mapping mirrors Zoho's SDK 8.0 data-center classes.
"""

from __future__ import annotations

from urllib.parse import urlparse

DATA_CENTER_NAMES: dict[str, str] = {
    "us": "United States",
    "eu": "Europe",
    "in": "India",
    "au": "Australia",
    "cn": "China",
    "jp": "Japan",
    "ca": "Canada",
    "sa": "Saudi Arabia",
}
DATA_CENTERS = tuple(DATA_CENTER_NAMES)
ENVIRONMENTS = ("production", "sandbox", "developer")

ACCOUNTS_URLS: dict[str, str] = {
    "us": "https://accounts.zoho.com",
    "eu": "https://accounts.zoho.eu",
    "in": "https://accounts.zoho.in",
    "au": "https://accounts.zoho.com.au",
    "cn": "https://accounts.zoho.com.cn",
    "jp": "https://accounts.zoho.jp",
    "ca": "https://accounts.zohocloud.ca",
    "sa": "https://accounts.zoho.sa",
}

# Host suffix of the CRM API per data center; the environment picks the first label.
_API_HOST_SUFFIX: dict[str, str] = {
    "us": "zohoapis.com",
    "eu": "zohoapis.eu",
    "in": "zohoapis.in",
    "au": "zohoapis.com.au",
    "cn": "zohoapis.com.cn",
    "jp": "zohoapis.jp",
    "ca": "zohoapis.ca",
    "sa": "zohoapis.sa",
}
_ENVIRONMENT_PREFIX = {"production": "www", "sandbox": "sandbox", "developer": "developer"}


def accounts_url(data_center: str) -> str:
    """Return the accounts server (OAuth) of a data center."""
    return ACCOUNTS_URLS[data_center]


def api_domain(data_center: str, environment: str) -> str:
    """Return the CRM API domain of a data center and environment."""
    return f"https://{_ENVIRONMENT_PREFIX[environment]}.{_API_HOST_SUFFIX[data_center]}"


def is_loopback(url: str) -> bool:
    """Tell whether a URL points at this machine (the simulator, a local proxy)."""
    host = urlparse(url).hostname or ""
    return host in {"localhost", "::1"} or host.startswith("127.")


def url_error(name: str, url: object) -> str | None:
    """Why `url` cannot be a Zoho server URL (named `name` in the message); None when it can.

    Tokens and secrets travel to these URLs: https only, plain http for this machine alone.
    """
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        return f"`{name}` must be an https:// URL, got {url!r}"
    if url.startswith("http://") and not is_loopback(url):
        return f"`{name}` must use https:// (plain http only for 127.0.0.1/localhost)"
    return None
