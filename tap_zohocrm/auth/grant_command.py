"""`tap-zohocrm auth`: turn a Self Client grant code into the settings the tap needs.

    tap-zohocrm auth --client-id 1000.XXX --code 1000.abc... [--data-center eu] [--write-env .env]
    tap-zohocrm auth --org acme --client-id 1000.XXX --code 1000.abc... [--data-center eu]

The client secret comes from --client-secret, else TAP_ZOHOCRM_CLIENT_SECRET, else a prompt (so
it need not sit in the shell history). The grant code is exchanged at the data center's accounts
server (`grant_type=authorization_code`), the refresh token checked with one API call, and the
settings printed to stdout once, or written as TAP_ZOHOCRM_* lines to a .env file (mode 0600),
in which case stdout shows only the non-secret ones. Secrets never go to stderr or the log.

With --org, the org is added to a multi-org Meltano project (docs/multi-org.md): the extractor
`tap-zohocrm--<org>` (inherit_from: tap-zohocrm, schema zoho_<org>, its data center's servers)
goes to meltano.yml, its client id, client secret and refresh token to .env as
TAP_ZOHOCRM__<ORG>_* lines. An org that exists is refused before the grant code is used.
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
import yaml

from tap_zohocrm import data_centers
from tap_zohocrm.auth import meltano_project
from tap_zohocrm.auth.authenticator import CLIENT_ERRORS, client_error_message

API_VERSION = "v8"
SCOPES = ("ZohoCRM.modules.ALL,ZohoCRM.settings.ALL,ZohoCRM.users.READ,ZohoCRM.org.READ,"
          "ZohoCRM.bulk.READ,ZohoCRM.coql.READ")
SECRET_KEYS = ("client_secret", "refresh_token")
ENV_PREFIX = "TAP_ZOHOCRM"
# What an org keeps in .env; the rest of its settings are in meltano.yml.
ORG_ENV_KEYS = ("client_id", "client_secret", "refresh_token")
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
    org = p.add_argument_group("one org of many (docs/multi-org.md)")
    org.add_argument("--org", help="add the org to the Meltano project: the extractor "
                     "tap-zohocrm--ORG (inherit_from: tap-zohocrm, schema zoho_ORG, its data "
                     "center's servers) to meltano.yml, and its client id, client secret and "
                     "refresh token as TAP_ZOHOCRM__ORG_* lines to .env (or --write-env); "
                     "refused if meltano.yml has the org already")
    org.add_argument("--meltano-yml", metavar="PATH", help="the project file the org is added "
                     "to (default ./meltano.yml); its .env is beside it")
    org.add_argument("--edition", choices=list(meltano_project.EDITIONS),
                     help="the org's Zoho edition: the API concurrency its Airflow pool gets "
                     "(free 5, standard 10, professional 15, enterprise 20, ultimate 25)")
    org.add_argument("--max-api-credits", type=int, metavar="N",
                     help="the org's max_api_credits (a run stops cleanly before spending more)")
    org.add_argument("--api-credits-reserve", type=int, metavar="N",
                     help="the org's api_credits_reserve (credits left for the org's other "
                     "integrations today)")
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
    project = _org_project(args)
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
    if project is not None:
        add_org(args, project, settings, accounts, api_domain)
    elif args.write_env:
        path = write_env(Path(args.write_env), settings)
        _info(f"Wrote {', '.join(env_name(k) for k in settings)} to {path} (mode 0600).")
        public = {k: v for k, v in settings.items() if k not in SECRET_KEYS}
        print(render(public, args.format))
        print("# client_secret and refresh_token are in "
              f"{path}; `meltano` reads it from the project root.")
    else:
        print(render(settings, args.format))
    return settings


def _org_project(args: argparse.Namespace) -> Path | None:
    """meltano.yml when the org can be added to it (checked before the grant code is used, as
    a code works once), else None without --org."""
    if args.org is None:
        given = [name for name, value in (("--meltano-yml", args.meltano_yml),
                                          ("--edition", args.edition),
                                          ("--max-api-credits", args.max_api_credits),
                                          ("--api-credits-reserve", args.api_credits_reserve))
                 if value is not None]
        if given:
            verb = "goes" if len(given) == 1 else "go"
            raise AuthCommandError(f"{', '.join(given)} {verb} with --org: add --org NAME")
        return None
    name_error = meltano_project.org_name_error(args.org)
    if name_error:
        raise AuthCommandError(name_error)
    for name, value in (("--max-api-credits", args.max_api_credits),
                        ("--api-credits-reserve", args.api_credits_reserve)):
        if value is not None and value < 0:
            raise AuthCommandError(f"{name} must be 0 or more, got {value}")
    path = Path(args.meltano_yml or "meltano.yml")
    try:
        # The real settings come after the exchange; these show the org fits in the file.
        meltano_project.add_org(meltano_project.read_project(path),
                                _org_entry(args, "https://accounts.zoho.com",
                                           "https://www.zohoapis.com"), path)
    except meltano_project.ProjectError as exc:
        raise AuthCommandError(str(exc)) from None
    return path


def _org_entry(args: argparse.Namespace, accounts: str, api_domain: str) -> dict[str, Any]:
    # Both servers are written out, so the org never inherits another org's (the parent's
    # accounts_url / api_url, or an environment's) and its tokens go to its data center only.
    config: dict[str, Any] = {"data_center": args.data_center}
    if args.environment != "production":
        config["environment"] = args.environment
    config.update({"accounts_url": accounts, "api_url": api_domain})
    if args.max_api_credits is not None:
        config["max_api_credits"] = args.max_api_credits
    if args.api_credits_reserve is not None:
        config["api_credits_reserve"] = args.api_credits_reserve
    airflow = {"edition": args.edition} if args.edition else None
    return meltano_project.org_entry(args.org, config, airflow)


def add_org(args: argparse.Namespace, project: Path, settings: dict[str, str], accounts: str,
            api_domain: str) -> None:
    """The org's secrets to .env, then its extractor to meltano.yml (which makes it exist)."""
    extractor = meltano_project.org_extractor(args.org)
    prefix = meltano_project.env_prefix(extractor)
    env_path = Path(args.write_env) if args.write_env else project.parent / ".env"
    entry = _org_entry(args, accounts, api_domain)
    try:
        text = meltano_project.add_org(meltano_project.read_project(project), entry, project)
        write_env(env_path, {k: settings[k] for k in ORG_ENV_KEYS}, prefix=prefix)
        meltano_project.write_project(project, text)
    except meltano_project.ProjectError as exc:
        raise AuthCommandError(str(exc)) from None
    except OSError as exc:
        raise AuthCommandError(f"cannot write {exc.filename}: {exc.strerror}") from None
    _info(f"Wrote {', '.join(env_name(k, prefix) for k in ORG_ENV_KEYS)} to {env_path} "
          "(mode 0600).")
    _info(f"Added the extractor {extractor} to {project}: data center {args.data_center}, "
          f"API {api_domain}, schema {entry['load_schema']}.")
    # stdout: what meltano.yml got (no secret in it), and where the secrets are.
    if args.format == "json":
        print(json.dumps(entry, indent=2))
    else:
        print(f"# added to {project}:")
        print(yaml.safe_dump([entry], sort_keys=False, default_flow_style=False).rstrip())
    print(f"# client id, client secret and refresh token: {prefix}_* in {env_path}. Check "
          f"with `meltano config list {extractor}`; load with `meltano run {extractor} "
          "target-postgres`.")


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


def env_name(key: str, prefix: str = ENV_PREFIX) -> str:
    return f"{prefix}_{key.upper()}"


def _env_value(value: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9._:/@+-]*", value):
        return value
    return "'" + value.replace("'", "'\"'\"'") + "'"


def render(settings: dict[str, str], fmt: str, prefix: str = ENV_PREFIX) -> str:
    if fmt == "json":
        return json.dumps(settings, indent=2)
    return "\n".join(f"{env_name(k, prefix)}={_env_value(v)}" for k, v in settings.items())


def write_env(path: Path, settings: dict[str, str], prefix: str = ENV_PREFIX) -> Path:
    """Set these TAP_ZOHOCRM_* (or `prefix`_*) variables in a .env file, keeping its other
    lines; mode 0600."""
    lines: list[str] = []
    if path.exists():
        lines = path.read_text().splitlines()
    names = {env_name(k, prefix): v for k, v in settings.items()}
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
