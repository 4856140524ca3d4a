"""`tap-zohocrm auth --org`: an org added to a Meltano project (docs/multi-org.md), over the
real command and the simulator's accounts server; Meltano itself reads what it wrote."""

from __future__ import annotations

import difflib
import json
import os
import re
import stat
import subprocess
from pathlib import Path

import yaml

from tests.helpers import PLUGIN_ENV_PREFIXES, ROOT, meltano_bin
from tests.tap.test_auth_command import SCOPES, auth, parse_env, secrets_of
from zoho_simulator import Simulator

ORG_ENV = ("CLIENT_ID", "CLIENT_SECRET", "REFRESH_TOKEN")


def project(tmp_path: Path) -> Path:
    """A copy of this repository's meltano.yml (comments, generated block, environments)."""
    (tmp_path / "meltano.yml").write_text((ROOT / "meltano.yml").read_text())
    return tmp_path / "meltano.yml"


def add_org(sim: Simulator, tmp_path: Path, org: str, *args: str,
            code: str | None = None) -> subprocess.CompletedProcess:
    return auth(sim, "--org", org, "--code", code or sim.issue_grant_code(SCOPES),
                "--client-secret", sim.credentials["client_secret"], *args, cwd=tmp_path)


def extractor(meltano_yml: Path, name: str) -> dict:
    data = yaml.safe_load(meltano_yml.read_text())
    return next(e for e in data["plugins"]["extractors"] if e["name"] == name)


def test_org_goes_to_meltano_yml_and_its_secrets_to_env(sim, tmp_path: Path) -> None:
    meltano_yml = project(tmp_path)
    before = meltano_yml.read_text()
    env_file = tmp_path / ".env"
    env_file.write_text("# mine\nOTHER=keep\nTAP_ZOHOCRM_REFRESH_TOKEN=the-base-orgs\n")
    code = sim.issue_grant_code(SCOPES)
    proc = add_org(sim, tmp_path, "acme", "--data-center", "eu", "--edition", "professional",
                   "--max-api-credits", "5000", "--api-credits-reserve", "1000", code=code)
    assert proc.returncode == 0, proc.stderr

    # meltano.yml: the old text, line for line, with the org's lines added after the last
    # extractor (after the base's generated block, whose end marker stays with it).
    after = meltano_yml.read_text()
    changes = difflib.SequenceMatcher(a=before.splitlines(), b=after.splitlines(),
                                      autojunk=False).get_opcodes()
    assert [op for op, *_ in changes if op != "equal"] == ["insert"], changes
    assert after.index("    # <<< generated") < after.index("- name: tap-zohocrm--acme") < \
        after.index("  loaders:")
    org = extractor(meltano_yml, "tap-zohocrm--acme")
    assert org == {
        "name": "tap-zohocrm--acme", "inherit_from": "tap-zohocrm", "load_schema": "zoho_acme",
        "config": {"data_center": "eu", "accounts_url": sim.url, "api_url": sim.url,
                   "max_api_credits": 5000, "api_credits_reserve": 1000},
        "annotations": {"airflow": {"edition": "professional"}},
    }

    # .env: the org's client and refresh token under Meltano's names for the extractor, the
    # user's lines (and the base org's) kept, mode 0600.
    written = parse_env(env_file.read_text())
    refresh = written["TAP_ZOHOCRM__ACME_REFRESH_TOKEN"]
    assert refresh in sim.oauth.refresh_tokens and refresh != sim.credentials["refresh_token"]
    assert written["TAP_ZOHOCRM__ACME_CLIENT_ID"] == sim.credentials["client_id"]
    assert written["TAP_ZOHOCRM__ACME_CLIENT_SECRET"] == sim.credentials["client_secret"]
    assert written["OTHER"] == "keep" and written["TAP_ZOHOCRM_REFRESH_TOKEN"] == "the-base-orgs"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600

    # No secret in meltano.yml, on stdout or on stderr.
    for secret in [refresh, *secrets_of(sim, code)]:
        assert secret not in after
        assert secret not in proc.stdout
        assert secret not in proc.stderr
    assert "- name: tap-zohocrm--acme" in proc.stdout and "TAP_ZOHOCRM__ACME_*" in proc.stdout


def test_an_org_that_exists_is_refused_before_the_code_is_used(sim, tmp_path: Path) -> None:
    meltano_yml = project(tmp_path)
    assert add_org(sim, tmp_path, "acme").returncode == 0
    files = {p: p.read_bytes() for p in (meltano_yml, tmp_path / ".env")}
    code = sim.issue_grant_code(SCOPES)
    sim.reset_stats()
    again = add_org(sim, tmp_path, "acme", "--data-center", "eu", code=code)
    assert again.returncode == 1 and again.stdout == ""
    assert again.stderr.count("\n") == 1, again.stderr  # one line
    assert "org 'acme' exists" in again.stderr and "tap-zohocrm--acme" in again.stderr
    assert {p: p.read_bytes() for p in files} == files
    # The grant code was not spent: it still gives a refresh token to another org.
    assert sim.stats()["token_requests"] == 0
    other = add_org(sim, tmp_path, "beta", code=code)
    assert other.returncode == 0, other.stderr


