"""Zoho CRM module and field metadata for the simulated org.

Field objects follow `GET /crm/v8/settings/fields` (OAS v8 `fields` schema); modules follow
`GET /crm/v8/settings/modules`. Internal-only attributes live on `FieldDef`, not in the metadata.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

# json_type Zoho reports for each data_type (SDK8 type map + field-meta samples).
JSON_TYPES: dict[str, str] = {
    "text": "string", "textarea": "string", "email": "string", "phone": "string",
    "website": "string", "picklist": "string", "autonumber": "string", "profileimage": "string",
    "mediumtext": "string", "date": "string", "datetime": "string", "event_reminder": "string",
    "bigint": "string", "multiselectpicklist": "jsonarray", "integer": "integer", "long": "integer",
    "double": "double", "currency": "double", "percent": "double", "boolean": "boolean",
    "lookup": "jsonobject", "ownerlookup": "jsonobject", "userlookup": "jsonobject",
    "consent_lookup": "jsonobject", "multi_module_lookup": "jsonobject", "RRULE": "jsonobject",
    "ALARM": "jsonobject", "multiselectlookup": "jsonarray", "multiuserlookup": "jsonarray",
    "subform": "jsonarray", "fileupload": "jsonarray", "imageupload": "jsonarray",
}
RETURN_JSON = {"double": "double", "currency": "double", "integer": "integer", "text": "string",
               "date": "string", "datetime": "string", "boolean": "boolean"}
# Types whose values list calls omit (v7+ docs: only single-record GET returns them).
SINGLE_ONLY_TYPES = {"subform", "multiselectlookup", "multiuserlookup"}
ORG_PREFIX = "5725767"


def meta_id(name: str) -> str:
    """Stable 19-digit metadata id (fields, modules, picklist values) derived from a name."""
    return f"{ORG_PREFIX}{zlib.crc32(name.encode()) % 10**9 + 2 * 10**9:012d}"


@dataclass
class FieldDef:
    meta: dict[str, Any]
    min_version: float = 2.0
    null_rate: float = 0.0
    hint: str = ""  # value-generator hint (e.g. "first_name", "company")
    choices: list[str] = field(default_factory=list)
    # Plain attributes (not properties): read in the generation and rendering hot loops.
    api_name: str = ""
    data_type: str = ""
    list_ok: bool = True

    def __post_init__(self) -> None:
        self.api_name = str(self.meta["api_name"])
        self.data_type = str(self.meta["data_type"])
        self.list_ok = self.data_type not in SINGLE_ONLY_TYPES


def make_field(module: str, api_name: str, data_type: str, *, label: str | None = None,
               json_type: str | None = None, custom: bool = False, system: bool = False,
               mandatory: bool = False, picklist: list[str] | None = None,
               lookup: str | None = None, min_version: float = 2.0, hint: str = "",
               nullable: bool = True, length: int | None = None, **extra: Any) -> FieldDef:
    label = label or api_name.replace("__c", "").replace("__s", "").replace("_", " ")
    fid = meta_id(f"{module}.{api_name}")
    jt = json_type or JSON_TYPES.get(data_type, "string")
    if "formula" in extra:
        jt = RETURN_JSON[extra["formula"]["return_type"]]
    if "rollup_summary" in extra:
        jt = RETURN_JSON[extra["rollup_summary"]["return_type"]]
    if length is None:
        length = {"textarea": 32000, "mediumtext": 32000, "integer": 9, "bigint": 19, "long": 19,
                  "currency": 16, "double": 16, "percent": 5, "email": 100, "website": 255,
                  "phone": 30}.get(data_type, 255 if data_type == "text" else 120)
    virtual = data_type in {"multiselectlookup", "multiuserlookup"}
    meta: dict[str, Any] = {
        "api_name": api_name, "field_label": label, "display_label": label,
        "data_type": data_type, "json_type": jt, "length": length,
        "decimal_place": 2 if data_type in {"currency", "double", "percent"} else None,
        "read_only": system, "field_read_only": system, "system_mandatory": mandatory,
        "custom_field": custom, "visible": True, "virtual_field": virtual, "id": fid,
        "type": "used", "display_type": -1, "ui_type": 1, "sortable": not virtual,
        "searchable": True, "filterable": True, "webhook": True, "mass_update": not system,
        "created_source": "crm" if custom else "default", "unique": {}, "private": None,
        "crypt": None, "tooltip": None, "hipaa_compliance": None, "hipaa_compliance_enabled": False,
        "history_tracking": None, "external": None, "associated_module": None,
        "view_type": {"view": True, "edit": not system, "quick_create": False,
                      "create": not system},
        "operation_type": {"web_update": not system, "api_create": not system,
                           "web_create": not system, "api_update": not system},
        "profiles": [{"permission_type": "read_only" if system else "read_write",
                      "name": "Administrator", "id": f"{ORG_PREFIX}000000026011"}],
        "lookup": {}, "pick_list_values": [], "formula": {}, "rollup_summary": {},
        "currency": {}, "auto_number": {}, "subform": None, "multiselectlookup": {},
        "multiuserlookup": {}, "multi_module_lookup": {}, "textarea": None,
        "enable_colour_code": False, "pick_list_values_sorted_lexically": False,
        "created_time": None, "modified_time": None,
    }
    if data_type in {"picklist", "multiselectpicklist"}:
        values = picklist or ["Option A", "Option B", "Option C"]
        meta["pick_list_values"] = [
            {"display_value": v, "actual_value": v, "id": meta_id(f"{module}.{api_name}.{v}"),
             "sequence_number": i + 1, "type": "used", "colour_code": None}
            for i, v in enumerate(["-None-", *values] if data_type == "picklist" else values)
        ]
    if data_type in {"lookup", "consent_lookup"} and lookup:
        meta["lookup"] = {"module": {"api_name": lookup, "id": meta_id(f"module.{lookup}")},
                          "display_label": label, "api_name": api_name, "id": fid}
    if data_type == "currency":
        meta["currency"] = {"rounding_option": "normal", "precision": 2}
    if data_type == "textarea":
        meta["textarea"] = {"type": extra.pop("textarea_type", "large")}
    meta.update(extra)
    null_rate = 0.0
    if nullable and not mandatory and data_type not in {
            "boolean", "multiselectlookup", "multiuserlookup", "subform"}:
        null_rate = 0.10 + (zlib.crc32(f"{module}.{api_name}".encode()) % 31) / 100
    return FieldDef(meta=meta, min_version=min_version, null_rate=null_rate, hint=hint,
                    choices=values if data_type in {"picklist", "multiselectpicklist"} else [])


@dataclass
class ModuleSpec:
    api_name: str
    singular: str
    plural: str
    generated_type: str = "default"
    api_supported: bool = True
    api_supported_from_v3: bool = True
    permitted: bool = True  # False: user's profile lacks read permission (NO_PERMISSION)
    name_field: str | None = None
    name_parts: tuple[str, ...] = ()
    linking: bool = False
    stored: bool = True
    default_size: int = 20
    fields: list[FieldDef] = field(default_factory=list)
    # Subform module (generated_type "subform"): its rows belong to records of this module and
    # are generated with them, never on their own.
    subform_of: str | None = None

    @property
    def record_module(self) -> bool:
        """A module of ordinary records (standard or custom): not linking, subform or virtual."""
        return self.stored and self.generated_type in ("default", "custom")

    def module_meta(self, version: float) -> dict[str, Any]:
        supported = self.api_supported and (version < 3 or self.api_supported_from_v3)
        sub = self.subform_of is not None
        meta: dict[str, Any] = {
            "api_name": self.api_name, "module_name": self.api_name,
            "singular_label": self.singular, "plural_label": self.plural,
            "id": meta_id(f"module.{self.api_name}"), "api_supported": supported,
            "generated_type": self.generated_type, "viewable": True,
            "visibility": 1, "creatable": self.stored and not self.linking and not sub,
            "editable": self.stored, "deletable": self.stored and not sub, "convertable":
            self.api_name == "Leads",
            "parent_module": {"api_name": self.subform_of,
                              "id": meta_id(f"module.{self.subform_of}")} if sub else {},
            "modified_time": None,
            "modified_by": None, "show_as_tab": not self.linking and not sub,
            "recycle_bin_on_delete": not sub, "sequence_number": 0,
            "profiles": [{"name": "Administrator", "id": f"{ORG_PREFIX}000000026011"}],
            "quick_create": False, "webform_supported": not self.linking and not sub,
            "feeds_required": False, "scoring_supported": False,
            "global_search_supported": not sub, "description": None,
        }
        if self.generated_type == "custom":
            meta["modified_time"] = "2024-02-12T10:04:11-08:00"
        # v5 replaced the boolean `visible` key by `status` (v5 change log).
        if version < 5:
            meta["visible"] = True
        else:
            meta["status"] = "visible"
        return meta


def _system_fields(module: str, singular: str, *, linking: bool = False,
                   activity_time: bool = False) -> list[FieldDef]:
    out: list[FieldDef] = []
    if not linking:
        out.append(make_field(module, "Owner", "ownerlookup", label=f"{singular} Owner",
                              nullable=False, ui_type=8))
    out.append(make_field(module, "Created_Time", "datetime", system=True, nullable=False))
    out.append(make_field(module, "Modified_Time", "datetime", system=True, nullable=False))
    if not linking:
        out.append(make_field(module, "Created_By", "ownerlookup", system=True, nullable=False))
        out.append(make_field(module, "Modified_By", "ownerlookup", system=True, nullable=False))
        out.append(make_field(module, "Tag", "text", json_type="jsonarray", label="Tag",
                              nullable=False, hint="tag"))
        # v6 change log: system picklist Record_Status__s (Available / Draft / Trash).
        out.append(make_field(module, "Record_Status__s", "picklist", label="Record Status",
                              system=True, nullable=False, min_version=6.0,
                              picklist=["Available", "Draft", "Trash"], hint="available"))
    if activity_time:
        out.append(make_field(module, "Last_Activity_Time", "datetime", system=True))
    # Fields metadata lists `id` from v4 on (v4 change log).
    out.append(make_field(module, "id", "bigint", label="Record Id", system=True,
                          nullable=False, min_version=4.0, hint="id"))
    return out


LEAD_SOURCES = ["Advertisement", "Cold Call", "Employee Referral", "External Referral",
                "Online Store", "Partner", "Public Relations", "Web Download", "Chat", "Trade Show"]
INDUSTRIES = ["ASP (Application Service Provider)", "Data/Telecom OEM", "ERP",
              "Government/Military", "Large Enterprise", "Management ISV", "Non-management ISV",
              "Service Provider",
              "Storage Equipment", "Wireless Industry"]
RATINGS = ["Acquired", "Active", "Market Failed", "Project Cancelled", "Shut Down"]


def _f(module: str) -> Any:
    def mk(api: str, dt: str, **kw: Any) -> FieldDef:
        return make_field(module, api, dt, **kw)
    return mk


def _lead_fields() -> list[FieldDef]:
    m = "Leads"
    f = _f(m)
    std = [
        f("Salutation", "picklist", picklist=["Mr.", "Mrs.", "Ms.", "Dr.", "Prof."]),
        f("First_Name", "text", hint="first_name", length=40),
        f("Last_Name", "text", mandatory=True, hint="last_name", length=80),
        f("Full_Name", "text", system=True, hint="full_name", nullable=False),
        f("Company", "text", hint="company", length=200),
        f("Designation", "text", label="Title", hint="title", length=100),
        f("Email", "email"), f("Secondary_Email", "email"),
        f("Phone", "phone"), f("Mobile", "phone"), f("Fax", "phone"),
        f("Website", "website"),
        f("Lead_Source", "picklist", picklist=LEAD_SOURCES),
        f("Lead_Status", "picklist", picklist=["Attempted to Contact", "Contact in Future",
                                                "Contacted", "Junk Lead", "Lost Lead",
                                                "Not Contacted", "Pre-Qualified"]),
        f("Industry", "picklist", picklist=INDUSTRIES),
        f("No_of_Employees", "integer", label="No. of Employees"),
        f("Annual_Revenue", "currency"),
        f("Rating", "picklist", picklist=RATINGS),
        f("Email_Opt_Out", "boolean"),
        f("Skype_ID", "text", hint="handle"), f("Twitter", "text", hint="handle"),
        f("Street", "text", hint="street"), f("City", "text", hint="city"),
        f("State", "text", hint="state"), f("Zip_Code", "text", hint="zip"),
        f("Country", "text", hint="country"),
        f("Description", "textarea", hint="sentence"),
        f("Record_Image", "profileimage"),
        f("Data_Processing_Basis_Details", "consent_lookup", lookup="Consents",
          label="Data Processing Basis Details"),
        f("Data_Source", "picklist", system=True, nullable=False,
          picklist=["API", "CRM UI", "Import", "Webform"]),
        f("Unsubscribed_Mode", "picklist", system=True, picklist=["Consent form", "Manual",
                                                                   "Unsubscribe link"]),
        f("Unsubscribed_Time", "datetime", system=True),
        f("Lead_Conversion_Time", "integer", system=True),
        f("Enrich_Status__s", "picklist", system=True, label="Enrich Status",
          picklist=["Available", "Enriched", "Data not found"]),
        # v3 change log: Converted_* lookups; v4: boolean Converted__s replaces $converted.
        f("Converted__s", "boolean", system=True, label="Is Converted", min_version=4.0,
          hint="converted"),
        f("Converted_Contact", "lookup", lookup="Contacts", system=True, min_version=3.0,
          hint="converted"),
        f("Converted_Account", "lookup", lookup="Accounts", system=True, min_version=3.0,
          hint="converted"),
        f("Converted_Deal", "lookup", lookup="Deals", system=True, min_version=3.0,
          hint="converted"),
        f("Converted_Date_Time", "datetime", system=True, min_version=3.0, hint="converted"),
    ]
    c: list[FieldDef] = [
        f("Region_Code", "text", custom=True, hint="code"),
        f("Score_2024", "integer", custom=True),
        f("External_Ref_Id", "bigint", custom=True),
        f("Lifetime_Events", "long", custom=True),
        f("Long_Notes", "mediumtext", custom=True, hint="sentence"),
        f("Rich_Summary", "textarea", custom=True, textarea_type="rich_text", hint="long"),
        f("Budget", "currency", custom=True),
        f("Win_Probability", "percent", custom=True),
        f("Weight_Kg", "double", custom=True),
        f("Is_Partner", "boolean", custom=True),
        f("Follow_Up_Date", "date", custom=True),
        f("Next_Call_At", "datetime", custom=True),
        f("Preferred_Channel", "picklist", custom=True,
          picklist=["Email", "Phone", "SMS", "WhatsApp", "Café visit"]),
        f("Interests", "multiselectpicklist", custom=True,
          picklist=["CRM", "Analytics", "Mail", "Desk", "Books", "Projects"]),
        f("Referring_Account", "lookup", custom=True, lookup="Accounts"),
        f("Account_Manager", "userlookup", custom=True),
        f("Lead_Ref_No", "autonumber", custom=True,
          auto_number={"prefix": "LD-", "suffix": "", "start_number": 1000}),
        f("Expected_Value", "formula", custom=True, system=True,
          formula={"return_type": "currency", "expression": "Budget*Win_Probability/100"}),
        f("Score_Ratio", "formula", custom=True, system=True,
          formula={"return_type": "double", "expression": "Score_2024/100"}),
        f("Label_Text", "formula", custom=True, system=True,
          formula={"return_type": "text", "expression": "Concat(Last_Name,' ',Region_Code)"}),
        f("Follow_Up_Deadline", "formula", custom=True, system=True,
          formula={"return_type": "date", "expression": "Adddate(Follow_Up_Date,7,'DAY')"}),
        f("Next_Touch_At", "formula", custom=True, system=True,
          formula={"return_type": "datetime", "expression": "Adddate(Next_Call_At,1,'DAY')"}),
        f("Is_Hot", "formula", custom=True, system=True,
          formula={"return_type": "boolean", "expression": "Score_2024>80"}),
        f("Total_Deal_Amount", "rollup_summary", custom=True, system=True,
          rollup_summary={"return_type": "currency", "expression": {"function": "SUM"}}),
        f("Avg_Deal_Score", "rollup_summary", custom=True, system=True,
          rollup_summary={"return_type": "double", "expression": {"function": "AVG"}}),
        f("Open_Task_Count", "rollup_summary", custom=True, system=True,
          rollup_summary={"return_type": "integer", "expression": {"function": "COUNT"}}),
        f("Documents", "fileupload", custom=True),
        f("Photos", "imageupload", custom=True),
        f("Alt_Email", "email", custom=True), f("Alt_Phone", "phone", custom=True),
        f("Blog_Url", "website", custom=True),
        f("Branch_Name", "text", custom=True, hint="city"),
        f("Company_Alias", "text", custom=True, hint="company"),
        f("Contact_Notes", "textarea", custom=True, textarea_type="small", hint="sentence"),
    ]
    # Filler custom fields of every scalar type so Leads has ~120 fields (forces >50 chunking).
    kinds = ["text", "integer", "double", "currency", "percent", "boolean", "date", "datetime",
             "picklist", "multiselectpicklist", "bigint", "long", "email", "phone", "textarea",
             "website"]
    for i in range(48):
        dt = kinds[i % len(kinds)]
        c.append(f(f"Custom_{dt.capitalize()}_{i + 1:02d}__c", dt, custom=True,
                   label=f"Custom {dt} {i + 1}", hint="word"))
    return [*_system_fields(m, "Lead", activity_time=True), *std, *c]


def _contact_fields() -> list[FieldDef]:
    m = "Contacts"
    f = _f(m)
    return [
        *_system_fields(m, "Contact", activity_time=True),
        f("Salutation", "picklist", picklist=["Mr.", "Mrs.", "Ms.", "Dr."]),
        f("First_Name", "text", hint="first_name"),
        f("Last_Name", "text", mandatory=True, hint="last_name"),
        f("Full_Name", "text", system=True, hint="full_name", nullable=False),
        f("Account_Name", "lookup", lookup="Accounts"),
        f("Reporting_To", "lookup", lookup="Contacts"),
        f("Email", "email"), f("Secondary_Email", "email"),
        f("Phone", "phone"), f("Mobile", "phone"), f("Home_Phone", "phone"),
        f("Title", "text", hint="title"), f("Department", "text", hint="word"),
        f("Date_of_Birth", "date"),
        f("Lead_Source", "picklist", picklist=LEAD_SOURCES),
        f("Mailing_Street", "text", hint="street"), f("Mailing_City", "text", hint="city"),
        f("Mailing_State", "text", hint="state"), f("Mailing_Zip", "text", hint="zip"),
        f("Mailing_Country", "text", hint="country"),
        f("Description", "textarea", hint="sentence"),
        f("Email_Opt_Out", "boolean"),
        f("Record_Image", "profileimage"),
        f("Data_Processing_Basis_Details", "consent_lookup", lookup="Consents"),
        f("Loyalty_Points", "bigint", custom=True),
        f("Related_Deals", "multiselectlookup", custom=True,
          multiselectlookup={"linking_module": {"api_name": "Contacts_X_Deals",
                                                "id": meta_id("module.Contacts_X_Deals")},
                             "connected_module": {"api_name": "Deals",
                                                  "id": meta_id("module.Deals")},
                             "lookup_apiname": "Deals", "api_name": "Contacts",
                             "display_label": "Related Deals"}),
    ]


def _account_fields() -> list[FieldDef]:
    m = "Accounts"
    f = _f(m)
    return [
        *_system_fields(m, "Account", activity_time=True),
        f("Account_Name", "text", mandatory=True, hint="company"),
        f("Account_Number", "text", hint="code"),
        f("Account_Site", "text", hint="city"),
        f("Parent_Account", "lookup", lookup="Accounts"),
        f("Website", "website"), f("Phone", "phone"), f("Fax", "phone"),
        f("Ticker_Symbol", "text", hint="code"),
        f("Account_Type", "picklist", picklist=["Analyst", "Competitor", "Customer",
                                                "Distributor", "Investor", "Partner"]),
        f("Ownership", "picklist", picklist=["Government", "Private", "Public", "Subsidiary"]),
        f("Industry", "picklist", picklist=INDUSTRIES),
        f("Employees", "integer"), f("Annual_Revenue", "currency"),
        f("SIC_Code", "integer"), f("Rating", "picklist", picklist=RATINGS),
        f("Billing_Street", "text", hint="street"), f("Billing_City", "text", hint="city"),
        f("Billing_State", "text", hint="state"), f("Billing_Code", "text", hint="zip"),
        f("Billing_Country", "text", hint="country"),
        f("Description", "textarea", hint="sentence"),
        f("Record_Image", "profileimage"),
        f("Total_Won_Amount", "rollup_summary", custom=True, system=True,
          rollup_summary={"return_type": "currency", "expression": {"function": "SUM"}}),
    ]


def _deal_fields() -> list[FieldDef]:
    m = "Deals"
    f = _f(m)
    return [
        *_system_fields(m, "Deal", activity_time=True),
        f("Deal_Name", "text", mandatory=True, hint="deal"),
        f("Account_Name", "lookup", lookup="Accounts"),
        f("Contact_Name", "lookup", lookup="Contacts"),
        f("Amount", "currency"),
        f("Stage", "picklist", mandatory=True,
          picklist=["Qualification", "Needs Analysis", "Value Proposition", "Proposal/Price Quote",
                    "Negotiation/Review", "Closed Won", "Closed Lost"]),
        f("Probability", "percent"),
        f("Expected_Revenue", "currency", system=True),
        f("Closing_Date", "date"),
        f("Type", "picklist", picklist=["Existing Business", "New Business"]),
        f("Next_Step", "text", hint="word"),
        f("Lead_Source", "picklist", picklist=LEAD_SOURCES),
        f("Description", "textarea", hint="sentence"),
        f("Overall_Sales_Duration", "integer", system=True),
        f("Sales_Cycle_Duration", "integer", system=True),
        f("Reason_For_Loss__s", "picklist", picklist=["Price", "Competition", "No budget"]),
        f("Team_Members", "multiuserlookup", custom=True,
          multiuserlookup={"linking_module": {"api_name": "Deals_X_Users",
                                              "id": meta_id("module.Deals_X_Users")},
                           "connected_module": {"api_name": "users"},
                           "api_name": "Deals", "display_label": "Team Members"}),
    ]


def _activity_common(m: str, f: Any) -> list[FieldDef]:
    return [
        f("What_Id", "multi_module_lookup", label="Related To",
          multi_module_lookup={"modules": [{"api_name": x, "id": meta_id(f"module.{x}")}
                                           for x in ("Accounts", "Deals", "Quotes")]}),
        f("Who_Id", "lookup", lookup="Contacts", label="Contact Name"),
        f("Description", "textarea", hint="sentence"),
    ]


def _task_fields() -> list[FieldDef]:
    m = "Tasks"
    f = _f(m)
    return [
        *_system_fields(m, "Task"),
        f("Subject", "text", mandatory=True, hint="subject"),
        f("Due_Date", "date"),
        f("Status", "picklist", picklist=["Not Started", "Deferred", "In Progress", "Completed"]),
        f("Priority", "picklist", picklist=["High", "Highest", "Low", "Lowest", "Normal"]),
        f("Remind_At", "ALARM"),
        f("Recurring_Activity", "RRULE"),
        f("Closed_Time", "datetime", system=True),
        f("Send_Notification_Email", "boolean"),
        *_activity_common(m, f),
    ]


def _event_fields() -> list[FieldDef]:
    m = "Events"
    f = _f(m)
    return [
        *_system_fields(m, "Meeting"),
        f("Event_Title", "text", mandatory=True, hint="subject"),
        f("Venue", "text", hint="city"),
        f("Start_DateTime", "datetime", mandatory=True), f("End_DateTime", "datetime",
                                                          mandatory=True),
        f("All_day", "boolean"),
        f("Remind_At", "event_reminder"),
        f("Recurring_Activity", "RRULE"),
        f("Check_In_Time", "datetime", system=True),
        *_activity_common(m, f),
    ]


def _call_fields() -> list[FieldDef]:
    m = "Calls"
    f = _f(m)
    return [
        *_system_fields(m, "Call"),
        f("Subject", "text", mandatory=True, hint="subject"),
        f("Call_Type", "picklist", mandatory=True, picklist=["Outbound", "Inbound", "Missed"]),
        f("Call_Start_Time", "datetime", mandatory=True),
        f("Call_Duration", "text", hint="duration"),
        f("Call_Duration_in_seconds", "integer", system=True),
        f("Call_Purpose", "picklist", picklist=["Prospecting", "Administrative", "Negotiation",
                                                "Demo", "Project", "Desk"]),
        f("Call_Result", "picklist", picklist=["Interested", "Not interested", "No response",
                                               "Busy", "Requested more info"]),
        *_activity_common(m, f),
    ]


def _product_fields() -> list[FieldDef]:
    m = "Products"
    f = _f(m)
    return [
        *_system_fields(m, "Product"),
        f("Product_Name", "text", mandatory=True, hint="product"),
        f("Product_Code", "text", hint="code"),
        f("Product_Active", "boolean"),
        f("Product_Category", "picklist", picklist=["Hardware", "Software", "CRM Applications"]),
        f("Manufacturer", "picklist", picklist=["AltvetPet Inc.", "LexPro Corp.", "ABC Corp."]),
        f("Unit_Price", "currency"), f("Commission_Rate", "currency"),
        f("Qty_in_Stock", "double"), f("Taxable", "boolean"),
        f("Description", "textarea", hint="sentence"),
        f("Record_Image", "profileimage"),
    ]


def _price_book_fields() -> list[FieldDef]:
    m = "Price_Books"
    f = _f(m)
    return [
        *_system_fields(m, "Price Book"),
        f("Price_Book_Name", "text", mandatory=True, hint="product"),
        f("Active", "boolean"),
        f("Pricing_Model", "picklist", picklist=["Flat", "Differential"]),
        f("Description", "textarea", hint="sentence"),
    ]


def _quote_fields() -> list[FieldDef]:
    m = "Quotes"
    f = _f(m)
    return [
        *_system_fields(m, "Quote"),
        f("Subject", "text", mandatory=True, hint="subject"),
        f("Quote_Number", "autonumber", system=True,
          auto_number={"prefix": "Q-", "suffix": "-2025", "start_number": 1}),
        f("Deal_Name", "lookup", lookup="Deals"),
        f("Account_Name", "lookup", lookup="Accounts", mandatory=True),
        f("Contact_Name", "lookup", lookup="Contacts"),
        f("Quote_Stage", "picklist", picklist=["Draft", "Negotiation", "Delivered", "On Hold",
                                               "Confirmed", "Closed Won", "Closed Lost"]),
        f("Valid_Till", "date"), f("Carrier", "picklist", picklist=["FedEX", "UPS", "USPS",
                                                                    "DHL", "BlueDart"]),
        f("Quoted_Items", "subform", mandatory=True, label="Quoted Items",
          subform={"module": {"api_name": "Quoted_Items", "id": meta_id("module.Quoted_Items")},
                   "id": meta_id("subform.Quoted_Items")}),
        f("Sub_Total", "currency", system=True), f("Discount", "currency"),
        f("Tax", "currency", system=True), f("Adjustment", "currency"),
        f("Grand_Total", "currency", system=True),
        f("Terms_and_Conditions", "textarea", hint="sentence"),
        f("Billing_City", "text", hint="city"), f("Billing_Country", "text", hint="country"),
    ]


def _quoted_item_fields() -> list[FieldDef]:
    """Rows of the Quotes subform `Quoted_Items`, read as a module (GET /crm/v8/Quoted_Items)."""
    m = "Quoted_Items"
    f = _f(m)
    return [
        f("Product_Name", "lookup", lookup="Products", mandatory=True, label="Product Name",
          nullable=False),
        f("Quantity", "double", mandatory=True, nullable=False),
        f("List_Price", "currency", label="List Price", nullable=False),
        f("Discount", "currency", nullable=False),
        f("Total_After_Discount", "currency", system=True, label="Total After Discount",
          nullable=False),
        f("Tax", "currency", system=True, nullable=False),
        f("Net_Total", "currency", system=True, label="Net Total", nullable=False),
        f("Total", "formula", system=True, nullable=False,
          formula={"return_type": "currency", "expression": "Quantity*List_Price"}),
        f("Description", "textarea", label="Description"),
        f("Sequence_Number", "integer", system=True, label="S.NO", nullable=False),
        f("Parent_Id", "lookup", lookup="Quotes", system=True, label="Parent Id",
          nullable=False),
        f("Created_Time", "datetime", system=True, nullable=False),
        f("Modified_Time", "datetime", system=True, nullable=False),
        f("id", "bigint", label="Record Id", system=True, nullable=False, min_version=4.0),
    ]


def _note_fields() -> list[FieldDef]:
    m = "Notes"
    f = _f(m)
    return [
        *_system_fields(m, "Note"),
        f("Note_Title", "text", hint="subject"),
        f("Note_Content", "textarea", hint="sentence", nullable=False),
        f("Parent_Id", "lookup", label="Parent ID", nullable=False, hint="parent"),
    ]


def _invoice_fields() -> list[FieldDef]:
    m = "Invoices"
    f = _f(m)
    return [
        *_system_fields(m, "Invoice"),
        f("Subject", "text", mandatory=True, hint="subject"),
        f("Invoice_Date", "date"), f("Grand_Total", "currency", system=True),
        f("Status", "picklist", picklist=["Created", "Approved", "Delivered", "Cancelled"]),
    ]


def _shipment_fields() -> list[FieldDef]:
    m = "Shipments"
    f = _f(m)
    return [
        *_system_fields(m, "Shipment"),
        f("Name", "text", mandatory=True, label="Shipment Name", hint="subject"),
        f("Shipment_No", "autonumber", system=True, custom=True,
          auto_number={"prefix": "SH", "suffix": "", "start_number": 1}),
        f("Tracking_Number", "text", custom=True, hint="code"),
        f("Carrier", "picklist", custom=True, picklist=["DHL", "FedEx", "UPS", "Ørsted Cargo"]),
        f("Shipped_On", "date", custom=True),
        f("Delivered_At", "datetime", custom=True),
        f("Weight", "double", custom=True), f("Declared_Value", "currency", custom=True),
        f("Fragile", "boolean", custom=True),
        f("Contact", "lookup", custom=True, lookup="Contacts"),
        f("Account", "lookup", custom=True, lookup="Accounts"),
        # A data_type the tap cannot know: must be tolerated (fall back on json_type).
        f("Zia_Insights", "zia_magic", custom=True, json_type="jsonobject", hint="zia"),
    ]


def _linking_fields(m: str, a: tuple[str, str, str], b: tuple[str, str, str]) -> list[FieldDef]:
    out = _system_fields(m, m, linking=True)
    for api, dt, target in (a, b):
        out.append(make_field(m, api, dt, lookup=target, mandatory=True, nullable=False))
    return out


def build_specs() -> list[ModuleSpec]:
    """All modules of the org in `settings/modules` order."""
    S = ModuleSpec
    return [
        S("Home", "Home", "Home", api_supported=False, stored=False),
        S("Leads", "Lead", "Leads", fields=_lead_fields(), name_field="Full_Name",
          name_parts=("First_Name", "Last_Name", "Full_Name"), default_size=500),
        S("Contacts", "Contact", "Contacts", fields=_contact_fields(), name_field="Full_Name",
          name_parts=("First_Name", "Last_Name", "Full_Name"), default_size=120),
        S("Accounts", "Account", "Accounts", fields=_account_fields(),
          name_field="Account_Name", name_parts=("Account_Name",), default_size=80),
        S("Deals", "Deal", "Deals", fields=_deal_fields(), name_field="Deal_Name",
          name_parts=("Deal_Name",), default_size=60),
        S("Activities", "Activity", "Activities", api_supported_from_v3=False, stored=False,
          fields=[]),
        S("Tasks", "Task", "Tasks", fields=_task_fields(), name_field="Subject",
          name_parts=("Subject",), default_size=40),
        S("Events", "Meeting", "Meetings", fields=_event_fields(), name_field="Event_Title",
          name_parts=("Event_Title",), default_size=30),
        S("Calls", "Call", "Calls", fields=_call_fields(), name_field="Subject",
          name_parts=("Subject",), default_size=30),
        S("Reports", "Report", "Reports", api_supported=False, stored=False),
        S("Products", "Product", "Products", fields=_product_fields(),
          name_field="Product_Name", name_parts=("Product_Name",), default_size=25),
        S("Price_Books", "Price Book", "Price Books", fields=_price_book_fields(),
          name_field="Price_Book_Name", name_parts=("Price_Book_Name",), default_size=20),
        S("Quotes", "Quote", "Quotes", fields=_quote_fields(), name_field="Subject",
          name_parts=("Subject",), default_size=30),
        S("Invoices", "Invoice", "Invoices", fields=_invoice_fields(), permitted=False,
          name_field="Subject", name_parts=("Subject",), default_size=20),
        S("Feeds", "Feed", "Feeds", api_supported=False, stored=False),
        S("Notes", "Note", "Notes", fields=_note_fields(), name_field="Note_Title",
          name_parts=("Note_Title",), default_size=30),
        S("Shipments", "Shipment", "Shipments", generated_type="custom",
          fields=_shipment_fields(), name_field="Name", name_parts=("Name",), default_size=35),
        S("Contacts_X_Deals", "Contacts X Deals", "Contacts X Deals", generated_type="linking",
          linking=True, default_size=40,
          fields=_linking_fields("Contacts_X_Deals", ("Contacts", "lookup", "Contacts"),
                                 ("Deals", "lookup", "Deals"))),
        S("Deals_X_Users", "Deals X Users", "Deals X Users", generated_type="linking",
          linking=True, default_size=25,
          fields=_linking_fields("Deals_X_Users", ("Deals", "lookup", "Deals"),
                                 ("Team_Members", "userlookup", "users"))),
        S("Quoted_Items", "Quoted Item", "Quoted Items", generated_type="subform",
          fields=_quoted_item_fields(), subform_of="Quotes", default_size=0),
    ]


# Activities (v2 family only): the common fields of Tasks, Events and Calls.
ACTIVITY_FIELDS = [
    make_field("Activities", n, dt, **kw) for n, dt, kw in [
        ("Owner", "ownerlookup", {"label": "Activity Owner", "nullable": False}),
        ("Subject", "text", {"mandatory": True}),
        ("Activity_Type", "text", {"system": True, "nullable": False}),
        ("What_Id", "multi_module_lookup", {"label": "Related To"}),
        ("Who_Id", "lookup", {"lookup": "Contacts", "label": "Contact Name"}),
        ("Description", "textarea", {}),
        ("Created_Time", "datetime", {"system": True, "nullable": False}),
        ("Modified_Time", "datetime", {"system": True, "nullable": False}),
        ("Created_By", "ownerlookup", {"system": True, "nullable": False}),
        ("Modified_By", "ownerlookup", {"system": True, "nullable": False}),
    ]
]
