"""The Plan: the one value passed from plan to apply, saved to disk and rendered three ways.

Types only, and the apply report's types; building a plan is engine.py's job, rendering
render.py's, applying apply.py's, saving and verifying plan files planfile.py's.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from typing import Any

from .errors import ReconcilerError

FORMAT_VERSION = "1"


class Action(str, Enum):
    """What a planned change does to a person (JSON `changes[].action`); `mark` is its diff sign."""

    CREATE = "create"
    UPDATE = "update"
    OFFBOARD = "offboard"

    @property
    def mark(self) -> str:
        return {"create": "+", "update": "~", "offboard": "-"}[self.value]


def person_name(name: Any, handle: str) -> str:
    """A person as reviewers read them: "李四 (@lisi)", or "@lisi" where no name is known."""
    return f"{name} (@{handle})" if isinstance(name, str) else f"@{handle}"


@dataclass
class FieldChange:
    field: str
    before: Any
    after: Any
    details: list[str] = field(default_factory=list)


@dataclass
class UserChange:
    handle: str
    user_id: str
    name: str
    path: str
    changes: list[FieldChange]
    body: dict[str, Any]  # exactly what the PATCH will send
    lane: str  # "normal" or "1qps"
    fingerprint: str  # of the live values of `compared`, at plan time
    compared: list[str]  # declared readable fields
    write_only: list[str] = field(default_factory=list)  # declared but not comparable with live
    action: str = Action.UPDATE.value
    client_token: str = ""  # create: derived from the desired record, so a re-sent create creates nobody twice
    # where the person sits before and after, for the reviewer's picture and per-department table:
    # {"before"|"after": {"leader": id or None, "departments": [ids, primary first]}}; a hire has no "before",
    # a leaver no "after". Not part of the plan's identity: it is what the writes do, said for people
    placement: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Who this change is about: the user id, or for a person not yet created their handle."""
        return self.user_id or "new:" + self.handle


@dataclass
class PlanError:
    handle: str
    path: str
    message: str
    code: int | None = None


