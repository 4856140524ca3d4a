"""Exchanges with the simulator checked against Zoho's own OpenAPI files (v8).

The files (shared/reference/zoho-crm-oas-v8, one per API area) refer to each other by URL
(`https://.../v8.0/common.json#/components/schemas/...`). `load_spec` merges them into one
document: each file's components are renamed `<file>__<name>` and every `$ref` points into the
merged document. A reference to a file that is not there (tags.json, custom_views.json) becomes
an empty schema: anything goes.

`check` validates, with openapi-core, each v8 request the tap sent (path, query parameters,
headers) and each answer the simulator gave (status, headers, body). openapi-core does not
flag query parameters or headers an operation does not declare; `check` does, since a
parameter Zoho does not document is exactly what this layer is for.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema.exceptions import best_match
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.paths.exceptions import PathError
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_schema_validator import OAS30Validator
from werkzeug.datastructures import Headers, ImmutableMultiDict

from zoho_simulator.exchanges import Exchange

OAS_DIR = Path(os.environ.get(
    "ZOHO_OAS_DIR",
    Path(__file__).resolve().parents[2] / "shared" / "reference" / "zoho-crm-oas-v8"))
if not OAS_DIR.is_dir():  # a worktree beside /work/main: shared/ is /work/shared
    OAS_DIR = Path("/work/shared/reference/zoho-crm-oas-v8")
HOST = "https://www.zohoapis.com"
V8_PATH = re.compile(r"^/crm/(bulk/)?v8/")
# Headers of HTTP itself, which the files leave out; Authorization is checked here instead
# (the files' oauth2 scheme is one openapi-core cannot check).
TRANSPORT_HEADERS = {"host", "user-agent", "accept", "accept-encoding", "connection",
                     "content-length", "content-type", "authorization"}
REF = re.compile(r"^(?:https?://[^#]*/(?P<file>[A-Za-z_]+)\.json)?#/components/(?P<kind>\w+)/"
                 r"(?P<name>.+)$")


# ------------------------------------------------------------------ the merged spec


def _rewrite(node: Any, stem: str, files: set[str], missing: set[str]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            m = REF.match(ref)
            if m is None:
                raise ValueError(f"{stem}.json: a $ref this loader cannot follow: {ref}")
            target = m["file"] or stem
            if target not in files:
                missing.add(f"{target}.json")
                return {}
            return {"$ref": f"#/components/{m['kind']}/{target}__{m['name']}"}
        # The files answer `oneOf: [<the data>, API_Exception]`, and API_Exception requires
        # no key: a good answer matches both branches, which oneOf refuses. anyOf is meant.
        return {"anyOf" if k == "oneOf" else k: _rewrite(v, stem, files, missing)
                for k, v in node.items()}
    if isinstance(node, list):
        return [_rewrite(v, stem, files, missing) for v in node]
    return node


def merged_spec(oas_dir: Path = OAS_DIR) -> tuple[dict[str, Any], set[str]]:
    """One OpenAPI document from every file of `oas_dir`, and the files referred to but absent."""
    docs = {p.stem: json.loads(p.read_text()) for p in sorted(oas_dir.glob("*.json"))}
    if not docs:
        raise FileNotFoundError(f"no Zoho OpenAPI files in {oas_dir}")
    missing: set[str] = set()
    paths: dict[str, Any] = {}
    components: dict[str, dict[str, Any]] = {}
    for stem, doc in docs.items():
        doc = _rewrite(doc, stem, set(docs), missing)
        for kind, items in doc.get("components", {}).items():
            if kind == "securitySchemes":
                continue
            for name, item in items.items():
                components.setdefault(kind, {})[f"{stem}__{name}"] = item
        for route, item in doc.get("paths", {}).items():
            if route == "/":  # common.json's placeholder
                continue
            if route in paths:
                raise ValueError(f"{route} is in two files")
            # Security is the oauth2 scheme openapi-core does not check; see check_auth.
            paths[route] = {m: _success_only(op) if isinstance(op, dict) else op
                            for m, op in item.items()}
    spec = {"openapi": "3.0.0", "info": {"title": "Zoho CRM v8 (merged)", "version": "8"},
            "servers": [{"url": HOST}], "paths": paths, "components": components}
    return spec, missing


def _success_only(operation: dict[str, Any]) -> dict[str, Any]:
    """An operation without `security` (the oauth2 scheme openapi-core does not check; see
    check_request) and with its 2xx answers stripped of their error branch: `anyOf: [data,
    API_Exception]` lets any object through where API_Exception requires no key, and Zoho
    answers a GET's errors with 4xx (checked against the error envelope)."""
    operation = {k: v for k, v in operation.items() if k != "security"}
    for status, answer in operation.get("responses", {}).items():
        if not status.startswith("2"):
            continue
        for media in answer.get("content", {}).values():
            schema = media.get("schema", {})
            branches = schema.get("anyOf")
            if branches:
                kept = [b for b in branches if not b.get("$ref", "").endswith("Exception")]
                if kept:
                    media["schema"] = {**schema, "anyOf": kept}
    return operation


