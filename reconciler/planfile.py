"""Saved plans and reviewed plans: a promise to verify, never an instruction to trust.

A saved plan is written owner-read-only; loading checks its integrity fields; `verify` compares it
with a plan made afresh from the current files and live state, and only that fresh plan is applied.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

from .errors import ReconcilerError
from .plan import Plan

HASH = re.compile(r"sha256:[0-9a-f]{32}")
MARKER = re.compile(r"<!-- reconciler-plan (sha256:[0-9a-f]{32}) -->")


class PlanMismatch(ReconcilerError):
    """The plan to apply is not the plan that was saved or reviewed."""


def save_plan(plan: Plan, path: Path) -> None:
    """Write the plan owner-read-only (it holds raw personal data), atomically."""
    data = plan.to_dict()
    data["note"] = "Saved plan: holds raw personal data (mobile, e-mail) as needed to apply it; keep it private."
    text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=".plan-", dir=path.parent)  # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o400)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_plan(path: Path) -> Plan:
    """A saved plan whose integrity fields are present and match its content."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise ReconcilerError(f"{path}: cannot read the plan: {exc.strerror}") from None
    except ValueError:
        raise ReconcilerError(f"{path}: not a saved plan (not JSON); make one with `reconciler plan --out`") from None
    if not isinstance(data, dict):
        raise ReconcilerError(f"{path}: not a saved plan; make one with `reconciler plan --out`")
    plan = Plan.from_dict(data)
    saved = data.get("plan_hash")
    if not isinstance(saved, str) or not HASH.fullmatch(saved):
        raise PlanMismatch(f"{path}: plan_hash is missing or malformed; the file was edited. Make the plan again")
    if saved != plan.hash:
        raise PlanMismatch(
            f"{path}: the plan file was edited after it was made (its plan_hash does not match its content); "
            "make the plan again"
        )
    return plan


def check_same_target(saved: Plan, *, base_url: str, user_id_type: str, department_id_type: str, app_id: str) -> None:
    """Refuse a plan made for another tenant or id type than the current settings, or under open_id
    (issued per app) by another app."""
    targets = [
        ("base_url", saved.base_url, base_url),
        ("user_id_type", saved.user_id_type, user_id_type),
        ("department_id_type", saved.department_id_type, department_id_type),
    ]
    if user_id_type == "open_id":
        targets.append(("app (FEISHU_APP_ID)", saved.app_id, app_id))
    for what, then, now in targets:
        if then != now:
            raise PlanMismatch(
                f"the saved plan was made with {what} {then!r}, the current settings say {now!r}: a plan applies "
                "only where it was made. Plan again with the current settings"
            )


def differences(saved: Plan, fresh: Plan) -> list[str]:
    """Who would be written differently, by handle and field name (no values: this is printed)."""
    handles = {c.key: c.handle for c in [*saved.changes, *fresh.changes]}
    then, now = saved.writes(), fresh.writes()
    out: list[str] = []
    for uid in sorted(then.keys() | now.keys(), key=lambda u: handles[u]):
        if uid not in now:
            out.append(f"@{handles[uid]}: no longer changed")
        elif uid not in then:
            out.append(f"@{handles[uid]}: now changed ({', '.join(sorted(now[uid]))})")
        elif then[uid] != now[uid]:
            fields = sorted(k for k in then[uid].keys() | now[uid].keys() if then[uid].get(k) != now[uid].get(k))
            out.append(f"@{handles[uid]}: {', '.join(fields)} would be sent differently")
    if not out and saved.desired_digest != fresh.desired_digest:
        out.append("the files in the directory changed")
    return out


def verify(saved: Plan, fresh: Plan, what: str) -> None:
    """Refuse unless `fresh` (made now) sends exactly what `saved` promised."""
    if fresh.hash == saved.hash:
        return
    lines = differences(saved, fresh)
    shown = "; ".join(lines[:10]) + (f"; and {len(lines) - 10} more" if len(lines) > 10 else "")
    cause = (
        "the directory files changed since" if saved.desired_digest != fresh.desired_digest else "live changed since"
    )
    raise PlanMismatch(
        f"{what} is not what would be sent now ({cause} it was made: {shown}). Nothing was sent. "
        "Plan again and review the new plan"
    )


def reviewed_hash(text: str) -> str | None:
    """The plan identity of a reviewed PR comment: its first line, exactly as Plan.marker writes it."""
    first = text.lstrip("\ufeff").split("\n", 1)[0].strip()
    match = MARKER.fullmatch(first)
    return match.group(1) if match else None


def check_reviewed(plan: Plan, comment: str, shown: str) -> None:
    """Refuse (PlanMismatch) unless `plan` is the plan the reviewed PR comment (text `comment`, file
    `shown`) identifies on its first line."""
    expected = reviewed_hash(comment)
    if expected is None:
        raise PlanMismatch(
            f"{shown} identifies no reviewed plan (its first line is not the plan marker the plan workflow "
            "writes): changes to directory/ must be reviewed in a pull request. Nothing was sent"
        )
    if plan.hash != expected:
        raise PlanMismatch(
            f"the plan now is not the reviewed plan (reviewed {expected}, now {plan.hash}): the directory or live "
            "state changed since the review. Nothing was sent. Review the plan as it now stands: open a pull "
            "request (an empty commit will do) and merge it once its plan comment is approved"
        )
