"""Org-level metadata of the simulated org: users, roles, profiles and the org itself.

Shapes follow Zoho's v8 OAS (`users.json`, `roles.json`, `profiles.json`, `org.json`) and the
Get Users / Get Org / Get Roles / Get Profiles doc samples. Everything here is static and
deterministic (no seed): ids, names and times never change between runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from .fields import ORG_PREFIX

LA = ZoneInfo("America/Los_Angeles")


def _id(n: int) -> str:
    return f"{ORG_PREFIX}{n:012d}"


def user_id(index: int) -> str:
    """Id of the index-th user (the six first ones own the org's records)."""
    return _id(374001 + 1000 * index)


ORG_ID = _id(302001)
ZGID = "5725767"

# ------------------------------------------------------------------ roles
# (key, name, reporting_to key, share_with_peers, description)
ROLE_SPECS = [
    ("ceo", "CEO", None, True, "Users with this role can see the data of every other user."),
    ("manager", "Manager", "ceo", False, "Sales managers: see their team's data."),
    ("sales", "Sales Representative", "manager", False, None),
    ("support", "Support Agent", "manager", True, "Handles cases and follow-ups."),
    ("marketing", "Marketing Lead", "ceo", True, None),
]
ROLE_IDS = {"ceo": _id(26005), "manager": _id(26008), "sales": _id(26311),
            "support": _id(26317), "marketing": _id(26323)}
ROLE_NAMES = {k: name for k, name, *_ in ROLE_SPECS}

# ------------------------------------------------------------------ profiles
# (key, name, default, custom, description); system profiles have no creator (null audit keys).
PROFILE_SPECS = [
    ("admin", "Administrator", False, False, "This profile will have all the permissions."),
    ("standard", "Standard", True, False,
     "This profile will have all the permissions except administrative privileges."),
    ("sales", "Sales Profile", False, True, "Standard permissions without export or mass delete."),
]
PROFILE_IDS = {"admin": _id(26011), "standard": _id(26014), "sales": _id(291003)}
PROFILE_NAMES = {k: name for k, name, *_ in PROFILE_SPECS}


@dataclass(frozen=True)
class UserSpec:
    first_name: str | None
    last_name: str
    email: str
    role: str
    profile: str
    status: str  # active | disabled | deleted
    confirm: bool
    time_zone: str
    locale: str
    country: str
    created: datetime
    modified: datetime
    reporting_to: int | None = None
    full_name: str | None = None

    @property
    def name(self) -> str:
        return self.full_name or " ".join(p for p in (self.first_name, self.last_name) if p)


def _t(y: int, mo: int, d: int, h: int = 9, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=LA)


# The six first users are the owner pool of the generated records (org.USERS keeps that order).
USER_SPECS = [
    UserSpec("Patricia", "Boyle", "p.boyle@zylker.com", "ceo", "admin", "active", True,
             "America/Los_Angeles", "en_US", "US", _t(2023, 3, 1), _t(2025, 6, 2, 10, 4, 11)),
    UserSpec("Zoë", "Müller", "zoe.mueller@zylker.com", "manager", "standard", "active", True,
             "Europe/Berlin", "de_DE", "DE", _t(2023, 3, 6), _t(2025, 2, 14, 8, 30), 0),
    UserSpec("Rahul", "Iyer", "rahul.iyer@zylker.com", "sales", "sales", "active", True,
             "Asia/Kolkata", "en_IN", "IN", _t(2023, 4, 11), _t(2024, 11, 5, 22, 15), 1),
    UserSpec("Sofía", "Núñez", "sofia.nunez@zylker.com", "sales", "standard", "active", True,
             "America/Mexico_City", "es_MX", "MX", _t(2023, 5, 2), _t(2025, 9, 30, 17, 45), 1),
    UserSpec("花子", "田中", "hanako.tanaka@zylker.com", "support", "standard", "active", True,
             "Asia/Tokyo", "ja_JP", "JP", _t(2023, 6, 19), _t(2024, 7, 1, 3, 0),
             1, full_name="田中 花子"),
    # Deactivated, but still the owner of records created before (the tap must not assume
    # every owner is an active user).
    UserSpec("Lars", "Ørsted", "lars.orsted@zylker.com", "sales", "sales", "disabled", True,
             "Europe/Copenhagen", "da_DK", "DK", _t(2023, 7, 3), _t(2025, 8, 18, 12, 0), 1),
    UserSpec("Amelia", "Clarke", "amelia.clarke@zylker.com", "marketing", "admin", "active", True,
             "Europe/London", "en_GB", "GB", _t(2024, 1, 8), _t(2025, 10, 2, 9, 12), 0),
    UserSpec("Kwame", "Mensah", "kwame.mensah@zylker.com", "support", "standard", "active", True,
             "Africa/Accra", "en_GH", "GH", _t(2024, 2, 20), _t(2025, 4, 9, 14, 2), 1),
    UserSpec("Wei", "Chen", "wei.chen@zylker.com", "sales", "sales", "active", False,
             "Asia/Shanghai", "zh_CN", "CN", _t(2025, 9, 29), _t(2025, 9, 29, 11, 0), 1),
    UserSpec("Isabella", "Rossi", "isabella.rossi@zylker.com", "support", "standard", "disabled",
             True, "Europe/Rome", "it_IT", "IT", _t(2024, 3, 12), _t(2025, 1, 31, 18, 20), 1),
    UserSpec("Dmitri", "Volkov", "dmitri.volkov@zylker.com", "sales", "sales", "deleted", True,
             "Europe/Helsinki", "fi_FI", "FI", _t(2023, 8, 21), _t(2024, 12, 16, 10, 40), 1),
    UserSpec(None, "Al-Sayed", "f.alsayed@zylker.com", "marketing", "standard", "active", True,
             "Asia/Dubai", "ar_AE", "AE", _t(2024, 5, 27), _t(2025, 7, 7, 7, 7), 6),
]

# Get Users `type` values (Zoho docs; AllUsers is the default). AllUsers is "both active and
# inactive users": deleted users come only with DeletedUsers (assumption, docs are silent).
USER_TYPES = ("AllUsers", "ActiveUsers", "DeactiveUsers", "ConfirmedUsers", "NotConfirmedUsers",
              "DeletedUsers", "ActiveConfirmedUsers", "AdminUsers", "ActiveConfirmedAdmins",
              "CurrentUser")


# The `type` values of Zoho's v8 OpenAPI file (users.json): no AllUsers, no DeletedUsers.
V8_USER_TYPES = ("ActiveUsers", "CurrentUser", "ActiveConfirmedUsers", "DeactiveUsers",
                 "NotConfirmedUsers", "ConfirmedUsers")


def user_type_served(config: dict[str, Any], version: float, kind: str) -> bool:
    """Whether Get Users accepts `type=kind`: all types, or from v8 on only the types of the v8
    OpenAPI file when the switch `v8_user_types_only` is on."""
    return not (config.get("v8_user_types_only") and version >= 8 and kind not in V8_USER_TYPES)


def _fmt(dt: datetime) -> str:
    return dt.astimezone(LA).isoformat()


def _ref(index: int) -> dict[str, str]:
    return {"name": USER_SPECS[index].name, "id": user_id(index)}


def build_users() -> list[dict[str, Any]]:
    """Get Users objects (OAS `users` schema keys), in id order."""
    out = []
    for i, u in enumerate(USER_SPECS):
        tz = ZoneInfo(u.time_zone)
        offset = datetime(2025, 1, 1, tzinfo=tz).utcoffset()
        lang = u.locale.split("_")[0]
        out.append({
            "country": u.country, "name_format__s": "Salutation,First Name,Last Name",
            "language": u.locale if lang == "en" else lang, "microsoft": False,
            "$shift_effective_from": None, "id": user_id(i), "state": None, "fax": None,
            "country_locale": u.locale, "sandboxDeveloper": False, "zip": None,
            "decimal_separator": "Period", "created_time": _fmt(u.created),
            "time_format": "hh:mm a",
            "offset": int(offset.total_seconds() * 1000) if offset is not None else 0,
            "profile": {"name": PROFILE_NAMES[u.profile], "id": PROFILE_IDS[u.profile]},
            # Zoho's key is lower-case `created_by` (v8 OAS, doc samples), unlike Modified_By.
            "created_by": _ref(0), "zuid": str(727363026 + 7919 * i), "full_name": u.name,
            "phone": None, "dob": None, "sort_order_preference__s": "First Name,Last Name",
            "status": u.status,
            "role": {"name": ROLE_NAMES[u.role], "id": ROLE_IDS[u.role]},
            "customize_info": {"notes_desc": None, "show_right_panel": None, "bc_view": None,
                               "show_home": False, "show_detail_view": True,
                               "unpin_recent_item": None},
            "city": None, "signature": None, "locale": u.locale, "personal_account": False,
            "Isonline": False, "default_tab_group": "0", "Modified_By": _ref(0),
            "street": None, "Currency": "USD", "alias": None,
            "first_name": u.first_name, "email": u.email, "status_reason__s": None,
            "website": None, "Modified_Time": _fmt(u.modified), "mobile": None,
            "last_name": u.last_name, "time_zone": u.time_zone, "number_separator": "Comma",
            "confirm": u.confirm, "date_format": "MM-dd-yyyy",
            "category": "regular_user",
            "Reporting_To": _ref(u.reporting_to) if u.reporting_to is not None else None,
        })
    return out


def user_matches(user: dict[str, Any], kind: str, current_id: str) -> bool:
    status, confirmed = user["status"], user["confirm"]
    admin = user["profile"]["id"] == PROFILE_IDS["admin"]
    return {
        "AllUsers": status != "deleted",
        "ActiveUsers": status == "active",
        "DeactiveUsers": status == "disabled",
        "ConfirmedUsers": confirmed and status != "deleted",
        "NotConfirmedUsers": not confirmed and status != "deleted",
        "DeletedUsers": status == "deleted",
        "ActiveConfirmedUsers": status == "active" and confirmed,
        "AdminUsers": admin and status != "deleted",
        "ActiveConfirmedAdmins": admin and status == "active" and confirmed,
        "CurrentUser": user["id"] == current_id,
    }[kind]


def build_roles(version: float) -> list[dict[str, Any]]:
    out = []
    for key, name, parent, peers, desc in ROLE_SPECS:
        role: dict[str, Any] = {
            "display_label": name,
            "forecast_manager": None,
            "share_with_peers": peers,
            "name": name,
            "description": desc,
            "id": ROLE_IDS[key],
            "reporting_to": {"name": ROLE_NAMES[parent], "id": ROLE_IDS[parent]}
            if parent else None,
            "admin_user": key == "ceo",
        }
        if version >= 8:  # audit keys are in the v8 OAS Role schema only (assumption for < v8)
            created = _fmt(_t(2023, 3, 1)) if key in ("ceo", "manager") else _fmt(_t(2023, 9, 4))
            role.update({"created_by__s": None if key in ("ceo", "manager") else _ref(0),
                         "modified_by__s": None if key in ("ceo", "manager") else _ref(0),
                         "created_time__s": None if key in ("ceo", "manager") else created,
                         "modified_time__s": None if key in ("ceo", "manager") else created})
        out.append(role)
    return out


def build_profiles() -> list[dict[str, Any]]:
    out = []
    for key, name, default, custom, desc in PROFILE_SPECS:
        audit = custom  # system profiles come with null creator/modifier/times
        out.append({
            "display_label": name,
            "created_time": _fmt(_t(2024, 2, 5, 15, 30)) if audit else None,
            "modified_time": _fmt(_t(2025, 3, 18, 11, 5)) if audit else None,
            "name": name,
            "modified_by": _ref(0) if audit else None,
            "description": desc,
            "id": PROFILE_IDS[key],
            "category": False,
            "created_by": _ref(0) if audit else None,
            "default": default,
            "custom": custom,
        })
    return out


def build_org() -> dict[str, Any]:
    return {
        "country": "United States", "photo_id": None, "city": "Pleasanton",
        "description": None, "mc_status": False, "gapps_enabled": False,
        "domain_name": "org5725767", "translation_enabled": True, "street": "4141 Hacienda Dr",
        "alias": None, "currency": "US Dollar - USD", "id": ORG_ID, "state": "CA", "fax": None,
        "employee_count": "120", "zip": "94588", "website": "www.zylker.com",
        "currency_symbol": "$", "mobile": None, "currency_locale": "en_US",
        "primary_zuid": "727363026", "zia_portal_id": "727363026",
        "time_zone": "America/Los_Angeles", "zgid": ZGID, "country_code": "US",
        "deletable_org_account": False,
        "license_details": {"paid_expiry": _fmt(_t(2026, 12, 31, 23, 59, 59)),
                            "users_license_purchased": 15, "trial_type": None,
                            "trial_expiry": None, "paid": True, "paid_type": "Enterprise",
                            "trial_action": None},
        "hierarchy_preferences": {"type": "Role_Hierarchy", "strictly_reporting": False},
        "phone": "555-010-2000", "company_name": "Zylker", "privacy_settings": True,
        "primary_email": "p.boyle@zylker.com", "iso_code": "USD",
        "hipaa_compliance_enabled": False, "lite_users_enabled": False, "max_per_page": 200,
        "ezgid": "cb5a1b6b2f", "call_icon": None, "oauth_presence": False,
        "zia_zgid": 5725767, "checkin_preferences": {"restricted_event_types": None},
        "type": "Production", "created_time": _fmt(_t(2023, 3, 1)),
    }
