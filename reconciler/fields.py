"""The field model: one row per PATCH request-body field of the contact v3 user API.

Schema generation, diff, rendering and apply all read this table, so a field's
behaviour is decided in exactly one place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any


class Kind(str, Enum):
    SCALAR = "scalar"
    ID_SET = "id_set"  # order-insensitive list of ids
    RECORDS = "records"  # list of dicts keyed by `key`; only declared sub-keys compared


class Lane(str, Enum):
    """Quota lane of a PATCH: the docs limit department/freeze updates to 1 QPS."""

    NORMAL = "normal"
    SLOW = "1qps"


class Ref(str, Enum):
    USER = "user"  # "@handle" -> that user's user_id
    DEPARTMENT = "department"  # "@alias" -> departments.yaml


def normalise_mobile(value: Any) -> Any:
    """Mainland numbers are accepted as `130…` or `+86130…`: compare them as `+86…`."""
    if isinstance(value, str) and value and not value.startswith("+") and value.isdigit():
        return "+86" + value
    return value


def normalise_email(value: Any) -> Any:
    """E-mail addresses compare case-insensitively."""
    return value.strip().lower() if isinstance(value, str) else value


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind = Kind.SCALAR
    key: str | None = None  # RECORDS: the sub-key that identifies a record
    readable: bool = True  # False: the read APIs do not return it (write-only)
    sensitive: bool = False  # personal data: masked in rendered output
    lane: Lane = Lane.NORMAL
    ref: Ref | None = None
    normalise: Callable[[Any], Any] | None = None
    high_impact: bool = False  # counted separately by the guards
    label: str = ""
    empty: Any = ""  # the field's unset value as the read APIs answer it (lists: []); None: no such value
    # what PATCH sends to clear the field, where 修改用户部分信息 documents a way; None: it documents none
    clear: Any = None

    @property
    def empty_value(self) -> Any:
        return [] if self.kind is not Kind.SCALAR else self.empty

    @property
    def empty_is_a_value(self) -> bool:
        """Whether the empty value is an ordinary value to send (gender 0 保密, booleans), not a clearing."""
        return self.kind is Kind.SCALAR and not isinstance(self.empty, str) and self.clear is None


FIELDS: tuple[Field, ...] = (
    Field("name", label="name"),
    Field("en_name", label="English name"),
    Field("nickname", label="nickname"),
    Field("email", sensitive=True, normalise=normalise_email, label="e-mail"),
    Field("mobile", sensitive=True, normalise=normalise_mobile, label="mobile"),
    Field("mobile_visible", label="mobile visible", empty=True),
    Field("gender", label="gender", empty=0),  # 0: unknown
    Field("avatar_key", readable=False, label="avatar key"),
    Field("department_ids", Kind.ID_SET, lane=Lane.SLOW, ref=Ref.DEPARTMENT, high_impact=True, label="departments"),
    Field("leader_user_id", ref=Ref.USER, label="leader"),
    Field("city", label="city"),
    Field("country", label="country"),
    Field("work_station", label="work station"),
    Field("join_time", label="join time", empty=0, clear=0),  # "传入 0 时，入职时间则会置空"
    Field("employee_no", label="employee number"),
    Field("employee_type", label="employee type", empty=None),
    Field("orders", Kind.RECORDS, key="department_id", ref=Ref.DEPARTMENT, label="orders"),
    Field("custom_attrs", Kind.RECORDS, key="id", label="custom attributes"),
    Field("enterprise_email", sensitive=True, normalise=normalise_email, label="enterprise e-mail"),
    Field("job_title", label="job title", clear=" "),  # "如果传入空格字符串，则意味着清空职务"
    Field("is_frozen", lane=Lane.SLOW, high_impact=True, label="frozen", empty=False),
    Field("job_level_id", label="job level"),
    Field("job_family_id", label="job family"),
    Field("subscription_ids", Kind.ID_SET, readable=False, label="subscriptions"),
    Field("dotted_line_leader_user_ids", Kind.ID_SET, ref=Ref.USER, label="dotted-line leaders"),
)

BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}
FIELD_ORDER: dict[str, int] = {f.name: i for i, f in enumerate(FIELDS)}
SENSITIVE: frozenset[str] = frozenset(f.name for f in FIELDS if f.sensitive)
WRITE_ONLY: frozenset[str] = frozenset(f.name for f in FIELDS if not f.readable)
SLOW_LANE: frozenset[str] = frozenset(f.name for f in FIELDS if f.lane is Lane.SLOW)

# Keys of a user file that are not PATCH fields.
IDENTITY_KEY = "user_id"

# The fields 创建用户 (and the deprecated PUT) require, with the code each answers when it is missing;
# `require_complete: true` enforces them on every file.
CREATE_REQUIRED: tuple[tuple[str, int], ...] = (
    ("name", 41006),
    ("mobile", 41010),
    ("department_ids", 41041),
    ("employee_type", 41059),
)
PUT_REQUIRED: tuple[str, ...] = tuple(name for name, _ in CREATE_REQUIRED)


def lane_of(body: dict[str, Any]) -> Lane:
    """The quota lane a PATCH body falls in."""
    return Lane.SLOW if SLOW_LANE.intersection(body) else Lane.NORMAL
