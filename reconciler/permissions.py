"""The documented permissions of the contact v3 APIs this tool calls: one table for the emulator,
the planner (which field it could not read, and why), `doctor` and README.

Sources (wxkingstar/doc-hub-mcp, feishu/003-服务端API/通讯录/): 用户/批量获取用户信息 (权限要求 and the
字段权限要求 of each response field), 用户/修改用户部分信息, 用户/获取部门直属用户列表,
用户/通过手机号或邮箱获取用户-ID, 权限范围/获取通讯录授权范围; 应用信息/应用权限/查询租户授权状态.
"""

from __future__ import annotations

from collections.abc import Iterable

# Any one of these grants every "general" field (批量获取用户信息: 字段权限要求（满足任一）)
GENERAL = ("contact:contact:access_as_app", "contact:contact:readonly", "contact:contact:readonly_as_app")
BASE = ("contact:user.base:readonly", *GENERAL)
EMPLOYMENT = ("contact:user.employee:readonly", *GENERAL)
ORGANISATION = ("contact:user.department:readonly", *GENERAL)

# response field -> the permissions of which any one makes the read APIs return it; absent: always returned
FIELD_READ: dict[str, tuple[str, ...]] = {
    "user_id": ("contact:user.employee_id:readonly",),
    "name": BASE,
    "en_name": BASE,
    "nickname": BASE,
    "avatar": BASE,
    "email": ("contact:user.email:readonly",),
    "mobile": ("contact:user.phone:readonly",),
    "gender": ("contact:user.gender:readonly", *GENERAL),
    "status": EMPLOYMENT,
    "department_ids": ORGANISATION,
    "leader_user_id": ORGANISATION,
    "orders": ORGANISATION,
    "city": EMPLOYMENT,
    "country": EMPLOYMENT,
    "work_station": EMPLOYMENT,
    "join_time": EMPLOYMENT,
    "is_tenant_manager": EMPLOYMENT,
    "employee_no": ("contact:user.employee_number:read", *EMPLOYMENT),
    "employee_type": EMPLOYMENT,
    "custom_attrs": EMPLOYMENT,
    "enterprise_email": EMPLOYMENT,
    "job_title": EMPLOYMENT,
    "geo": ("contact:user.user_geo",),
    "job_level_id": ("contact:user.job_level:readonly",),
    "job_family_id": ("contact:user.job_family:readonly",),
    "dotted_line_leader_user_ids": ("contact:user.dotted_line_leader_info.read",),
}

# endpoint (the emulator's and the client's names) -> API permissions, any one of which allows the call
ENDPOINT: dict[str, tuple[str, ...]] = {
    "users.batch": ("contact:contact.base:readonly",),
    # 获取部门直属用户列表; GET user and the department reads are taken to need the same (pages not modelled further)
    "users.find_by_department": (
        "contact:contact.base:readonly",
        "contact:department.organize:readonly",
        *GENERAL,
    ),
    "users.get": ("contact:contact.base:readonly", *GENERAL),
    "departments.children": ("contact:contact.base:readonly", "contact:department.organize:readonly", *GENERAL),
    "departments.get": ("contact:contact.base:readonly", "contact:department.organize:readonly", *GENERAL),
    "users.batch_get_id": ("contact:user.id:readonly",),
    "users.patch": ("contact:contact", "contact:user.base"),
    "users.put": ("contact:contact",),
    "users.create": ("contact:contact",),  # 创建用户
    "users.delete": ("contact:contact",),  # 删除用户
    "scopes": ("contact:contact.base:readonly", "contact:contact:access_as_app", "contact:contact:readonly_as_app"),
    "application.scopes": (),  # 查询租户授权状态: 权限要求 无
}

# user_id_type=user_id needs this on every read (批量获取用户信息: 当值为 user_id，字段权限要求)
USER_ID_TYPE_USER_ID = "contact:user.employee_id:readonly"

# Every documented permission name above: the emulator's default grant
ALL: tuple[str, ...] = tuple(
    sorted({p for ps in FIELD_READ.values() for p in ps} | {p for ps in ENDPOINT.values() for p in ps})
)


# the console's names of the permissions above (the doc pages' 权限要求), shown beside the scope names
TITLES: dict[str, str] = {
    "contact:contact.base:readonly": "获取通讯录基本信息",
    "contact:contact:access_as_app": "以应用身份访问通讯录",
    "contact:contact:readonly": "读取通讯录",
    "contact:contact:readonly_as_app": "以应用身份读取通讯录",
    "contact:department.organize:readonly": "获取通讯录部门组织架构信息",
    "contact:user.base:readonly": "获取用户基本信息",
    "contact:user.email:readonly": "获取用户邮箱信息",
    "contact:user.phone:readonly": "获取用户手机号",
    "contact:user.gender:readonly": "获取用户性别",
    "contact:user.employee:readonly": "获取用户受雇信息",
    "contact:user.department:readonly": "获取用户组织架构信息",
    "contact:user.employee_number:read": "查看成员工号",
    "contact:user.employee_id:readonly": "获取用户 user ID",
    "contact:user.user_geo": "查看成员数据驻留地",
    "contact:user.job_level:readonly": "查询用户职级",
    "contact:user.job_family:readonly": "查询用户所属的工作序列",
    "contact:user.dotted_line_leader_info.read": "查看成员的虚线上级 ID",
    "contact:user.id:readonly": "通过手机号或邮箱获取用户 ID",
    "contact:contact": "更新通讯录",
    "contact:user.base": "更新用户基本信息",
}


def titled(name: str) -> str:
    """`contact:user.phone:readonly (获取用户手机号)`."""
    return f"{name} ({TITLES[name]})" if name in TITLES else name


def granted(needed: Iterable[str], held: Iterable[str]) -> bool:
    """True when any one of `needed` is held (an empty `needed` needs nothing)."""
    needed = tuple(needed)
    return not needed or not set(needed).isdisjoint(held)


def field_permission(field: str) -> str:
    """The narrowest permission that lets the app read `field` ('' when none is needed)."""
    options = FIELD_READ.get(field, ())
    return options[0] if options else ""


def same_scope(documented: str, reported: str) -> bool:
    """查询租户授权状态 names scopes without their namespace in its example (`user.phone:readonly`)."""
    return reported == documented or reported == documented.split(":", 1)[-1]