def test_bad_input_is_one_line_saying_what_to_fix(sim, tmp_path: Path) -> None:
    cases = [
        (["--org", "Acme-1"], "lowercase letters, digits and _"),
        (["--org", "acme", "--meltano-yml", "nowhere/meltano.yml"], "no meltano.yml at"),
        (["--org", "acme", "--max-api-credits", "-5"], "--max-api-credits must be 0 or more"),
        (["--edition", "free"], "--edition goes with --org"),
    ]
    project(tmp_path)
    (tmp_path / "other.yml").write_text("version: 1\nplugins:\n  loaders: []\n")
    cases.append((["--org", "acme", "--meltano-yml", "other.yml"], "no plugins.extractors"))
    (tmp_path / "base.yml").write_text(
        "version: 1\nplugins:\n  extractors:\n  - name: tap-other\n")
    cases.append((["--org", "acme", "--meltano-yml", "base.yml"], "no extractor tap-zohocrm"))
    sim.reset_stats()
    for args, message in cases:
        proc = auth(sim, *args, "--code", sim.issue_grant_code(SCOPES), "--client-secret",
                    sim.credentials["client_secret"], cwd=tmp_path)
        assert proc.returncode == 1, (args, proc.stderr)
        assert proc.stderr.count("\n") == 1 and message in proc.stderr, (args, proc.stderr)
        assert sim.credentials["client_secret"] not in proc.stderr
    assert sim.stats()["token_requests"] == 0  # no code spent on any of them
    assert not (tmp_path / ".env").exists()


def test_meltano_reads_each_orgs_settings_and_never_the_base_orgs_servers(
        make_simulator, tmp_path: Path) -> None:
    """`meltano config` sees each org's secrets from .env and its own servers, although the base
    extractor has credentials and (in the dev environment) servers of its own."""
    meltano_yml = project(tmp_path)
    sims = {"acme": make_simulator(seed=51), "beta": make_simulator(seed=52)}
    (tmp_path / ".env").write_text(
        "TAP_ZOHOCRM_CLIENT_ID=base-client\nTAP_ZOHOCRM_CLIENT_SECRET=base-secret\n"
        "TAP_ZOHOCRM_REFRESH_TOKEN=base-refresh\nTAP_ZOHOCRM_API_URL=https://base.example\n")
    for org, sim in sims.items():
        proc = auth(sim, "--org", org, "--code", sim.issue_grant_code(SCOPES),
                    "--client-secret", sim.credentials["client_secret"], "--meltano-yml",
                    str(meltano_yml), cwd=ROOT)  # --meltano-yml from elsewhere: .env beside it
        assert proc.returncode == 0, proc.stderr
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(PLUGIN_ENV_PREFIXES) and k not in (
               "MELTANO_PROJECT_ROOT", "MELTANO_ENVIRONMENT")}
    env.update({"MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
                # The dev environment points the base extractor at this "simulator".
                "ZOHO_SIMULATOR_URL": "http://127.0.0.1:9"})
    dotenv = parse_env((tmp_path / ".env").read_text())

    def meltano(*args: str) -> str:
        proc = subprocess.run([meltano_bin(), "--environment", "dev", *args], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc.stdout

    for org, sim in sims.items():
        name, prefix = f"tap-zohocrm--{org}", f"TAP_ZOHOCRM__{org.upper()}"
        listed = meltano("config", "list", name)
        for key in ORG_ENV:
            assert re.search(rf"{key.lower()} \[env: {prefix}_{key}\] current value: .* \(from "
                             rf"the {prefix}_{key} variable in `\.env`\)", listed), listed
        assert dotenv[f"{prefix}_REFRESH_TOKEN"] not in listed  # redacted
        config = json.loads(meltano("config", "--unsafe", "print", name))
        assert {k: config[k] for k in ("client_id", "client_secret", "refresh_token")} == {
            k.lower(): dotenv[f"{prefix}_{k}"] for k in ORG_ENV}
        assert dotenv[f"{prefix}_REFRESH_TOKEN"] in sim.oauth.refresh_tokens
        assert config["accounts_url"] == config["api_url"] == sim.url
        extras = meltano("config", "list", "--extras", name)
        assert f"_load_schema [env: {prefix}__LOAD_SCHEMA]" in extras
        assert f"current value: 'zoho_{org}' (from `meltano.yml`)" in extras
    assert sims["acme"].url != sims["beta"].url


def test_the_documented_project_and_env_read_in_meltano(tmp_path: Path) -> None:
    """docs/multi-org.md's meltano.yml and .env: each org's secrets, servers, credit budget and
    schema as Meltano resolves them; the shared token store inherited."""
    doc = (ROOT / "docs" / "multi-org.md").read_text()
    (tmp_path / "meltano.yml").write_text(doc.split("```yaml\n", 1)[1].split("```", 1)[0])
    dotenv = doc.split("```bash\nTAP_ZOHOCRM__ACME_CLIENT_ID", 1)[1].split("```", 1)[0]
    (tmp_path / ".env").write_text("TAP_ZOHOCRM__ACME_CLIENT_ID" + dotenv)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(PLUGIN_ENV_PREFIXES) and not k.startswith("MELTANO_")}
    env["MELTANO_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    config = {}
    for org in ("acme", "globex", "initech"):
        proc = subprocess.run([meltano_bin(), "config", "--unsafe", "print",
                               f"tap-zohocrm--{org}"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        config[org] = json.loads(proc.stdout)
    assert config["globex"]["client_id"] == config["acme"]["client_id"] == "1000.AAAA..."
    assert config["initech"]["client_id"] == "1000.BBBB..."
    assert {o: c["api_url"] for o, c in config.items()} == {
        "acme": "https://www.zohoapis.com", "globex": "https://www.zohoapis.eu",
        "initech": "https://sandbox.zohoapis.in"}
    assert {o: (c.get("max_api_credits"), c["api_credits_reserve"]) for o, c in
            config.items()} == {"acme": (50000, 2000), "globex": (20000, 5000),
                                "initech": (None, 2000)}
    assert {c["token_store"] for c in config.values()} == {
        "postgresql+psycopg://tokens:...@db.internal/zoho_tokens"}
