"""A plain singer-sdk tap for Zoho CRM: the benchmark's per-record baseline.

What a developer gets from the SDK's defaults: one `RESTStream` per module, the default message
writer (simplejson, a flush per message), RECURSIVE type conformance, the default JSON parsing
(floats as Decimal), an OAuth authenticator per stream as the SDK's cookiecutter makes it, one
request at a time. It reads the API v2 list endpoint with every field (no `fields` chunks) and
gets past v2's 2,000-record cap the way tap-zohocrm does on v2: sorted by Modified_Time, the
query restarts with If-Modified-Since at the last Modified_Time read, dropping the records of
that second already emitted. Schemas come from the input catalog (tap-zohocrm's discovery).

With `convert_values` (default true) `post_process` applies the conversions tap-zohocrm
documents (datetimes to UTC, bigint strings to integers, every key the schema declares for an
object present) so both taps emit the same records;
with it false the records go out as Zoho sends them (the SDK's bare default path).

Not a product: no incremental start, no error handling beyond the SDK's retries. Config:
client_id, client_secret, refresh_token, api_url, accounts_url, modules (API names),
per_page, convert_values.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple

import requests
from singer_sdk import RESTStream, Stream, Tap
from singer_sdk import typing as th
from singer_sdk.authenticators import OAuthAuthenticator
from singer_sdk.pagination import BaseAPIPaginator
from singer_sdk.streams.rest import HTTPRequest, PageContext

V2_PAGE_CAP = 2000  # Zoho v2: `page` * `per_page` may not pass 2,000 records
EMPTY_STATUSES = (204, 304)
REPLICATION_KEY = "Modified_Time"


class ZohoOAuth(OAuthAuthenticator):
    """Refresh-token grant; Zoho wants `Zoho-oauthtoken`, not `Bearer`."""

    def __init__(self, *, refresh_token: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._refresh = refresh_token

    @property
    def oauth_request_body(self) -> dict:
        return {
            "grant_type": "refresh_token",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "refresh_token": self._refresh,
        }

    def authenticate_request(self, request: requests.PreparedRequest
                             ) -> requests.PreparedRequest:
        if not self.is_token_valid():
            self.update_access_token()
        request.headers["Authorization"] = f"Zoho-oauthtoken {self.access_token}"
        return request


class Page(NamedTuple):
    number: int
    since: str | None  # If-Modified-Since of this query (a restart past the cap)
    query: int  # distinguishes restarts at the same second


class V2Paginator(BaseAPIPaginator[Page]):
    """`page` 1..10, then a new query from the last Modified_Time read."""

    def __init__(self, stream: ModuleStream) -> None:
        super().__init__(Page(1, None, 0))
        self.stream = stream

    def has_more(self, response: requests.Response) -> bool:
        if response.status_code in EMPTY_STATUSES:
            return False
        return bool(response.json().get("info", {}).get("more_records"))

    def get_next(self, response: requests.Response) -> Page | None:
        page = self.current_value
        if (page.number + 1) * self.stream.per_page <= V2_PAGE_CAP:
            return Page(page.number + 1, page.since, page.query)
        return Page(1, self.stream.last_modified_raw, page.query + 1)


class ModuleStream(RESTStream):
    primary_keys = ("id",)
    records_jsonpath = "$.data[*]"

    def __init__(self, tap: Tap, api_name: str, schema: dict[str, Any]) -> None:
        super().__init__(tap, name=api_name.lower(), schema=schema)
        self.api_name = api_name
        self.path = f"/{api_name}"
        if REPLICATION_KEY in schema.get("properties", {}):
            self.replication_key = REPLICATION_KEY
        props = schema.get("properties", {})
        self._datetimes = [k for k, p in props.items() if p.get("format") == "date-time"]
        self._integers = [k for k, p in props.items() if "integer" in (p.get("type") or [])]
        self._shaped = [(k, p) for k, p in props.items()
                        if p.get("properties") or (p.get("items") or {}).get("properties")]
        self._convert = bool(self.config.get("convert_values", True))
        self.last_modified_raw: str | None = None
        self._last_modified: datetime | None = None
        self._ids_at_last: set[str] = set()

    @property
    def url_base(self) -> str:
        return f"{self.config['api_url'].rstrip('/')}/crm/v2"

    @property
    def per_page(self) -> int:
        return int(self.config.get("per_page", 200))

    @property
    def authenticator(self) -> ZohoOAuth:
        # One per stream, as the SDK's cookiecutter does (a cached property on the stream).
        if getattr(self, "_auth", None) is None:
            self._auth = ZohoOAuth(
                auth_endpoint=f"{self.config['accounts_url'].rstrip('/')}/oauth/v2/token",
                client_id=self.config["client_id"],
                client_secret=self.config["client_secret"],
                refresh_token=self.config["refresh_token"],
            )
        return self._auth

    def get_new_paginator(self) -> V2Paginator:
        return V2Paginator(self)

    def get_url_params(self, context: Any, next_page_token: Page | None) -> dict[str, Any]:
        page = next_page_token or Page(1, None, 0)
        params: dict[str, Any] = {
            "page": page.number, "per_page": self.per_page,
            "sort_by": REPLICATION_KEY, "sort_order": "asc", "approved": "both",
        }
        if self.api_name == "Leads":
            params["converted"] = "both"
        return params

    def get_http_request(self, *, page: PageContext) -> HTTPRequest:
        request = super().get_http_request(page=page)
        token = page.next_page_token
        if token is not None and token.since:
            request.headers = {**request.headers, "If-Modified-Since": token.since}
        return request

    def parse_response(self, response: requests.Response) -> Any:
        if response.status_code in EMPTY_STATUSES:
            return
        for record in super().parse_response(response):
            raw = record.get(REPLICATION_KEY)
            if not isinstance(raw, str):
                yield record
                continue
            modified = datetime.fromisoformat(raw)
            if self._last_modified is None or modified > self._last_modified:
                self._last_modified, self.last_modified_raw = modified, raw
                self._ids_at_last = {record["id"]}
            elif modified == self._last_modified:
                if record["id"] in self._ids_at_last:
                    continue  # read before the restart
                self._ids_at_last.add(record["id"])
            yield record

    def post_process(self, row: dict, context: Any = None) -> dict | None:
        if not self._convert:
            return row
        for key in self._datetimes:
            value = row.get(key)
            if isinstance(value, str):
                row[key] = datetime.fromisoformat(value).astimezone(UTC).isoformat()
        for key in self._integers:
            value = row.get(key)
            if isinstance(value, str):
                row[key] = int(value)
        for key, prop in self._shaped:
            if row.get(key) is not None:
                row[key] = with_declared_keys(row[key], prop)
        return row


def with_declared_keys(value: Any, prop: dict[str, Any]) -> Any:
    """An object (or list of objects) with every key its schema declares, null if missing."""
    if isinstance(value, list):
        items = prop.get("items") or {}
        return [with_declared_keys(v, items) if v is not None else v for v in value]
    declared = prop.get("properties") or {}
    if not isinstance(value, dict) or not declared:
        return value
    out = {k: with_declared_keys(v, declared[k]) if k in declared and v is not None else v
           for k, v in value.items()}
    return {**out, **{k: None for k in declared if k not in value}}


class PlainSDKTap(Tap):
    name = "plain-sdk-zohocrm"

    config_jsonschema = th.PropertiesList(
        th.Property("client_id", th.StringType, required=True),
        th.Property("client_secret", th.StringType, required=True, secret=True),
        th.Property("refresh_token", th.StringType, required=True, secret=True),
        th.Property("api_url", th.StringType, required=True),
        th.Property("accounts_url", th.StringType, required=True),
        th.Property("modules", th.ArrayType(th.StringType), required=True),
        th.Property("per_page", th.IntegerType, default=200),
        th.Property("convert_values", th.BooleanType, default=True),
    ).to_dict()

    def discover_streams(self) -> list[Stream]:
        if self.input_catalog is None:
            msg = "plain_sdk_tap needs --catalog (tap-zohocrm's discovered catalog)"
            raise RuntimeError(msg)
        by_stream = {name.lower(): name for name in self.config["modules"]}
        return [
            ModuleStream(self, by_stream[entry.tap_stream_id], entry.schema.to_dict())
            for entry in self.input_catalog.values()
            if entry.tap_stream_id in by_stream
        ]


if __name__ == "__main__":
    PlainSDKTap.cli()