@cache
def openapi() -> OpenAPI:
    spec, _ = merged_spec()
    # Zoho's files are not all valid OpenAPI (spec validation would refuse them); the
    # exchanges are what is checked.
    return OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))


# ------------------------------------------------------------------ exchanges


@dataclass
class _Request:
    host_url: str
    path: str
    method: str
    parameters: RequestParameters
    body: bytes | None = None
    content_type: str = "application/json"


@dataclass
class _Response:
    status_code: int
    headers: Headers
    data: bytes | None
    content_type: str


@dataclass
class Mismatch:
    """One way an exchange differs from the files: `side` is request or response."""
    side: str
    operation: str  # "GET /crm/v8/{module_api_name}" or the path when no operation matched
    what: str  # a short, stable description (allow-list entries match on it)
    exchange: Exchange = field(repr=False)

    def __str__(self) -> str:
        e = self.exchange
        query = "&".join(f"{k}={v}" for k, vs in e.query.items() for v in vs)
        return (f"{self.side} {self.operation}: {self.what}\n"
                f"    sent: {e.method} {e.path}{'?' + query if query else ''} -> {e.status}")


def _request_of(e: Exchange) -> _Request:
    params = RequestParameters(
        query=ImmutableMultiDict([(k, v) for k, vs in e.query.items() for v in vs]),
        header=Headers(list(e.headers.items())))
    ctype = (e.headers.get("Content-Type") or "").lower()
    return _Request(HOST, e.path, e.method.lower(), params, e.request_body or None, ctype)


# Items of a list in an answer that are checked: a records page holds up to 200 of one shape,
# and validating every one made the tap tests about a quarter slower. The first ones and the
# last one are checked.
CHECKED_ITEMS = 4


def _trimmed(body: bytes | None) -> bytes | None:
    try:
        doc = json.loads(body) if body else None
    except ValueError:
        return body
    if not isinstance(doc, dict) or not any(
            isinstance(v, list) and len(v) > CHECKED_ITEMS for v in doc.values()):
        return body
    return json.dumps({k: [*v[:CHECKED_ITEMS - 1], v[-1]]
                       if isinstance(v, list) and len(v) > CHECKED_ITEMS else v
                       for k, v in doc.items()}).encode()


def _response_of(e: Exchange) -> _Response:
    headers = Headers(list(e.response_headers.items()))
    ctype = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
    return _Response(e.status, headers, _trimmed(e.body), ctype)


def _leaves(error: Any) -> list[Any]:
    """The schema errors that say what is wrong: through anyOf to the branch that got
    furthest (jsonschema's best match), then every error of that branch."""
    if not error.context:
        return [error]
    branch = best_match(error.context).relative_schema_path[0]
    found: list[Any] = []
    for inner in error.context:
        if inner.relative_schema_path[0] == branch:
            found.extend(_leaves(inner))
    return found


def _describe(error: BaseException) -> list[str]:
    """openapi-core's error as stable lines: where in the body (array indices as *), what."""
    cause: BaseException | None = error
    while cause is not None:
        schema_errors = getattr(cause, "schema_errors", None)
        if schema_errors:
            lines = set()
            for deep in (leaf for err in schema_errors for leaf in _leaves(err)):
                where = "/".join("*" if isinstance(p, int) else str(p)
                                 for p in deep.absolute_path)
                message = deep.message
                if len(message) > 200:  # the value itself is in the message: say its type
                    message = (f"{type(deep.instance).__name__} fails {deep.validator}: "
                               f"{deep.validator_value!r}")
                lines.add(f"{where or '(body)'}: {_short(message)}")
            return sorted(lines)
        cause = cause.__cause__ or cause.__context__
    return [_short(f"{type(error).__name__}: {error}")]


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _declared(route_item: Any, operation: Any) -> dict[str, set[str]]:
    """Parameter names an operation declares, by location (path item's and its own)."""
    names: dict[str, set[str]] = {}
    for holder in (route_item, operation):
        if "parameters" not in holder:
            continue
        for param in holder / "parameters":
            where, name = (param / "in").read_str(), (param / "name").read_str()
            names.setdefault(where, set()).add(name.lower() if where == "header" else name)
    return names