def _plain(value: Any) -> Any:
    """A copy of a change, an error or the JSON-like values in them, as dicts and lists."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (UserChange, FieldChange, PlanError)):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    return value


@dataclass
class Plan:
    base_url: str
    user_id_type: str
    department_id_type: str
    desired_digest: str
    changes: list[UserChange] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    unmanaged: list[dict[str, Any]] = field(default_factory=list)
    errors: list[PlanError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    write_only_notes: list[str] = field(default_factory=list)
    # declared fields the live records did not carry (the app may not read them): field → handles
    unseen: dict[str, list[str]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # user and department ids → display names
    # the app that read live state: not part of the hash, since README's setup plans with a read-only app
    # and applies with another; under user_id_type open_id the ids are that app's (check_same_target)
    app_id: str = ""
    options: dict[str, Any] = field(default_factory=dict)  # what shaped the writes: targets, since, sync_write_only
    # provenance for the reviewer, not part of the identity: the commit of the directory and when it was planned
    commit: str = ""
    planned_at: str = ""
    format_version: str = FORMAT_VERSION

    @property
    def field_count(self) -> int:
        return sum(len(c.changes) for c in self.changes)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    @property
    def hash(self) -> str:
        """Identity of what this plan would do: the same writes from the same desired state."""
        blob = json.dumps(
            {
                "desired": self.desired_digest,
                "base_url": self.base_url,
                "ids": [self.user_id_type, self.department_id_type],
                "options": self.options,
                "writes": [[c.key, c.body] for c in sorted(self.changes, key=lambda c: c.key)],
            },
            sort_keys=True,
            ensure_ascii=False,
        ).encode()
        return "sha256:" + hashlib.sha256(blob).hexdigest()[:32]

    def marker(self) -> str:
        """The plan's identity as the first line of its PR comment: hex and fixed words only, so no
        user value can produce or imitate it (planfile.reviewed_hash reads nothing else)."""
        return f"<!-- reconciler-plan {self.hash} -->"

    def writes(self) -> dict[str, dict[str, Any]]:
        """user_id (a new hire: "new:handle") → the exact request body: what verification compares."""
        return {c.key: c.body for c in self.changes}

    def count(self, action: Action) -> int:
        return sum(1 for c in self.changes if c.action == action.value)

    def summary_line(self) -> str:
        return (
            f"Plan: {self.count(Action.CREATE)} to create, {self.count(Action.UPDATE)} to change, "
            f"{self.count(Action.OFFBOARD)} to offboard. {len(self.unchanged)} unchanged."
        )

    def to_dict(self) -> dict[str, Any]:
        # a copy (renderers mask it), but not asdict's: it deep-copies every unchanged handle and
        # name one by one, and every string of every change
        data: dict[str, Any] = {
            **{f.name: getattr(self, f.name) for f in fields(self)},
            "changes": [_plain(c) for c in self.changes],
            "errors": [_plain(e) for e in self.errors],
            "unchanged": list(self.unchanged),
            "unmanaged": [dict(u) for u in self.unmanaged],
            "warnings": list(self.warnings),
            "write_only_notes": list(self.write_only_notes),
            "unseen": {k: list(v) for k, v in self.unseen.items()},
            "names": dict(self.names),
        }
        data["plan_hash"] = self.hash
        data["summary"] = {
            "to_create": self.count(Action.CREATE),
            "to_change": self.count(Action.UPDATE),
            "to_offboard": self.count(Action.OFFBOARD),
            "fields": self.field_count,
            "unchanged": len(self.unchanged),
            "unmanaged": len(self.unmanaged),
            "errors": len(self.errors),
        }
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        if data.get("format_version") != FORMAT_VERSION:
            raise ReconcilerError(
                f"plan format_version {data.get('format_version')!r} is not {FORMAT_VERSION!r}: "
                "make the plan again with this version of reconciler"
            )
        try:
            changes = [
                UserChange(**{**c, "changes": [FieldChange(**f) for f in c["changes"]]}) for c in data["changes"]
            ]
            errors = [PlanError(**e) for e in data.get("errors", [])]
            keep = {
                k: data[k]
                for k in (
                    "base_url",
                    "user_id_type",
                    "department_id_type",
                    "desired_digest",
                    "unchanged",
                    "unmanaged",
                    "warnings",
                    "write_only_notes",
                    "unseen",
                    "names",
                    "app_id",
                    "options",
                    "commit",
                    "planned_at",
                )
                if k in data
            }
            plan = cls(**keep, changes=changes, errors=errors)
        except (KeyError, TypeError) as exc:
            raise ReconcilerError(f"the plan file is damaged ({exc}); make the plan again") from None
        return plan


# -- what apply reports, per user ---------------------------------------------------------------

APPLIED, UNVERIFIED, FAILED, STALE, SKIPPED = "applied", "applied-unverified", "failed", "stale", "skipped"
STATUSES = (APPLIED, UNVERIFIED, FAILED, STALE, SKIPPED)


@dataclass
class UserResult:
    handle: str
    user_id: str
    status: str
    fields: list[str]
    message: str = ""
    code: int | None = None
    log_id: str | None = None


@dataclass
class ApplyReport:
    plan_hash: str
    results: list[UserResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    interrupted: bool = False

    @property
    def ok(self) -> bool:
        """Every user reached the desired state, confirmed by reading it back."""
        return self.count(FAILED) == 0 and self.count(UNVERIFIED) == 0 and not self.interrupted

    def summary_line(self) -> str:
        unverified = f"{self.count(UNVERIFIED)} applied-unverified, " if self.count(UNVERIFIED) else ""
        line = (
            f"Apply: {self.count(APPLIED)} applied, {unverified}{self.count(FAILED)} failed, "
            f"{self.count(STALE)} stale, {self.count(SKIPPED)} skipped."
        )
        return line + (" Interrupted: users not sent are skipped; re-run to finish." if self.interrupted else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "plan_hash": self.plan_hash,
            "interrupted": self.interrupted,
            "results": [asdict(r) for r in self.results],
            "summary": {s: self.count(s) for s in STATUSES},
        }
