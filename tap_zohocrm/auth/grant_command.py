"""`tap-zohocrm auth`: turn a Self Client grant code into the settings the tap needs.

    tap-zohocrm auth --client-id 1000.XXX --code 1000.abc... [--data-center eu] [--write-env .env]

The client secret comes from --client-secret, else TAP_ZOHOCRM_CLIENT_SECRET, else a prompt (so
it need not sit in the shell history). The grant code is exchanged at the data center's accounts
server (`grant_type=authorization_code`), the refresh token checked with one API call, and the
settings printed to stdout once, or written as TAP_ZOHOCRM_* lines to a .env file (mode 0600),
in which case stdout shows only the non-secret ones. Secrets never go to stderr or the log.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import requests

from tap_zohocrm import data_centers
from tap_zohocrm.auth.authenticator import CLIENT_ERRORS, client_error_message

API_VERSION = "v8"
SCOPES = ("ZohoCRM.modules.ALL,ZohoCRM.settings.ALL,ZohoCRM.users.READ,ZohoCRM.org.READ,"
          "ZohoCRM.bulk.READ,ZohoCRM.coql.READ")
SECRET_KEYS = ("client_secret", "refresh_token")
TIMEOUT = (10, 60)


class AuthCommandError(Exception):
    """A failure with a message that says what to do; it never contains a secret."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tap-zohocrm auth",
        description="Exchange a Zoho Self Client grant code for a refresh token, check it, and "
        "print the tap's settings (or write them to a .env file). Generate the code at "
        "https://api-console.zoho.com > Self Client > Generate Code with the scopes "
        f"{SCOPES}.",
    )
    p.add_argument("--client-id", default=os.environ.get("TAP_ZOHOCRM_CLIENT_ID"),
                   help="Self Client client id (default: $TAP_ZOHOCRM_CLIENT_ID)")
    p.add_argument("--client-secret",
                   help="client secret (default: $TAP_ZOHOCRM_CLIENT_SECRET, else asked for)")
    p.add_argument("--code", help="grant code from Generate Code (default: asked for); it "
                   "expires after the duration chosen in the console (3 minutes by default) "
                   "and works once")
    p.add_argument("--data-center", default=os.environ.get("TAP_ZOHOCRM_DATA_CENTER", "us"),
                   choices=list(data_centers.DATA_CENTERS),
                   help="where the org lives (the console's domain): us, eu, in, au, cn, jp, "
                   "ca, sa (default us)")
    p.add_argument("--environment", default="production", choices=list(data_centers.ENVIRONMENTS),
                   help="production (default), sandbox or developer")
    p.add_argument("--accounts-url", help="accounts server override (default: the data "
                   "center's, e.g. https://accounts.zoho.eu)")
    p.add_argument("--api-url", help="API domain override (default: the api_domain Zoho "
                   "returns with the token)")
    p.add_argument("--write-env", metavar="PATH", help="write TAP_ZOHOCRM_* lines to this .env "
                   "file (created or updated, mode 0600) instead of printing the secrets")
    p.add_argument("--format", choices=("env", "json"), default="env",
                   help="how to print the settings: env lines (default) or a JSON config")
    p.add_argument("--skip-check", action="store_true",
                   help="do not check the refresh token with an API call")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = run(args)
    except AuthCommandError as exc:
        print(f"tap-zohocrm auth: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0 if settings else 1


def run(args: argparse.Namespace) -> dict[str, str]:
    client_id = (args.client_id or "").strip() or _ask("Client ID: ", secret=False)
    client_secret = (args.client_secret or os.environ.get("TAP_ZOHOCRM_CLIENT_SECRET") or ""
                     ).strip() or _ask("Client secret: ", secret=True)
    code = (args.code or "").strip() or _ask("Grant code: ", secret=True)
    accounts = (args.accounts_url or data_centers.accounts_url(args.data_center)).rstrip("/")
    for name, url in (("--accounts-url", args.accounts_url), ("--api-url", args.api_url)):
        url_error = data_centers.url_error(name, url) if url else None
        if url_error:
            raise AuthCommandError(url_error)

    body = exchange_grant_code(accounts, client_id, client_secret, code)
    refresh_token = body.get("refresh_token")
    if not refresh_token:
        raise AuthCommandError(
            "Zoho issued an access token but no refresh token. A Self Client grant code gives "
            "one on its first exchange only: generate a new code and run this again.")
    scope = str(body.get("scope") or "")
    if args.api_url:
        api_domain = args.api_url.rstrip("/")
    elif args.environment == "production" and body.get("api_domain"):
        api_domain = str(body["api_domain"]).rstrip("/")
    else:
        api_domain = data_centers.api_domain(args.data_center, args.environment)
    _info(f"Zoho issued a refresh token (scope: {scope or 'not stated'}).")
    if scope and "zohocrm.modules" not in scope.lower():
        _info("Warning: the scope has no ZohoCRM.modules.* entry, so the tap will read no "
              f"records. Generate a code with {SCOPES}.")
    if not args.skip_check:
        count = check_token(api_domain, body["access_token"])
        _info(f"Checked: the token reads the org's module list ({count} modules) at "
              f"{api_domain}.")

    settings: dict[str, str] = {"client_id": client_id, "client_secret": client_secret,
                                "refresh_token": refresh_token, "data_center": args.data_center}
    if args.environment != "production":
        settings["environment"] = args.environment
    if args.accounts_url:
        settings["accounts_url"] = accounts
    if args.api_url:
        settings["api_url"] = api_domain
    if args.write_env:
        path = write_env(Path(args.write_env), settings)
        _info(f"Wrote {', '.join(env_name(k) for k in settings)} to {path} (mode 0600).")
        public = {k: v for k, v in settings.items() if k not in SECRET_KEYS}
        print(render(public, args.format))
        print("# client_secret and refresh_token are in "
              f"{path}; `meltano` reads it from the project root.")
    else:
        print(render(settings, args.format))
    return settings


def exchange_grant_code(accounts: str, client_id: str, client_secret: str,
                        code: str) -> dict[str, Any]:
    url = f"{accounts}/oauth/v2/token"
    try:
        response = requests.post(url, data={
            "grant_type": "authorization_code", "client_id": client_id,
            "client_secret": client_secret, "code": code,
        }, timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise AuthCommandError(f"could not reach the Zoho accounts server {url} "
                               f"({type(exc).__name__}); check --data-center / --accounts-url"
                               ) from None
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or ("access_token" not in body and "error" not in body):
        raise AuthCommandError(f"unexpected answer from {url} (HTTP {response.status_code}); "
                               "check --data-center / --accounts-url")
    if "access_token" in body:
        return body
    raise AuthCommandError(_grant_error(str(body.get("error")), accounts))


def _grant_error(error: str, accounts: str) -> str:
    if error == "invalid_code":
        return (
            "Zoho refused the grant code (invalid_code): it has expired (the console's default "
            "is 3 minutes), was already used (a code works once), was mistyped, or was "
            f"generated in another data center than {accounts}. Generate a new one "
            "(api-console.zoho.com > Self Client > Generate Code) and run this again at once; "
            "use the data center of the console you generated it in (--data-center)."
        )
    if error in CLIENT_ERRORS:
        return client_error_message(error, accounts)
    if error == "Access Denied":
        return ("Zoho throttled token requests (Access Denied: too many in a short time); wait "
                "a few minutes, generate a new code and run this again.")
    return f"Zoho refused the grant code ({error}); generate a new one and run this again."


def check_token(api_domain: str, access_token: str) -> int:
    """One API call with the new token; returns the number of modules the user sees."""
    url = f"{api_domain}/crm/{API_VERSION}/settings/modules"
    try:
        response = requests.get(url, headers={"Authorization": f"Zoho-oauthtoken {access_token}"},
                                timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise AuthCommandError(f"could not reach the Zoho CRM API at {api_domain} "
                               f"({type(exc).__name__}); check --api-url, or use --skip-check"
                               ) from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code == 200 and isinstance(body, dict):
        return len(body.get("modules") or [])
    code = body.get("code") if isinstance(body, dict) else None
    if code == "OAUTH_SCOPE_MISMATCH":
        raise AuthCommandError(
            "the new token may not read module metadata (OAUTH_SCOPE_MISMATCH): generate a "
            f"code with the scopes {SCOPES}.")
    if code in ("INVALID_TOKEN", "AUTHENTICATION_FAILURE"):
        raise AuthCommandError(
            f"{api_domain} rejected the new token ({code}): it belongs to another data center "
            "or environment; check --data-center / --environment / --api-url.")
    raise AuthCommandError(f"the check call GET {url} failed: HTTP {response.status_code} "
                           f"{code or ''}".rstrip())


def env_name(key: str) -> str:
    return f"TAP_ZOHOCRM_{key.upper()}"


def _env_value(value: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9._:/@+-]*", value):
        return value
    return "'" + value.replace("'", "'\"'\"'") + "'"


def render(settings: dict[str, str], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(settings, indent=2)
    return "\n".join(f"{env_name(k)}={_env_value(v)}" for k, v in settings.items())


def write_env(path: Path, settings: dict[str, str]) -> Path:
    """Set these TAP_ZOHOCRM_* variables in a .env file, keeping its other lines; mode 0600."""
    lines: list[str] = []
    if path.exists():
        lines = path.read_text().splitlines()
    names = {env_name(k): v for k, v in settings.items()}
    out: list[str] = []
    for line in lines:
        match = re.match(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=", line)
        if match and match.group(1) in names:
            continue  # replaced below
        out.append(line)
    out += [f"{name}={_env_value(value)}" for name, value in names.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".env.", dir=path.parent)  # created 0600
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write("\n".join(out) + "\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _ask(prompt: str, *, secret: bool) -> str:
    if not sys.stdin.isatty():
        raise AuthCommandError(f"missing {prompt.rstrip(': ').lower()}: pass it as an option")
    value = getpass.getpass(prompt) if secret else input(prompt)
    if not value.strip():
        raise AuthCommandError(f"no {prompt.rstrip(': ').lower()} given")
    return value.strip()


def _info(message: str) -> None:
    """Progress for the user, on stderr (never with a secret in it)."""
    print(message, file=sys.stderr)