def _envelope_errors(e: Exchange) -> list[str]:
    """An answer with a status its operation does not declare: the error envelope every
    operation shares (common.json API_Exception), checked instead."""
    if e.status < 400 or not e.body:
        return []
    try:
        body = json.loads(e.body)
    except ValueError:
        return ["(body): not JSON"]
    return [f"error envelope: {_short(err.message)}"
            for err in _envelope_validator().iter_errors(body)]


@cache
def _envelope_validator() -> Any:
    spec, _ = merged_spec()
    return OAS30Validator(spec["components"]["schemas"]["common__API_Exception"])


# Checks are pure functions of the exchange: the same metadata answers come back in many
# tests, so each distinct request and answer is checked once per session.
_request_seen: dict[tuple[Any, ...], list[tuple[str, str]]] = {}
_response_seen: dict[tuple[Any, ...], list[tuple[str, str]]] = {}


def _request_key(e: Exchange) -> tuple[Any, ...]:
    auth = (e.headers.get("Authorization") or "").startswith("Zoho-oauthtoken ")
    headers = tuple(sorted((k.lower(), v) for k, v in e.headers.items()
                           if k.lower() not in TRANSPORT_HEADERS))
    return (e.method, e.path, tuple(sorted((k, tuple(v)) for k, v in e.query.items())),
            headers, auth, e.request_body)


def _response_key(e: Exchange) -> tuple[Any, ...]:
    return (e.method, e.path, e.status, tuple(sorted(e.response_headers.items())),
            hashlib.sha1(e.body or b"").digest())


def check(exchanges: Iterable[Exchange]) -> list[Mismatch]:
    """Every way the v8 exchanges differ from Zoho's files."""
    found: list[Mismatch] = []
    for e in exchanges:
        if not V8_PATH.match(e.path):
            continue
        for key, seen, side, run in ((_request_key(e), _request_seen, "request", _check_request),
                                     (_response_key(e), _response_seen, "response",
                                      _check_response)):
            if key not in seen:
                seen[key] = run(e)
            found.extend(Mismatch(side, operation, what, e) for operation, what in seen[key])
    return found


def _find(e: Exchange) -> tuple[str, Any] | None:
    try:
        where = openapi().request_validator.path_finder.find(e.method.lower(), HOST + e.path)
    except PathError:
        return None
    return f"{e.method} {where.path_result.pattern}", where


def _check_request(e: Exchange) -> list[tuple[str, str]]:
    api = openapi()
    found_op = _find(e)
    if found_op is None:
        return [(f"{e.method} {e.path}", "no operation in the files")]
    operation, where = found_op
    out: list[tuple[str, str]] = []
    declared = _declared(where.path, where.operation)
    out += [(operation, f"undeclared query parameter {name}")
            for name in sorted(set(e.query) - declared.get("query", set()))]
    out += [(operation, f"undeclared header {name}") for name in sorted(e.headers)
            if name.lower() not in TRANSPORT_HEADERS
            and name.lower() not in declared.get("header", set())]
    if not (e.headers.get("Authorization") or "").startswith("Zoho-oauthtoken "):
        out.append((operation, "no Zoho-oauthtoken Authorization"))
    for err in api.iter_request_errors(_request_of(e)):
        out += [(operation, line) for line in _describe(err)]
    return out


def _check_response(e: Exchange) -> list[tuple[str, str]]:
    found_op = _find(e)
    if found_op is None or e.body is None:  # no operation (the request says so); a file
        return []
    operation, _ = found_op
    out: list[tuple[str, str]] = []
    for err in openapi().iter_response_errors(_request_of(e), _response_of(e)):
        if isinstance(err, ResponseNotFound):
            out += [(operation, line) for line in _envelope_errors(e)]
        out += [(operation, line) for line in _describe(err)]
    return out


# ------------------------------------------------------------------ what is allowed, and why


