"""Who may call what: the access token, its scopes, the modules the API serves and the user's
permission on them."""

from __future__ import annotations

from typing import Any

from . import system_modules
from .api_types import ApiError, rejected_token_error
from .fields import ModuleSpec
from .oauth import AccessToken, OAuth, scope_items
from .org import Org
from .records import ModuleData


class Access:
    """Checks of a call against the org's OAuth tokens (`oauth`), its modules (`org`) and the
    switches of `config`."""

    def __init__(self, org: Org, oauth: OAuth, config: dict[str, Any]) -> None:
        self.org = org
        self.oauth = oauth
        self.config = config

    def auth(self, headers: Any) -> AccessToken:
        raw = headers.get("Authorization")
        if not raw:
            raise ApiError(401, "AUTHENTICATION_FAILURE", "Authentication failed")
        scheme, _, tok = raw.strip().partition(" ")
        if scheme != "Zoho-oauthtoken" or not tok.strip():
            raise ApiError(401, "INVALID_TOKEN", "invalid oauth token")
        at = self.oauth.validate(tok.strip())
        if at is None:
            raise rejected_token_error(self.config["rejected_token_code"])
        return at

    @staticmethod
    def require_scope(token: AccessToken, allowed: set[str]) -> None:
        if not scope_items(token.scope) & allowed:
            raise ApiError(401, "OAUTH_SCOPE_MISMATCH", "invalid oauth scope to access this URL")

    def module(self, version: float, name: str, token: AccessToken) -> ModuleData:
        """A module whose records the token may read."""
        md = self.org.module(name)
        if md is None:
            raise ApiError(400, "INVALID_MODULE", "The module name given seems to be invalid")
        spec = md.spec
        if not spec.module_meta(version)["api_supported"]:
            raise ApiError(400, "INVALID_MODULE", "The given module is not supported in API")
        low = name.lower()
        allowed = {"zohocrm.modules.all", "zohocrm.modules.read", f"zohocrm.modules.{low}.read",
                   f"zohocrm.modules.{low}.all"}
        if spec.subform_of:  # subform docs: the scope is the parent module's
            parent = spec.subform_of.lower()
            allowed |= {f"zohocrm.modules.{parent}.read", f"zohocrm.modules.{parent}.all"}
        if spec.generated_type == "custom":
            allowed |= {"zohocrm.modules.custom.read", "zohocrm.modules.custom.all"}
        if name == "Activities":
            allowed |= {f"zohocrm.modules.{m}.{a}" for m in ("tasks", "events", "calls")
                        for a in ("read", "all")}
        self.require_scope(token, allowed)
        self.permission(spec)
        return md

    def unservable(self, name: str) -> tuple[int, str, str] | None:
        """Zoho's refusal of a listed system module's records (switch `unservable_modules`)."""
        if not self.config["unservable_modules"]:
            return None
        return system_modules.refusal(name)

    @staticmethod
    def permission(spec: ModuleSpec) -> None:
        if not spec.permitted:
            raise ApiError(403, "NO_PERMISSION", "permission denied",
                           {"permissions": [f"Crm_Implied_View_{spec.api_name}"]})
