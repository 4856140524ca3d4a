"""Bulk Read (`/crm/bulk/{version}/read`): jobs, their page tokens and downloads. The criteria
are in bulk_criteria.py, the CSV and its zip in bulk_csv.py.

Shapes follow Zoho's v8 OAS (`bulk_read.json`) and the Bulk Read doc pages (create job, job
details, download result, limitations). Where the docs are silent the simulator picks one
behaviour and says so here, so that a client written against it knows what it relies on.

Jobs
* A job snapshots its records when it is created (later writes never change its file): every
  record of the module that matches the criteria, converted and unapproved leads included (Bulk
  Read has no `converted`/`approved` filters), sorted by id ascending, `bulk_page_size` (200,000
  unless configured) per page. Zoho's docs are silent on those records: the switches
  `bulk_skips_converted` and `bulk_skips_unapproved` leave converted Leads and records pending
  approval out of every export (the behaviour that would lose them).
* `bulk_refuses_fields` (API names): a job naming one in `fields` is FIELD_NOT_SUPPORTED, and an
  all-fields export has no column for it. `bulk_refuses_modules` (API names): a job of one is
  MODULE_NOT_SUPPORTED.
* States follow the simulated clock from the job's creation: ADDED for the first quarter of
  `bulk_job_seconds` (taken when the job is created), QUEUED until half of it, IN PROGRESS until
  all of it, then COMPLETED. `result` appears only once COMPLETED. A callback is validated but
  never called (poll instead). Jobs never fail and result files never expire.
* The zip is built in a background thread as soon as the job is created (a download waits for
  it): a 200,000-lead page takes seconds, which the client's polling then mostly hides.
* `query.page` N (1-50, OAS pattern) exports matching records N*size-size+1 .. N*size of the
  snapshot taken when that job is created. `result.next_page_token` (v7 on; the v2 docs have no
  page tokens) continues after the last id of the page: a job created with `query.page_token`
  (module, fields and criteria come from the token; if the body repeats them they must be equal)
  exports the next matching records with a greater id, as they are when that job is created.
  Tokens live 24 hours (simulated clock). `page` and `page_token` together are refused.

Errors (HTTP status, code); plain `{code, details, message, status}` objects as elsewhere:
  401 OAUTH_SCOPE_MISMATCH   neither ZohoCRM.bulk.READ nor ZohoCRM.bulk.ALL, or no module scope
  415 MEDIA_TYPE_NOT_SUPPORTED  POST without `Content-Type: application/json`
  400 REQUEST_BODY_IS_EMPTY / REQUEST_BODY_NOT_READABLE (not a JSON object)
  400 MANDATORY_NOT_FOUND    no query / no query.module (details.api_name)
  400 INVALID_MODULE         unknown module, or one the API does not serve (Home, Reports...)
  400 MODULE_NOT_SUPPORTED   Notes, Attachments, Emails, Activities (bulk-read limitations page;
                             code from the OAS `Module_Not_Supported` schema)
  403 NO_PERMISSION          the user's profile cannot read the module
  400 FIELD_NOT_AVAILABLE    unknown field (or `X.Y` with X not a lookup / Y not in its module)
  400 FIELD_NOT_SUPPORTED    subform, multi-select lookup, multi-user lookup, file/image upload
  400 INVALID_CRITERIA, GROUP_OPERATOR_NOT_SUPPORTED, CRITERIA_LIMIT_EXCEEDED (> 25),
      FIELD_IN_CRITERIA_NOT_AVAILABLE, FIELD_IN_CRITERIA_NOT_SUPPORTED,
      FIELD_AND_COMPARATOR_IN_CRITERIA_NOT_COMPATIBLE, FIELD_AND_VALUE_IN_CRITERIA_NOT_COMPATIBLE
  400 PAGE_RANGE_EXCEEDED (page > 50), INVALID_DATA (page, page_token, cvid, file_type),
      AMBIGUITY_DURING_PROCESSING (page with page_token), EXPIRED_VALUE and
      TOKEN_BOUND_DATA_MISMATCH (page tokens, as Get Records)
  400 INVALID_CALLBACK_URL / INVALID_CALLBACK_METHOD
  404 RESOURCE_NOT_FOUND     GET job details of an unknown job (OAS: 404)
  400 RESOURCE_NOT_FOUND     download of an unknown job, or of one not COMPLETED yet (OAS: 400)
  429 TOO_MANY_REQUESTS      the 11th download request within a minute; downloads then stay
                             blocked for a minute (every authenticated download request counts)
Custom views (`cvid`) are not simulated: any non-null cvid is INVALID_DATA. ICS export (Events)
is not simulated: `file_type: "ics"` is NOT_SUPPORTED_FEATURE for Events, INVALID_DATA otherwise.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import tempfile
import threading
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .api_types import BulkError, bulk_error
from .bulk_criteria import always, compile_criteria
from .bulk_csv import Column, choose_columns, write_zip
from .fields import ORG_PREFIX, meta_id
from .records import Rec, fmt_dt

if TYPE_CHECKING:
    from .org import Org
    from .records import ModuleData

DEFAULT_PAGE_SIZE = 200_000
MAX_PAGE = 50  # OAS `Query.page` pattern: 1..50
PAGE_TOKEN_TTL = 24 * 3600.0
DOWNLOADS_PER_MINUTE = 10
DOWNLOAD_BLOCK_SECONDS = 60.0
BULK_SCOPES = {"zohocrm.bulk.read", "zohocrm.bulk.all"}
# Known modules Bulk Read refuses (bulk-read limitations page); Activities is not in the list of
# bulk modules either.
UNSUPPORTED_MODULES = {"Notes", "Attachments", "Emails", "Activities"}


@dataclass
class BulkJob:
    id: str
    module: str
    version: float
    query: dict[str, Any]  # as echoed by Get Job Details
    columns: list[Column]
    recs: list[Rec]  # this page's records, id ascending
    page: int
    per_page: int
    more: bool
    created: float
    seconds: float
    created_by: dict[str, Any]
    token_query: dict[str, Any]  # module/fields/criteria a next page token carries
    next_token: str | None = None
    downloads: int = 0
    path: str | None = None  # the built zip
    size: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def state(self, now: float) -> str:
        elapsed = now - self.created
        if elapsed >= self.seconds:
            return "COMPLETED"
        if elapsed >= self.seconds / 2:
            return "IN PROGRESS"
        if elapsed >= self.seconds / 4:
            return "QUEUED"
        return "ADDED"


@dataclass
class BulkPageToken:
    last_id: int
    page: int  # page number of the job that issued it
    query: dict[str, Any]
    version: float
    created: float


class BulkRead:
    """Every bulk read job of the org, the page tokens and the download rate limit."""

    def __init__(self, org: Org, clock: Any, config: dict[str, Any]) -> None:
        self.org = org
        self.clock = clock
        self.config = config
        self.lock = threading.Lock()
        self.jobs: dict[str, BulkJob] = {}
        self.tokens: dict[str, BulkPageToken] = {}
        self.seq = 0
        self.downloads: deque[float] = deque()
        self.blocked_until = 0.0
        self.tmpdir = tempfile.mkdtemp(prefix="zoho-sim-bulk-")
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.tmpdir, True)

    def close(self) -> None:
        """Delete the built result files (rebuilt on the next download); the directory itself
        goes when the simulator is garbage-collected or the interpreter exits."""
        with self.lock:
            jobs = list(self.jobs.values())
        for job in jobs:
            if not job.lock.acquire(blocking=False):
                continue  # being built: its file goes with the directory
            try:
                if job.path is not None:
                    with contextlib.suppress(OSError):
                        os.remove(job.path)
                    job.path = None
            finally:
                job.lock.release()

    # ------------------------------------------------------------------ create
    def create(self, version: float, body: dict[str, Any], md_for: Callable[[str], ModuleData]
               ) -> BulkJob:
        """Validate a Create Bulk Read Job body and snapshot its records. `md_for` resolves
        and authorizes a module name (INVALID_MODULE / scope / NO_PERMISSION)."""
        now = self.clock.now()
        callback = body.get("callback")
        if callback is not None:
            _check_callback(callback)
        file_type = body.get("file_type", "csv")
        query = body.get("query")
        if query is None:
            raise bulk_error("MANDATORY_NOT_FOUND", "required field not found", api_name="query")
        if not isinstance(query, dict):
            raise bulk_error("INVALID_DATA", "invalid data", api_name="query")
        raw_token = query.get("page_token")
        token: BulkPageToken | None = None
        if raw_token is not None:
            token = self._token(version, query, raw_token, now)
            spec = {**token.query}
        else:
            spec = {k: query.get(k) for k in ("module", "fields", "criteria")}
        module_raw = spec.get("module")
        if module_raw is None:
            raise bulk_error("MANDATORY_NOT_FOUND", "required field not found", api_name="module")
        name = module_raw.get("api_name") if isinstance(module_raw, dict) else module_raw
        if not isinstance(name, str) or not name:
            raise bulk_error("INVALID_DATA", "invalid data", api_name="module")
        if name in UNSUPPORTED_MODULES or name in (self.config.get("bulk_refuses_modules") or ()):
            raise bulk_error("MODULE_NOT_SUPPORTED", "The given module is not supported for bulk "
                             "read", api_name=name)
        md = md_for(name)
        if md.spec.stored is False:
            raise bulk_error("MODULE_NOT_SUPPORTED", "The given module is not supported for bulk "
                             "read", api_name=name)
        if file_type not in ("csv", "ics"):
            raise bulk_error("INVALID_DATA", "invalid data", api_name="file_type")
        if file_type == "ics":
            if name != "Events":
                raise bulk_error("INVALID_DATA", "ics export is available for Events only",
                                 api_name="file_type")
            raise bulk_error("NOT_SUPPORTED_FEATURE", "ICS export is not simulated",
                             api_name="file_type")
        if query.get("cvid") is not None:
            raise bulk_error("INVALID_DATA", "the given cvid is invalid", api_name="cvid")
        with self.org.lock:
            by_api = md.by_api(version)
            all_fields = [f for f in md.fields if f.min_version <= version]
        refused = set(self.config.get("bulk_refuses_fields") or ())
        columns = choose_columns(self.org, md, by_api, all_fields, spec.get("fields"), refused)
        predicate = self._skipping(name, compile_criteria(spec.get("criteria"), by_api))
        size = int(self.config.get("bulk_page_size") or DEFAULT_PAGE_SIZE)
        raw_page = query.get("page")
        if token is not None:
            if raw_page is not None:
                raise BulkError(400, "AMBIGUITY_DURING_PROCESSING", "page and page_token "
                                "cannot be given together",
                                {"param_names": ["page", "page_token"]})
            page = token.page + 1
        else:
            page = 1 if raw_page is None else raw_page
            if type(page) is str and page.isdigit():
                page = int(page)
            if type(page) is not int or page < 1:
                raise bulk_error("INVALID_DATA", "invalid data", api_name="page")
            if page > MAX_PAGE:
                raise bulk_error("PAGE_RANGE_EXCEEDED", "page range exceeded", max_limit=MAX_PAGE)
        with self.org.lock:
            ordered = md.sorted_recs("id", False)
            if token is not None:
                last = token.last_id
                matching = [r for r in ordered if r.id > last and predicate(r)]
                start = 0
            else:
                matching = ordered if predicate is always else [r for r in ordered
                                                                 if predicate(r)]
                start = (page - 1) * size
            chunk = matching[start:start + size]
            more = len(matching) > start + size
            created_by = self.org.users.current_ref(email=False)
        echoed: dict[str, Any] = {
            "module": ({"id": meta_id(f"module.{name}"), "api_name": name}
                       if isinstance(module_raw, dict) else name),
            "page": page}
        for key in ("fields", "criteria"):
            if spec.get(key) is not None:
                echoed[key] = spec[key]
        if raw_token is not None:
            echoed["page_token"] = raw_token
        with self.lock:
            self.seq += 1
            job_id = f"{ORG_PREFIX}{9_100_000_000 + self.seq * 4003:012d}"
            job = BulkJob(
                id=job_id, module=name, version=version, query=echoed, columns=columns,
                recs=chunk, page=page, per_page=size, more=more, created=now,
                seconds=float(self.config.get("bulk_job_seconds", 1.0)),
                created_by={"id": created_by["id"], "name": created_by["name"]},
                token_query={"module": module_raw, "fields": spec.get("fields"),
                             "criteria": spec.get("criteria")})
            if more and version >= 7 and chunk:
                tok = secrets.token_hex(24)
                self.tokens[tok] = BulkPageToken(chunk[-1].id, page, job.token_query,
                                                 version, now)
                job.next_token = tok
            self.jobs[job_id] = job
        self.start_build(job)
        return job

    def _skipping(self, module: str, predicate: Callable[[Rec], bool]) -> Callable[[Rec], bool]:
        """The criteria, less the records the `bulk_skips_*` switches leave out."""
        converted = bool(self.config.get("bulk_skips_converted")) and module == "Leads"
        unapproved = bool(self.config.get("bulk_skips_unapproved"))
        if not (converted or unapproved):
            return predicate
        return lambda r: (not (converted and r.converted) and not (unapproved and not r.approved)
                          and predicate(r))

    def _token(self, version: float, query: dict[str, Any], raw: Any, now: float
               ) -> BulkPageToken:
        if version < 7 or not isinstance(raw, str):
            raise bulk_error("INVALID_DATA", "invalid data", api_name="page_token")
        with self.lock:
            tok = self.tokens.get(raw)
        if tok is None:
            raise bulk_error("INVALID_DATA", "invalid data", api_name="page_token")
        if now - tok.created > PAGE_TOKEN_TTL:
            raise bulk_error("EXPIRED_VALUE", "The given page_token has expired",
                             api_name="page_token")
        for key in ("module", "fields", "criteria"):
            given = query.get(key)
            if given is None:
                continue
            bound = tok.query.get(key)
            same = (_module_name(given) == _module_name(bound)) if key == "module" \
                else given == bound
            if not same:
                raise bulk_error("TOKEN_BOUND_DATA_MISMATCH", "The given page_token is bound to "
                                 "different request data", api_name=key)
        return tok

    # ------------------------------------------------------------------ read
    def get(self, job_id: str) -> BulkJob | None:
        with self.lock:
            return self.jobs.get(job_id)

    def details(self, job: BulkJob, version_label: str) -> dict[str, Any]:
        now = self.clock.now()
        state = job.state(now)
        out: dict[str, Any] = {
            "id": job.id, "operation": "read", "state": state, "query": json.loads(
                json.dumps(job.query)),
            "created_by": dict(job.created_by), "created_time": fmt_dt(job.created)}
        if state == "COMPLETED":
            result: dict[str, Any] = {
                "page": job.page, "per_page": job.per_page, "count": len(job.recs),
                "download_url": f"/crm/bulk/{version_label}/read/{job.id}/result",
                "more_records": job.more}
            if job.version >= 7:
                result["next_page_token"] = job.next_token
            out["result"] = result
        out["file_type"] = "csv"
        return out

    def created_details(self, job: BulkJob) -> dict[str, Any]:
        return {"id": job.id, "operation": "read", "state": "ADDED",
                "created_by": dict(job.created_by), "created_time": fmt_dt(job.created)}

    def allow_download(self) -> bool:
        """Count one download request against the org's 10 per minute."""
        now = self.clock.now()
        with self.lock:
            if now < self.blocked_until:
                return False
            while self.downloads and self.downloads[0] <= now - 60.0:
                self.downloads.popleft()
            if len(self.downloads) >= DOWNLOADS_PER_MINUTE:
                self.blocked_until = now + DOWNLOAD_BLOCK_SECONDS
                self.downloads.clear()
                return False
            self.downloads.append(now)
            return True

    def start_build(self, job: BulkJob) -> None:
        """Build the job's zip in the background while the job "runs", so that a client that
        polls and then downloads waits for the longer of the two, not for both."""
        threading.Thread(target=self._build_quietly, args=(job,), daemon=True,
                         name=f"bulk-read-{job.id}").start()

    def _build_quietly(self, job: BulkJob) -> None:
        with contextlib.suppress(Exception):  # the download builds it again and reports
            self._ensure_file(job)

    def _ensure_file(self, job: BulkJob) -> tuple[str, int]:
        with job.lock:
            if job.path is None:
                os.makedirs(self.tmpdir, exist_ok=True)
                path = os.path.join(self.tmpdir, f"{job.id}.zip")
                write_zip(self.org, job.id, job.columns, job.recs, path)
                job.path, job.size = path, os.path.getsize(path)
            return job.path, job.size

    def result_file(self, job: BulkJob) -> tuple[str, int]:
        """The job's zip (waits for its build)."""
        path, size = self._ensure_file(job)
        with self.lock:
            job.downloads += 1
        return path, size

    def summary(self) -> list[dict[str, Any]]:
        now = self.clock.now()
        with self.lock:
            jobs = list(self.jobs.values())
        return [{"id": j.id, "module": j.module, "state": j.state(now), "count": len(j.recs),
                 "page": j.page, "more_records": j.more, "next_page_token": j.next_token,
                 "created_time": fmt_dt(j.created), "downloads": j.downloads,
                 "columns": [c[0] for c in j.columns], "query": json.loads(json.dumps(j.query))}
                for j in jobs]


def _module_name(value: Any) -> Any:
    return value.get("api_name") if isinstance(value, dict) else value


def _check_callback(callback: Any) -> None:
    if not isinstance(callback, dict):
        raise bulk_error("INVALID_CALLBACK_URL", "the callback URL is invalid", api_name="callback")
    url = callback.get("url")
    if not isinstance(url, str) or not re.match(r"^https?://[^\s/]+", url):
        raise bulk_error("INVALID_CALLBACK_URL", "the callback URL is invalid", api_name="url")
    method = callback.get("method")
    if not isinstance(method, str) or method.lower() != "post":
        raise bulk_error("INVALID_CALLBACK_METHOD", "the callback method is invalid",
                         api_name="method")

