"""Feishu error codes: every code of the PATCH and PUT user pages, plus the auth and quota codes.

Each entry is (short meaning, fix), translated from the docs' troubleshooting column
(schemas/docs/patch-user.md wins where the two pages disagree).
"""

from __future__ import annotations

CODES: dict[int, tuple[str, str]] = {
    # general / auth / quota (docs: 通用错误码, 频控策略)
    10003: ("invalid param", "check FEISHU_APP_ID and FEISHU_APP_SECRET"),
    10014: ("app unauthorized", "check FEISHU_APP_ID, and that the app is enabled in the tenant"),
    10015: ("wrong app secret", "check FEISHU_APP_SECRET"),
    99991400: ("request trigger frequency limit", "wait x-ogw-ratelimit-reset seconds and retry"),
    99991401: ("IP denied", "add this machine's IP to the app's allow-list"),
    99991403: ("monthly quota exceeded", "wait for the next month or raise the quota"),
    99991661: ("missing access token", "the client must send 'Authorization: Bearer <tenant token>'"),
    99991663: ("invalid or expired tenant access token", "fetch a new tenant_access_token"),
    99991664: ("invalid app token", "fetch a new app_access_token"),
    99991671: ("malformed access token", "tokens must start with t- or u-"),
    99991672: (
        "the app lacks the API permission for this call",
        "grant the permission the answer names (developer console > 权限管理), then publish a new app version",
    ),
    99992351: ("open ids do not exist", "check the user ids"),
    99992361: ("open_id belongs to another app", "use open_ids issued to this app"),
    99992380: ("department ids do not exist", "check the department ids"),
    40003: ("internal error", "retry later"),
    40011: ("page size is invalid", "page_size must be 1..50"),
    40012: ("page token is invalid", "restart the listing without page_token"),
    40014: ("no parent department authority", "add the department to the app's contact scope"),
    40015: ("department does not exist", "check the department id"),
    41012: ("user id is invalid", "check the user id and user_id_type"),
    43010: ("big department forbids recursion", "list children without fetch_child"),
    # both pages
    40001: ("param error", "check the request parameters against the API docs"),
    40004: (
        "no department authority",
        "add the department to the app's contact scope (developer console > permissions > data scope)",
    ),
    40016: ("department name cannot be empty", "give the department a name"),
    41001: ("mobile already exists", "use a mobile number no other user in the tenant has"),
    41002: ("email already exists", "use an e-mail address no other user in the tenant has"),
    41003: (
        "user account conflict",
        "the mobile and e-mail belong to two different Feishu accounts; use another or deregister one",
    ),
    41004: ("mobile is invalid", "write a valid mobile number; non-mainland numbers start with +country code"),
    41005: ("email is invalid", "write a valid e-mail address"),
    41006: ("no user name", "name is required"),
    41009: ("no email or mobile", "a user needs an e-mail or a mobile"),
    41010: ("no mobile", "mobile must not be empty"),
    41011: ("user id already exists", "user_id must be unique in the tenant"),
    41013: ("user id update limit exceeded", "user_id was changed too often"),
    41014: ("user name is sensitive", "the name contains blocked content; contact Feishu support"),
    41015: ("idp type invalid", "the login type is invalid"),
    41016: ("department has too many users", "a department holds at most 500 users; choose another department"),
    41017: ("department is required", "give the user at least one department"),
    41018: ("position info is invalid", "check the position"),
    41019: ("position department is invalid", "check the position's department"),
    41020: ("position code already exists", "use another position code"),
    41021: ("more than one main position", "a user has at most one main position"),
    41022: ("user tenant mismatch", "the credentials belong to another tenant"),
    41023: (
        "department update conflicts with position department",
        "update the position department together with the departments",
    ),
    41024: (
        "position department conflicts with departments",
        "the new position department must be one of the user's departments",
    ),
    41025: ("order department invalid", "every orders[].department_id must be one of the user's department_ids"),
    41028: (
        "multi-department needs upgraded visibility rules",
        "upgrade the org visibility rules in the admin console (Security > Member permissions)",
    ),
    41029: ("tenant does not support multiple departments", "give the user one department, or contact Feishu support"),
    41030: ("leader set to oneself", "leader_user_id must be another user"),
    41031: ("position feature not enabled", "the tenant does not support positions"),
    41032: ("multi-department feature not enabled", "give the user one department, or contact Feishu support"),
    41033: ("user in too many departments", "a user belongs to at most 50 departments"),
    41034: ("email prefix already exists", "use another e-mail prefix"),
    41035: ("email prefix is invalid", "check the spelling of the e-mail prefix"),
    41036: ("avatar key is invalid", "upload the image again and use the new key"),
    41037: ("avatar key is sensitive", "upload another image and use its key"),
    41038: ("gender is invalid", "gender is one of 0, 1, 2, 3"),
    41040: ("user name is empty", "name must not be empty"),
    41041: ("no department assigned", "department_ids must not be empty"),
    41042: ("join time is invalid", "join_time is a unix timestamp in seconds"),
    41043: ("user id is invalid", "user_id is 1 to 64 characters"),
    41044: ("custom attribute is not set", "every custom_attrs entry needs an id"),
    41045: ("custom attribute id does not exist", "list the tenant's custom attributes and use an existing id"),
    41046: ("custom attribute value is not set", "every custom_attrs entry needs a value"),
    41047: ("HREF custom attribute without text", "an HREF custom attribute needs value.text"),
    41048: ("HREF custom attribute without url", "an HREF custom attribute needs value.url"),
    41050: (
        "no user authority",
        "add the user to the app's contact scope (developer console > permissions > data scope)",
    ),
    41051: ("user id not provided", "give the user id"),
    41056: ("no field authority", "grant the app the field scopes the API docs list"),
    41057: ("invalid employee type", "employee_type is 1-5 or an active custom type"),
    41059: ("invalid employee type", "employee_type is 1-5 or an active custom type"),
    41060: ("inactive employee type", "use an employee type that is active in the tenant"),
    41063: ("job_title longer than 100 characters", "shorten job_title to 100 characters"),
    41068: ("enterprise e-mail accounts at the limit", "ask the admin about the mail quota"),
    41069: ("enterprise e-mail in the recycle bin", "release the address from the mail recycle bin first"),
    41070: ("name longer than 255 characters", "shorten name"),
    41071: ("en_name longer than 255 characters", "shorten en_name"),
    41072: ("nickname longer than 255 characters", "shorten nickname"),
    41410: (
        "primary department is not first in order",
        "the is_primary_dept order must have the largest department_order",
    ),
    42006: ("user has resigned", "resigned users cannot be updated"),
    42008: ("tenant id is invalid", "check the tenant"),
    44001: ("no enterprise e-mail domain", "enable enterprise mail in the admin console"),
    44002: ("orders sent without department_ids", "send department_ids together with orders"),
    44003: ("resigned user needs avatar key and description", "resigned users need avatar_key and description"),
    44006: ("name longer than 255 characters", "shorten name"),
    44007: ("en_name longer than 255 characters", "shorten en_name"),
    44008: ("nickname longer than 255 characters", "shorten nickname"),
    44010: ("unjoined user cannot be updated", "wait until the user joins"),
    44011: ("exited user cannot be updated", "exited users cannot be updated"),
    44013: ("enterprise e-mail password invalid", "check the password"),
    44014: ("cannot update inactive user's enterprise e-mail", "the user's e-mail equals the enterprise e-mail"),
    44015: ("password already set", "the user already has a password"),
    44016: ("cannot set enterprise e-mail password", "not allowed"),
    44017: ("content blocked by risk control", "check the content"),
    44018: ("Lark does not support +86 mobiles", "use a non-+86 mobile on Lark"),
    44019: ("uncertified Feishu tenant: only +86 mobiles", "certify the tenant or use a +86 mobile"),
    44020: ("non-+86 mobile without e-mail", "give users with a non-+86 mobile an e-mail too"),
    44024: ("enterprise e-mail already registered", "use another enterprise e-mail"),
    44025: ("user update lock conflict", "wait a few seconds and retry"),
    44035: ("department id is invalid", "check the department id"),
    44036: ("cannot freeze the tenant founder", "never freeze the tenant founder"),
    44038: ("user cannot be updated (security, or geo not supported)", "contact Feishu support"),
    44041: ("anonymised user cannot be updated", "anonymised users are read-only"),
    44044: ("invalid job level id", "list the tenant's job levels and use an existing id"),
    44045: ("invalid job family id", "list the tenant's job families and use an existing id"),
    44046: ("subscription id required in multi-license tenant", "give subscription_ids"),
    44047: ("subscription id over its limit", "use another subscription id"),
    44048: ("subscription id invalid", "use a valid subscription id"),
    44049: ("subscription update failed", "retry"),
    44050: ("no subscription assignment scope", "grant the app the 'assign user seats' scope"),
    44051: ("employee_no already exists", "use an employee_no no other user has"),
    44052: ("plan expired", "the tenant's Feishu plan expired"),
    44053: ("data from an external source", "edit this user in its source system"),
    44057: ("updated, but creating the work city failed", "use an existing, active city (at most 100 characters)"),
    44058: ("updated, but creating the job title failed", "use an existing, active job title (at most 255 characters)"),
    44059: ("updated, but creating city and job title failed", "use an existing, active city and job title"),
}


# Documented codes whose fix is to try again; every other documented code is a business error and is
# never retried, whatever its HTTP status (41031/41032 come as 504: schemas/docs/patch-user.md).
RETRYABLE: frozenset[int] = frozenset({40003, 44025, 44049})

# HTTP status of documented codes answered with another status than 400 (the pages' error tables).
HTTP_STATUS: dict[int, int] = {41031: 504, 41032: 504}


def retryable(code: int, http_status: int) -> bool:
    """A documented retryable code, or a server error carrying no documented code."""
    return code in RETRYABLE or (http_status >= 500 and code not in CODES)


def explain(code: int) -> str:
    """`meaning; fix` for a code, or a pointer to the generic table."""
    if code in CODES:
        meaning, fix = CODES[code]
        return f"{meaning}; {fix}"
    return "see the Feishu generic error code table"
