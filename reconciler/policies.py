"""Organisation rules a company sets in reconciler.yaml `policies:`: what they are and how they are
read. `validate` (and so `plan`, before any read) checks them (policy_check.py) and reports each
violation like a validation error: file, line, and the rule's name.

    policies:
      every_person_has_a_leader: {except: ["@ceo"]}   # or true; the founder is always excepted
      leader_shares_a_department: true                  # a declared leader is in one of the person's departments
      max_direct_members: 40                            # people who list a department in department_ids
      required_fields:                                  # by employee_type; "*" for everyone
        1: [email, employee_no]
        "*": [job_title]

Only what the files declare is checked (a rule about a field the file leaves unmanaged asks for it
to be declared); a leader or department no file declares is not looked up in the tenant.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError
from .fields import BY_NAME

# 创建用户 / 修改用户部分信息: employee_type 1 正式员工, 2 实习生, 3 外包, 4 劳务, 5 顾问 (tenants may add more)
EMPLOYEE_TYPES = {1: "regular", 2: "intern", 3: "outsourced", 4: "contractor", 5: "consultant"}
EVERYONE = "*"
RULES = ("every_person_has_a_leader", "leader_shares_a_department", "max_direct_members", "required_fields")


@dataclass(frozen=True)
class Policies:
    every_person_has_a_leader: bool = False
    leader_exceptions: tuple[str, ...] = ()  # handles or user_ids, without '@'
    leader_shares_a_department: bool = False
    max_direct_members: int | None = None
    required_fields: Mapping[int | str, tuple[str, ...]] = field(default_factory=dict)  # employee_type or EVERYONE

    @property
    def any(self) -> bool:
        return bool(
            self.every_person_has_a_leader
            or self.leader_shares_a_department
            or self.max_direct_members is not None
            or self.required_fields
        )


def parse_policies(value: Any, path: str) -> Policies:
    """The `policies:` mapping of reconciler.yaml; a wrong name or shape is a ConfigError naming it."""
    where = f"{path}: policies"
    if value is None:
        return Policies()
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a mapping of rules; known rules: {', '.join(RULES)}")
    out: dict[str, Any] = {}
    for name, rule in value.items():
        if name not in RULES:
            near = difflib.get_close_matches(str(name), RULES, n=1)
            hint = f"did you mean {near[0]!r}?" if near else f"known rules: {', '.join(RULES)}"
            raise ConfigError(f"{where}.{name}: unknown rule; {hint}")
        if name == "every_person_has_a_leader":
            if isinstance(rule, Mapping) and set(rule) <= {"except"}:
                people = rule.get("except") or []
                if not isinstance(people, list) or not all(isinstance(p, str) for p in people):
                    raise ConfigError(f"{where}.{name}.except: expected a list of handles like ['@ceo']")
                out[name], out["leader_exceptions"] = True, tuple(p.lstrip("@") for p in people)
            elif isinstance(rule, bool):
                out[name] = rule
            else:
                raise ConfigError(f"{where}.{name}: expected true, false or {{except: ['@ceo']}}")
        elif name == "leader_shares_a_department":
            if not isinstance(rule, bool):
                raise ConfigError(f"{where}.{name}: expected true or false")
            out[name] = rule
        elif name == "max_direct_members":
            if not isinstance(rule, int) or isinstance(rule, bool) or rule < 1:
                raise ConfigError(f"{where}.{name}: expected a whole number ≥ 1, got {rule!r}")
            out[name] = rule
        else:
            out[name] = _required_fields(rule, f"{where}.{name}")
    return Policies(**out)


def _required_fields(rule: Any, where: str) -> dict[int | str, tuple[str, ...]]:
    if not isinstance(rule, Mapping):
        raise ConfigError(f"{where}: expected a mapping of employee_type to fields, like {{1: [email], '*': [name]}}")
    out: dict[int | str, tuple[str, ...]] = {}
    for key, names in rule.items():
        kind: int | str
        if key == EVERYONE:
            kind = EVERYONE
        elif isinstance(key, int) and not isinstance(key, bool) and key >= 1:
            kind = key
        elif isinstance(key, str) and key.isdigit() and int(key) >= 1:
            kind = int(key)
        else:
            types = ", ".join(f"{n} ({w})" for n, w in EMPLOYEE_TYPES.items())
            raise ConfigError(f"{where}: {key!r} is not an employee_type; use {types}, or '*' for everyone")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ConfigError(f"{where}.{key}: expected a list of field names like [email, job_title]")
        unknown = [n for n in names if n not in BY_NAME]
        if unknown:
            near = difflib.get_close_matches(unknown[0], list(BY_NAME), n=1)
            hint = f"did you mean {near[0]!r}?" if near else "see schemas/user.schema.json for the fields"
            raise ConfigError(f"{where}.{key}: {unknown[0]!r} is not a user field; {hint}")
        out[kind] = tuple(names)
    return out
