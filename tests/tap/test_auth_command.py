"""`tap-zohocrm auth`: grant code exchange against the simulator's accounts server."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import requests

from tests.helpers import run_tap, tap_config
from zoho_simulator import Simulator

SCOPES = ("ZohoCRM.modules.ALL,ZohoCRM.settings.ALL,ZohoCRM.users.READ,ZohoCRM.org.READ,"
          "ZohoCRM.bulk.READ")


def auth(sim: Simulator, *args: str, env: dict[str, str] | None = None,
         cwd: Path | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "tap_zohocrm", "auth", "--client-id",
           sim.credentials["client_id"], "--accounts-url", sim.url, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})}, cwd=cwd)


def parse_env(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def secrets_of(sim: Simulator, code: str) -> list[str]:
    return [sim.credentials["client_secret"], code, *sim.oauth.access_tokens,
            *(t for t in sim.oauth.refresh_tokens if t != sim.credentials["refresh_token"])]


def test_grant_code_exchanged_checked_and_printed(sim) -> None:
    code = sim.issue_grant_code(SCOPES)
    sim.reset_stats()
    proc = auth(sim, "--code", code, "--data-center", "eu",
                env={"TAP_ZOHOCRM_CLIENT_SECRET": sim.credentials["client_secret"]})
    assert proc.returncode == 0, proc.stderr
    settings = parse_env(proc.stdout)
    refresh = settings["TAP_ZOHOCRM_REFRESH_TOKEN"]
    assert settings["TAP_ZOHOCRM_CLIENT_ID"] == sim.credentials["client_id"]
    assert settings["TAP_ZOHOCRM_CLIENT_SECRET"] == sim.credentials["client_secret"]
    assert settings["TAP_ZOHOCRM_DATA_CENTER"] == "eu"
    assert settings["TAP_ZOHOCRM_ACCOUNTS_URL"] == sim.url
    assert refresh in sim.oauth.refresh_tokens
    # One token request and one check call, nothing more.
    assert sim.stats()["token_requests"] == 1
    assert sim.stats()["by_endpoint"].get("GET /crm/v8/settings/modules") == 1
    assert "Checked" in proc.stderr
    assert proc.stdout.count(refresh) == 1
    for secret in [*secrets_of(sim, code)]:
        assert secret not in proc.stderr
    # The tap works with what was printed.
    run = run_tap(tap_config(sim, refresh_token=refresh, modules=["Leads"]), "--discover")
    assert run.returncode == 0, run.stderr[-2000:]


def test_invalid_grant_code_says_what_to_do(sim) -> None:
    proc = auth(sim, "--code", "1000.not.a.code", "--client-secret",
                sim.credentials["client_secret"])
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "invalid_code" in proc.stderr and "expired" in proc.stderr
    assert "Generate a new one" in proc.stderr
    assert "1000.not.a.code" not in proc.stderr
    assert sim.credentials["client_secret"] not in proc.stderr


def test_used_and_expired_codes_are_refused(sim) -> None:
    secret = ["--client-secret", sim.credentials["client_secret"]]
    code = sim.issue_grant_code(SCOPES)
    assert auth(sim, "--code", code, *secret).returncode == 0
    again = auth(sim, "--code", code, *secret)
    assert again.returncode == 1 and "already used" in again.stderr
    late = sim.issue_grant_code(SCOPES)
    sim.advance_clock(181)  # Self Client codes live 3 minutes by default
    expired = auth(sim, "--code", late, *secret)
    assert expired.returncode == 1 and "invalid_code" in expired.stderr


def test_wrong_client_secret_and_client_id(sim) -> None:
    code = sim.issue_grant_code(SCOPES)
    proc = auth(sim, "--code", code, "--client-secret", "wrong-secret-123")
    assert proc.returncode == 1
    assert "client secret" in proc.stderr and "wrong-secret-123" not in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "tap_zohocrm", "auth", "--client-id", "1000.NOPE",
         "--client-secret", sim.credentials["client_secret"], "--code", code,
         "--accounts-url", sim.url],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 1 and "--client-id" in proc.stderr


def test_scope_without_settings_fails_the_check(sim) -> None:
    code = sim.issue_grant_code("ZohoCRM.modules.ALL")
    proc = auth(sim, "--code", code, "--client-secret", sim.credentials["client_secret"])
    assert proc.returncode == 1
    assert "OAUTH_SCOPE_MISMATCH" in proc.stderr and "ZohoCRM.settings.ALL" in proc.stderr
    assert proc.stdout == ""


def test_write_env_file_0600_and_no_secrets_on_stdout(sim, tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("# mine\nOTHER=keep\nTAP_ZOHOCRM_REFRESH_TOKEN=old\n")
    env_file.chmod(0o644)
    code = sim.issue_grant_code(SCOPES)
    proc = auth(sim, "--code", code, "--client-secret", sim.credentials["client_secret"],
                "--api-url", sim.url, "--write-env", ".env", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    written = parse_env(env_file.read_text())
    refresh = written["TAP_ZOHOCRM_REFRESH_TOKEN"]
    assert refresh in sim.oauth.refresh_tokens
    assert written["OTHER"] == "keep" and "# mine" in env_file.read_text()
    assert written["TAP_ZOHOCRM_CLIENT_SECRET"] == sim.credentials["client_secret"]
    assert written["TAP_ZOHOCRM_API_URL"] == sim.url
    assert env_file.read_text().count("TAP_ZOHOCRM_REFRESH_TOKEN=") == 1
    # stdout: the non-secret settings only; stderr: nothing secret either.
    assert "TAP_ZOHOCRM_CLIENT_ID" in proc.stdout
    for secret in [refresh, *secrets_of(sim, code)]:
        assert secret not in proc.stdout
        assert secret not in proc.stderr
    # A new file is created 0600 too.
    fresh = tmp_path / "sub" / "new.env"
    proc = auth(sim, "--code", sim.issue_grant_code(SCOPES), "--client-secret",
                sim.credentials["client_secret"], "--write-env", str(fresh), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600
    assert "refresh_token" not in json.loads(proc.stdout.split("\n# ")[0])


def test_refresh_token_from_auth_grants_access(sim) -> None:
    code = sim.issue_grant_code(SCOPES)
    proc = auth(sim, "--code", code, "--client-secret", sim.credentials["client_secret"],
                "--format", "json", "--skip-check")
    assert proc.returncode == 0, proc.stderr
    settings = json.loads(proc.stdout)
    body = requests.post(f"{sim.url}/oauth/v2/token", data={
        "grant_type": "refresh_token", "client_id": settings["client_id"],
        "client_secret": settings["client_secret"], "refresh_token": settings["refresh_token"],
    }, timeout=10).json()
    assert "access_token" in body


def test_console_script_dispatches_auth_and_the_tap() -> None:
    script = Path(sys.executable).parent / "tap-zohocrm"
    assert script.exists(), "pip install -e . installs the tap-zohocrm console script"
    helped = subprocess.run([str(script), "auth", "--help"], capture_output=True, text=True,
                            timeout=60)
    assert helped.returncode == 0 and "grant code" in helped.stdout
    about = subprocess.run([str(script), "--about", "--format", "json"], capture_output=True,
                           text=True, timeout=60)
    assert about.returncode == 0, about.stderr
    assert "token_store" in json.loads(about.stdout)["settings"]["properties"]
    # The tap's own --help names the auth subcommand a newcomer needs first.
    tap_help = subprocess.run([str(script), "--help"], capture_output=True, text=True,
                              timeout=60)
    assert tap_help.returncode == 0, tap_help.stderr
    assert "tap-zohocrm auth" in tap_help.stdout and "--plan" in tap_help.stdout