@dataclass(frozen=True)
class Allowed:
    """A known difference: `what` is a regular expression on Mismatch.what."""
    side: str
    operation: str
    what: str
    why: str

    def covers(self, m: Mismatch) -> bool:
        return (self.side == m.side and self.operation in ("*", m.operation)
                and re.fullmatch(self.what, m.what) is not None)


REQUIRED = r"'[^']+' is a required property"
# Each entry: the file is wrong (Zoho's prose docs or samples say otherwise), or the tap sends
# what the file leaves out on purpose. docs/zoho-openapi-differences.md has the long form.
ALLOWED: list[Allowed] = [
    Allowed("response", "*",
            r"ResponseNotFound: Unknown response http status: (204|304|400|401|403|404|429|5\d\d)",
            "The files declare 200 (a few 204/404) only. Zoho's prose docs document 304 and 204 "
            "for If-Modified-Since, the 4xx error envelopes, 429 and 5xx; the envelope of such "
            "an answer is still checked (common.json API_Exception)."),
    Allowed("response", "*", r"\S+: None (for not nullable|is not of type '\w+')",
            "The files leave out `nullable`: Zoho's samples answer null for a value not set "
            "(previous_page_token, modified_by, Reporting_To, a note's title)."),
    Allowed("response", "*", r"\S+: '.*' does not match '.*'",
            "Patterns copied from one sample value (an e-mail of 9 letters at 5 letters, a "
            "first name in ASCII); Zoho's data is any text."),
    Allowed("response", "*", r"\S+: '.*' is not one of \['[^']*'\]",
            "One-value enums copied from a sample (date_format 'MMM d, yyyy', number_separator "
            "'Space'); users choose these."),
    Allowed("response", "GET /crm/v8/settings/modules",
            r"modules/\*/generated_type: 'subform' is not one of .*",
            "Zoho's module docs list generated_type subform; the file's enum leaves it out."),
    Allowed("response", "GET /crm/v8/users", rf"users/\*/\w+: {REQUIRED}",
            "The file requires first_name and last_name in Created_By/Modified_By; Zoho's "
            "samples give name and id."),
    Allowed("response", "GET /crm/v8/settings/fields", rf"fields/\*(/\w+)*: {REQUIRED}",
            "The file marks all ~80 keys of a field required (the misspelt "
            "file_upolad_optionlist too); Zoho's samples carry the keys of each data type."),
    Allowed("response", "GET /crm/v8/settings/modules", rf"modules/\*: {REQUIRED}",
            "The file marks every key of the single-module answer required (and a key "
            "'common.search_supported'); the list call's sample carries a summary of each."),
    Allowed("response", "GET /crm/v8/settings/profiles",
            r"profiles/\*: '(permissions_details|sections)' is a required property",
            "Permission details come with GET settings/profiles/{id}; the list gives summaries."),
    Allowed("response", "GET /crm/v8/{module}/{record_id}/Attachments",
            rf"data/\*: {REQUIRED}",
            "The tap asks `fields` (the file lists it); the answer carries those keys, while the "
            "file marks every key required ($editable, $file_id, $link_url...)."),
    Allowed("request", "GET /crm/v8/settings/recycle_bin",
            r"MissingRequiredParameter: Missing required query parameter: (filters|ids)",
            "The file gives the list call the `filters` and `ids` of the delete call, marked "
            "required; Zoho's Get Recycle Bin Records docs list both as optional and show a "
            "call with neither."),
    Allowed("response", "GET /crm/v8/Notes", rf"data/\*: {REQUIRED}",
            "The tap asks `fields` in groups of at most 50; the answer carries those, while the "
            "file marks every key of a note required."),
    Allowed("response", "GET /crm/v8/users", r"users/\*/time_zone: '[^']+' is not of type 'object'",
            "time_zone is an IANA name (a string) in Zoho's Get Users samples; the file says "
            "object."),
    Allowed("response", "GET /crm/v8/Notes",
            r"info/(previous|next)_page_token: None for not nullable",
            "Zoho's Get Notes sample: next_page_token and previous_page_token null on the last "
            "page."),
    Allowed("response", "GET /crm/v8/{module_api_name}",
            r"info/(previous|next)_page_token: None for not nullable",
            "Zoho's Get Records sample: previous_page_token null on the first page."),
    Allowed("response", "GET /crm/v8/settings/roles",
            r"roles/\*/forecast_manager: None for not nullable",
            "A role without a forecast manager: the simulator answers null, the file's object is "
            "not nullable; no sample here settles it (the tap reads either)."),
    Allowed("response", "GET /crm/bulk/v8/read/{job_id}",
            r"data/\*: 'result' is a required property",
            "Zoho's Bulk Read docs: `result` comes once the job is COMPLETED."),
    Allowed("response", "GET /crm/bulk/v8/read/{job_id}", rf"data/\*/query: {REQUIRED}",
            "The job's query echoes what was asked; the file marks cvid, criteria, page, "
            "file_type required, which a job made without them cannot echo."),
    Allowed("request", "POST /crm/bulk/v8/read",
            r"query(/module)?: '(id|criteria|cvid|fields|file_type|page)' is a required property",
            "The file marks every key of a job's query required; Zoho's create-job docs make "
            "fields (none: all), page (default 1), cvid and criteria optional, give the module "
            "by api_name, and put file_type beside the query, not in it."),
    Allowed("response", "GET /crm/bulk/v8/read/{job_id}",
            r"data/\*/state: 'QUEUED' is not one of .*",
            "Zoho's job-details docs list the states ADDED, QUEUED, IN PROGRESS and COMPLETED; "
            "the file's enum leaves QUEUED out."),
    Allowed("request", "GET /crm/v8/{module_api_name}/actions/count",
            r"undeclared (query parameter (approved|converted)|header If-Modified-Since)",
            "The count feeds progress lines and the Bulk Read threshold; the tap asks it with "
            "its read's filter (approved=both, converted=both, the bookmark) so that it counts "
            "what is read, and falls back when Zoho refuses them (count_documented_only)."),
    Allowed("request", "GET /crm/v8/Notes",
            r"undeclared (query parameter page_token|header If-Modified-Since)",
            "Zoho's prose docs give Notes If-Modified-Since and page tokens; the tap sends them "
            "and checks whether they were honoured (reads/notes_pages.py)."),
    Allowed("request", "*", r"MissingRequiredParameter: Missing required query parameter: ids",
            "notes.json and attachments.json mark ids required on their list calls, which "
            "would make them no list."),
    Allowed("response", "POST /crm/v8/coql",
            r"(code: 'INVALID_MODULE'|message: 'The (module name given seems to be invalid|"
            r"given module is not supported in API)') is not one of .*",
            "coql.json lists no INVALID_MODULE among its 400 answers; a production COQL "
            "connector (estuary/connectors source-zoho) records INVALID_MODULE for a module "
            "COQL does not serve, and Get Records answers an unknown module so."),
    Allowed("request", "GET /crm/v8/users",
            r"\(body\): '(AllUsers|DeletedUsers)' is not one of .*",
            "Zoho's prose docs for Get Users list AllUsers and DeletedUsers; the tap asks them and "
            "falls back to the file's types on a refusal (deleted users have no substitute)."),
]


