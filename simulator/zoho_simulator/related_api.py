"""Deleted records, attachments and Bulk Read jobs of a module."""

from __future__ import annotations

import json
from typing import Any

from .access import Access
from .api_types import (
    VERSIONS,
    ApiError,
    FileBody,
    Response,
    field_names,
    invalid,
    page_answer,
)
from .bulk_jobs import BULK_SCOPES, BulkRead
from .living import check_deleted_page_cap
from .oauth import AccessToken
from .org import Org
from .records import ATTACHMENT_KEYS, Clock, ModuleData, deleted_supported
from .request_params import ids_param, modified_since, page_params


class RelatedApi:
    """Deleted records, attachments and Bulk Read jobs of a module."""

    def __init__(self, org: Org, bulk: BulkRead, access: Access, config: dict[str, Any],
                 clock: Clock) -> None:
        self.org = org
        self.bulk = bulk
        self.access = access
        self.config = config
        self.clock = clock

    # ------------------------------------------------------------ deleted records
    def deleted_records(self, md: ModuleData, params: dict[str, str], headers: Any) -> Response:
        """GET /{module}/deleted. Zoho's docs leave two things open; the simulator assumes:
        * If-Modified-Since keeps entries with deleted_time >= the header (inclusive, like
          Get Records), and answers 304 when it leaves none;
        * entries come newest first (Zoho's default order), oldest first with sort_order=asc.
        No retention window (60/120 days) is modelled; a discrete page cap like Get Records'
        is, behind the `deleted_page_cap` switch."""
        if not (deleted_supported(md.spec) or md.name == "Activities"):
            raise ApiError(400, "INVALID_MODULE", "The given module is not supported in API")
        kind = params.get("type", "all")
        if kind not in ("all", "recycle", "permanent"):
            raise invalid("type")
        page, per_page = page_params(params)
        sort_order = params.get("sort_order", "desc")
        if sort_order not in ("asc", "desc"):
            raise invalid("sort_order")
        rows = self.org.deleted_rows(md.name, kind, modified_since(headers),
                                     desc=sort_order == "desc")
        check_deleted_page_cap(self.config.get("deleted_page_cap"), (page - 1) * per_page,
                               per_page)
        return page_answer("data", rows, page, per_page, headers)

    # ------------------------------------------------------------ attachments
    def attachments(self, version: float, md: ModuleData, raw_id: str,
                    params: dict[str, str], token: AccessToken) -> Response:
        """GET /{module}/{record_id}/Attachments. Per record only: Zoho has no org-wide
        attachments list (no GET /Attachments), so none is simulated.
        Assumptions where the docs are silent: `fields` (mandatory from v3, optional in v2)
        may name any key of the attachment object, `$` keys included, and only the named
        keys (plus id) come back, as in the v7 sample; attachments come newest first; an
        unknown record id answers 204."""
        if not md.spec.record_module:
            raise ApiError(400, "INVALID_MODULE", "The given module is not supported in API")
        self.access.require_scope(token, {"zohocrm.modules.all", "zohocrm.modules.attachments.read",
                                          "zohocrm.modules.attachments.all"})
        if not raw_id.isdigit():
            raise invalid("record_id")
        raw_fields = params.get("fields")
        if version >= 3 and raw_fields is None:
            raise ApiError(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is "
                           "missing", {"param_name": "fields"})
        selected: list[str] | None = None
        if raw_fields is not None:
            selected = field_names(raw_fields)
            for n in selected:
                if n not in ATTACHMENT_KEYS:
                    raise ApiError(400, "INVALID_DATA", "invalid data",
                                   {"api_name": n, "param_name": "fields"})
        if "page_token" in params:  # never issued: a record has at most a few attachments
            raise invalid("page_token")
        ids = ids_param(params)
        page, per_page = page_params(params)
        items = self.org.record_attachments(md.name, int(raw_id))
        if not items:
            return Response(204)
        if ids is not None:
            items = [a for a in items if int(a["id"]) in ids]
        start = (page - 1) * per_page
        chunk = items[start:start + per_page]
        if not chunk:
            return Response(204)
        if selected is not None:
            keep = {*selected, "id"}
            chunk = [{k: v for k, v in a.items() if k in keep} for a in chunk]
        more = start + per_page < len(items)
        info: dict[str, Any] = {"per_page": per_page, "count": len(chunk), "page": page,
                                "more_records": more}
        if version >= 3:
            info = {"per_page": per_page, "next_page_token": None, "count": len(chunk),
                    "page": page, "previous_page_token": None, "page_token_expiry": None,
                    "more_records": more}
        return Response(200, {"data": chunk, "info": info})

    # ------------------------------------------------------------ bulk read
    def bulk_read(self, method: str, label: str, rest: list[str], headers: Any, body: bytes
                  ) -> Response:
        """POST /crm/bulk/{v}/read, GET /crm/bulk/{v}/read/{job_id}[/result] (see bulk_jobs.py)."""
        version = VERSIONS[label]
        bulk = self.bulk
        if len(rest) > 2 or (len(rest) == 2 and rest[1] != "result"):
            raise ApiError(404, "INVALID_URL_PATTERN",
                           "Please check if the URL trying to access is a correct one")
        if (method, bool(rest)) not in (("POST", False), ("GET", True)):
            raise ApiError(400, "INVALID_REQUEST_METHOD",
                           "The http request method type is not a valid one")
        token = self.access.auth(headers)
        self.access.require_scope(token, BULK_SCOPES)
        if not rest:  # create a job
            ctype = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if ctype != "application/json":
                raise ApiError(415, "MEDIA_TYPE_NOT_SUPPORTED",
                               "The media type of the request is not supported. Use "
                               "Content-Type: application/json")
            if not body.strip():
                raise ApiError(400, "REQUEST_BODY_IS_EMPTY", "The request body is empty")
            try:
                data = json.loads(body)
            except ValueError:
                data = None
            if not isinstance(data, dict):
                raise ApiError(400, "REQUEST_BODY_NOT_READABLE",
                               "The request body is not a valid JSON object")
            created = bulk.create(version, data,
                                  lambda name: self.access.module(version, name, token))
            return Response(201, {"data": [{
                "status": "success", "code": "ADDED_SUCCESSFULLY",
                "message": "Added successfully.", "details": bulk.created_details(created)}],
                "info": {}})
        download = len(rest) == 2
        if download and not bulk.allow_download():
            raise ApiError(429, "TOO_MANY_REQUESTS", "You have reached the limit of 10 "
                           "download requests per minute. Please try again after some time.")
        job = bulk.get(rest[0])
        if job is None:
            raise ApiError(400 if download else 404, "RESOURCE_NOT_FOUND",
                           "The requested resource doesn't exist.",
                           {"resource": "result" if download else "job_id"})
        self.access.module(version, job.module, token)  # the module's read scope
        if not download:
            return Response(200, {"data": [bulk.details(job, label)]})
        if job.state(self.clock.now()) != "COMPLETED":
            raise ApiError(400, "RESOURCE_NOT_FOUND", "The result of the job is not available "
                           "yet: the job is not completed.", {"resource": "result"})
        path, size = bulk.result_file(job)
        # OAS: Download Result answers `application/x-download`.
        return Response(200, FileBody(path, size), {
            "Content-Type": "application/x-download",
            "Content-Disposition": f'attachment; filename="{job.id}.zip"'})