@dataclass
class Tally:
    """Exchanges checked over a test session, and the allowed differences seen."""
    exchanges: int = 0
    allowed: dict[str, int] = field(default_factory=dict)
    log_path: str | None = field(default_factory=lambda: os.environ.get("ZOHO_OPENAPI_LOG"))

    def check(self, logged: list[Exchange]) -> list[Mismatch]:
        """The mismatches of `logged` that no allow-list entry explains."""
        self.exchanges += sum(1 for e in logged if V8_PATH.match(e.path))
        unexplained = []
        for m in check(logged):
            entry = next((a for a in ALLOWED if a.covers(m)), None)
            if self.log_path:
                with open(self.log_path, "a") as f:
                    f.write(json.dumps({"side": m.side, "operation": m.operation,
                                        "what": m.what, "allowed": entry is not None}) + "\n")
            if entry is None:
                unexplained.append(m)
            else:
                key = f"{m.side} {m.operation}: {entry.what}"
                self.allowed[key] = self.allowed.get(key, 0) + 1
        return unexplained

    def summary(self) -> str:
        lines = [f"Zoho OpenAPI files: {self.exchanges} v8 exchanges checked"]
        lines += [f"  allowed {n}x: {key}" for key, n in sorted(self.allowed.items())]
        return "\n".join(lines)


def report(found: list[Mismatch]) -> str:
    lines = [f"{len(found)} exchange(s) differ from Zoho's OpenAPI files "
             "(fix the simulator or the tap, or add a reasoned entry to "
             "tests/zoho_openapi.py ALLOWED):"]
    lines += [str(m) for m in found[:20]]
    return "\n".join(lines)
