"""Planning: validated desired users × live users. `build_plan` is pure; `plan_directory` adds the
reads it needs through the narrow LiveDirectory interface (it imports no HTTP code)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from .codes import explain
from .config import protects
from .desired import DesiredState
from .diff import answered, comparable, diff_user, fingerprint, is_clearing, live_value, patch_body
from .fields import BY_NAME, FIELD_ORDER, IDENTITY_KEY, WRITE_ONLY, Lane, lane_of, normalise_mobile
from .plan import Action, FieldChange, Plan, PlanError, UserChange, person_name
from .validate import ResolvedUser, ValidationResult

LiveBatch = dict[str, dict[str, Any]]  # live users by id, as one batch read returns them

OPEN_ID_HINT = (
    "; open_ids are issued per app: ids taken from another app (a test app, an export) are not this "
    "app's. Use user_id_type: user_id or union_id, or run `reconciler import` with this app"
)

# Live states in which the PATCH page's error table says an update is refused (修改用户部分信息, 错误码)
REFUSED_STATES = (
    ("is_resigned", 42006, "has resigned; restore them in the admin console, or delete their file"),
    ("is_unjoin", 44010, "has not joined yet (the invitation is unconfirmed); wait until they join"),
    ("is_exited", 44011, "has left the organisation; delete their file"),
)


class LiveDirectory(Protocol):
    """The reads planning needs from the live directory (DirectoryClient is one; tests may pass others)."""

    base_url: str
    app_id: str
    refused: dict[str, int]  # user id: the code a read answered for that id alone

    def iter_users(self, user_ids: Iterable[str]) -> Iterator[LiveBatch]:
        """Live users by id, batch by batch as each read completes; ids not returned are absent."""
        ...

    def find_by_department(self, department_id: str) -> list[dict[str, Any]]:
        """The direct members of a department."""
        ...

    def batch_get_id(self, emails: list[str], mobiles: list[str]) -> list[dict[str, Any]]:
        """Who holds these e-mails and mobiles."""
        ...


class PlanBuilder:
    """Builds a Plan one user at a time, so diffing can run while other reads are in flight. Pure.

    Write-only fields (avatar_key, subscription_ids) cannot be compared with live state: they are
    sent with `sync_write_only`, or when `since` = (git ref, {handle: that file's data at the ref})
    shows their declared value changed since the ref (git is their state).
    """

    def __init__(
        self,
        state: DesiredState,
        result: ValidationResult,
        *,
        base_url: str,
        sync_write_only: bool = False,
        since: tuple[str, dict[str, dict[str, Any]]] | None = None,
    ):
        settings = state.settings
        self.result = result
        self.sync_write_only = sync_write_only
        self.since = since
        self.plan = Plan(
            base_url=base_url,
            user_id_type=settings.user_id_type,
            department_id_type=settings.department_id_type,
            desired_digest=state.digest,
        )
        self.plan.names.update(state.department_names())
        # people by name and handle: a reviewer reads "李四 (@lisi)", not an open_id
        people = {u.user_id: person_name(u.fields.get("name"), u.handle) for u in result.users if u.user_id}
        self.plan.names.update(people)
        self.plan.warnings = [str(i) for i in result.warnings]
        self.order = {u.handle: i for i, u in enumerate(result.users)}
        self.with_write_only = [u for u in result.users if not WRITE_ONLY.isdisjoint(u.fields)]

    def add(self, user: ResolvedUser, current: dict[str, Any] | None, refused: int | None = None) -> UserChange | None:
        """Plan one declared user against its live record (None: the API did not return it, or
        refused its id with the code `refused`); the change planned for that user, if any."""
        plan = self.plan
        if current is None and refused is not None:
            hint = OPEN_ID_HINT if refused == 99992361 else ""
            message = f"user_id {user.user_id} was refused by the API ({refused}: {explain(refused)}){hint}"
            plan.errors.append(PlanError(user.handle, user.path, message, refused))
            return None
        if current is None:
            plan.errors.append(
                PlanError(
                    user.handle,
                    user.path,
                    f"user_id {user.user_id} was not returned by the API: no such user, or outside the app's "
                    "contact scope; check the id and the app's data scope (developer console > permissions)",
                    41050,
                )
            )
            return None
        fields = user.fields
        unseen = [n for n in fields if BY_NAME[n].readable and not answered(current, n)]
        for name in unseen:  # the app may not read it: not compared, not sent (finish() says why)
            plan.unseen.setdefault(name, []).append(user.handle)
        if "orders" in fields and "department_ids" not in fields and answered(current, "department_ids"):
            live_depts = set(live_value(current, "department_ids") or [])
            stray = [o.get("department_id") for o in fields["orders"] if o.get("department_id") not in live_depts]
            if stray:
                plan.errors.append(
                    PlanError(
                        user.handle,
                        user.path,
                        f"orders name {', '.join(map(str, stray))}, which is not one of the user's live departments; "
                        "declare department_ids too (Feishu rejects this with 41025)",
                        41025,
                    )
                )
                return None
        changes = diff_user(fields, current)  # it compares only what the live record answered
        write_only = [] if WRITE_ONLY.isdisjoint(fields) else [n for n in fields if n in WRITE_ONLY]
        if not changes and not write_only:
            plan.unchanged.append(user.handle)
            return None
        undocumented = [c.field for c in changes if is_clearing(c) and BY_NAME[c.field].clear is None]
        if undocumented:
            plan.errors.append(
                PlanError(
                    user.handle,
                    user.path,
                    f"{', '.join(undocumented)}: declared empty, which asks Feishu to clear it, and the PATCH page "
                    "documents no way to do that (修改用户部分信息 documents only job_title, as a string of spaces, "
                    "and join_time: 0); an empty value may be ignored or refused. Clear it in the admin console, or "
                    "remove the key from the file to leave the field unmanaged",
                )
            )
            return None
        body = patch_body(fields, changes, current)
        for change in changes:
            if is_clearing(change):
                body[change.field] = BY_NAME[change.field].clear  # the documented way to clear it
        for name in write_only:
            if self.sync_write_only:
                body[name] = fields[name]
            elif self.since is not None:
                before = self.since[1].get(user.handle)
                if before is None or before.get(name) != user.source.data.get(name):
                    body[name] = fields[name]
                    plan.write_only_notes.append(f"@{user.handle}: {name} changed since {self.since[0]}; sent.")
        if not body:
            plan.unchanged.append(user.handle)
            return None
        status = current.get("status") or {}
        for state, code, why in REFUSED_STATES:
            if status.get(state):
                plan.errors.append(
                    PlanError(user.handle, user.path, f"the live user {why}; Feishu refuses updates", code)
                )
                return None
        compared = [n for n in fields if BY_NAME[n].readable and n not in unseen]
        change = UserChange(
            handle=user.handle,
            user_id=user.user_id,
            name=str(current.get("name") or fields.get("name") or ""),
            path=user.path,
            changes=changes,
            body=body,
            lane=lane_of(body).value,
            fingerprint=fingerprint(current, compared),
            compared=compared,
            write_only=write_only,
            placement={
                "before": placement(current),
                "after": placement({**current, **{c.field: fields[c.field] for c in changes}}),
            },
        )
        plan.changes.append(change)
        return change

    def add_hire(self, user: ResolvedUser) -> UserChange:
        """Plan the creation of a person no live user holds the mobile of (创建用户): every declared
        non-empty field is sent, with a client_token derived from the record, so that re-sending the
        same create (a lost answer, a retry, a re-run job) returns the person instead of a second one."""
        body = {
            name: value
            for name, value in sorted(user.fields.items(), key=lambda kv: FIELD_ORDER[kv[0]])
            if comparable(BY_NAME[name], value) != comparable(BY_NAME[name], None) or BY_NAME[name].empty_is_a_value
        }
        digest = hashlib.sha256(
            json.dumps([user.handle, body], sort_keys=True, ensure_ascii=False).encode()
        ).hexdigest()
        change = UserChange(
            handle=user.handle,
            user_id="",
            name=str(body.get("name", "")),
            path=user.path,
            changes=[FieldChange(name, None, value) for name, value in body.items()],
            body=body,
            lane=Lane.NORMAL.value,
            fingerprint=fingerprint(None, []),
            compared=[],
            action=Action.CREATE.value,
            placement={"after": placement(user.fields)},
            client_token=f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}",
        )
        self.plan.changes.append(change)
        return change

    def finish(self) -> Plan:
        """The plan in file order, whatever order the users were added in."""
        plan = self.plan
        order = self.order
        # joiners and leavers first (a reviewer checks who comes and goes before what changes), then file order
        rank = {Action.CREATE.value: 0, Action.OFFBOARD.value: 1, Action.UPDATE.value: 2}
        plan.changes.sort(key=lambda c: (rank[c.action], order.get(c.handle, len(order)), c.handle))
        plan.unchanged.sort(key=order.__getitem__)
        plan.errors.sort(key=lambda e: order.get(e.handle, -1))
        for handles in plan.unseen.values():
            handles.sort(key=order.__getitem__)
        sent = {(c.handle, n) for c in plan.changes for n in c.write_only if n in c.body}
        for user in self.with_write_only:
            skipped = [n for n in user.fields if not BY_NAME[n].readable and (user.handle, n) not in sent]
            if skipped:
                why = f"unchanged since {self.since[0]}" if self.since else "use --since REF or --sync-write-only"
                plan.write_only_notes.append(
                    f"@{user.handle}: {', '.join(skipped)} cannot be compared with live state (the API does not "
                    f"return it); not sent ({why})."
                )
        return plan


def build_plan(
    state: DesiredState,
    result: ValidationResult,
    live: dict[str, dict[str, Any]],
    *,
    base_url: str,
    sync_write_only: bool = False,
    since: tuple[str, dict[str, dict[str, Any]]] | None = None,
) -> Plan:
    """The Plan for validated users against live users (by id). Pure."""
    builder = PlanBuilder(state, result, base_url=base_url, sync_write_only=sync_write_only, since=since)
    for user in result.users:
        if user.user_id:
            builder.add(user, live.get(user.user_id))
        else:
            builder.add_hire(user)
    return builder.finish()


UNIQUE = (("mobile", 41001, "mobile"), ("email", 41002, "e-mail"), ("employee_no", 44051, "employee_no"))


def hold_employee_no(holders: dict[tuple[str, Any], str], user_id: str, live: dict[str, Any]) -> None:
    """Record that this live user holds its employee_no (the first holder read wins)."""
    if live.get("employee_no"):
        holders.setdefault(("employee_no", live["employee_no"]), user_id)


def check_unique_against_live(
    plan: Plan, result: ValidationResult, live: dict[str, dict[str, Any]], holders: dict[tuple[str, Any], str]
) -> None:
    """Drop changes that would give a user a mobile / e-mail / employee_no another live user holds.

    `holders` maps (field, normalised value) to the holder's user id, from batch_get_id for mobiles
    and e-mails; employee_no is checked against the live users this run has read anyway.
    """
    # a value its live holder gives up in this same plan is free (e.g. two users swap e-mails)
    leaving = {
        (name, comparable(BY_NAME[name], live_value(live.get(c.user_id, {}), name)))
        for c in plan.changes
        for name, _, _ in UNIQUE
        if name in c.body
    }
    holders = dict(holders)
    for user_id, user in live.items():
        hold_employee_no(holders, user_id, user)
    kept = []
    for change in plan.changes:
        clash = None
        for name, code, label in UNIQUE:
            value = change.body.get(name)
            if not value:
                continue
            key = (name, comparable(BY_NAME[name], value))
            holder = holders.get(key)
            if holder and holder != change.user_id and key not in leaving:
                src = next(u for u in result.users if u.handle == change.handle).source
                line, col = src.locate([name])
                where = f"{src.path}:{line}:{col}" if line else src.path
                other = plan.names.get(holder, holder)
                clash = PlanError(
                    change.handle,
                    where,
                    f"{name}: live user {other} already has this {label}; Feishu rejects this with {code}. "
                    "Change it on one of them first",
                    code,
                )
                break
        if clash is None:
            kept.append(change)
        else:
            plan.errors.append(clash)
    plan.changes = kept


def unmanaged_users(
    result: ValidationResult, members: dict[str, list[dict[str, Any]]], id_type: str
) -> list[dict[str, Any]]:
    """Live members of the managed departments that no file declares."""
    declared = {u.user_id for u in result.users}
    out: dict[str, dict[str, Any]] = {}
    for dept, users in members.items():
        for user in users:
            uid = user.get(id_type)
            if uid and uid not in declared and uid not in out:
                out[uid] = {"user_id": uid, "name": user.get("name", ""), "department_id": dept}
    return sorted(out.values(), key=lambda u: u["user_id"])


def managed_departments(state: DesiredState, result: ValidationResult, live: dict[str, dict[str, Any]]) -> list[str]:
    """departments.yaml's departments and every department a declared user is in."""
    depts = {d.id for d in state.departments.values()}
    for user in result.users:
        depts.update(
            user.fields.get("department_ids") or live_value(live.get(user.user_id, {}), "department_ids") or []
        )
    return sorted(d for d in depts if isinstance(d, str) and not d.startswith("@"))


def plan_directory(
    state: DesiredState,
    result: ValidationResult,
    live: LiveDirectory,
    *,
    sync_write_only: bool = False,
    since: tuple[str, dict[str, dict[str, Any]]] | None = None,
    scan_unmanaged: bool = False,
    under_way: tuple[Iterable[LiveBatch], set[str]] | None = None,
    leavers: dict[str, dict[str, Any]] | None = None,
) -> Plan:
    """Read the declared users (batch GET), diff each batch as it comes, then check uniqueness.

    `scan_unmanaged` also lists the managed departments' members (one find_by_department page per
    50 members) to find users no file declares: opt-in, because it costs as many calls again.
    `under_way`: reads already sent (the batches they yield, and the ids they asked for); only the
    declared users they do not cover are read here.
    """
    builder = PlanBuilder(state, result, base_url=live.base_url, sync_write_only=sync_write_only, since=since)
    by_id = {u.user_id: u for u in result.users if u.user_id}
    # only the live records later steps look at are kept: the rest are freed batch by batch
    kept: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    holders: dict[tuple[str, Any], str] = {}
    tenant_ids: dict[str, str] = {}  # id in user_id_type → user_id, for GENERIC_USER custom attributes

    def batches() -> Iterator[LiveBatch]:
        if under_way is None:
            yield from live.iter_users(by_id)
            return
        sent, asked = under_way
        unread = [i for i in by_id if i not in asked]
        yield from sent
        if unread:
            yield from live.iter_users(unread)

    for batch in batches():
        for user_id, current in batch.items():
            if user_id in by_id and user_id not in seen:
                seen.add(user_id)
                if builder.add(by_id[user_id], current) is not None or scan_unmanaged:
                    kept[user_id] = current
                hold_employee_no(holders, user_id, current)
                if current.get("user_id"):
                    tenant_ids[user_id] = current["user_id"]
    for user_id in by_id.keys() - seen:  # not returned by the API: errors, sorted by finish()
        builder.add(by_id[user_id], None, live.refused.get(user_id))
    hires = [u for u in result.users if not u.user_id]
    asked: set[str] = _plan_hires(builder, hires, live, kept, holders) if hires else set()
    if leavers:
        _plan_leavers(builder, state, leavers, live, by_id)
    plan = builder.finish()
    plan.app_id = live.app_id
    if scan_unmanaged:
        members = {d: live.find_by_department(d) for d in managed_departments(state, result, kept)}
        plan.unmanaged = unmanaged_users(result, members, state.settings.user_id_type)
    # only the values this plan changes are looked up: never a scan of the whole directory
    emails = sorted({c.body["email"] for c in plan.changes if c.body.get("email")})
    mobiles = sorted(
        {
            c.body["mobile"]
            for c in plan.changes
            if c.body.get("mobile") and normalise_mobile(c.body["mobile"]) not in asked
        }
    )
    if emails or mobiles:
        for entry in live.batch_get_id(emails, mobiles):
            for name in ("email", "mobile"):
                if entry.get(name) and entry.get("user_id"):
                    holders[(name, comparable(BY_NAME[name], entry[name]))] = entry["user_id"]
    if plan.user_id_type != "user_id":
        tenant_ids.update(_read_user_ids(live, _generic_user_ids(plan) - tenant_ids.keys()))
        _send_generic_users_as_user_ids(plan, tenant_ids)
    check_unique_against_live(plan, result, kept, holders)
    return plan


def mobile_holders(live: LiveDirectory, mobiles: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{key: the batch_get_id entry of the user holding mobiles[key]}, for the keys someone holds;
    one lookup for all (创建用户 requires a mobile, unique in the tenant)."""
    entries = live.batch_get_id([], sorted({str(m) for m in mobiles.values()}))
    found = {
        normalise_mobile(e["mobile"]): e
        for e in entries
        if isinstance(e, dict) and e.get("mobile") and e.get("user_id")
    }
    return {key: found[number] for key, m in mobiles.items() if (number := normalise_mobile(str(m))) in found}


def _read(live: LiveDirectory, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Live users by id, for the few reads planning makes besides the declared users'."""
    found: dict[str, dict[str, Any]] = {}
    for batch in live.iter_users(sorted(set(ids))):
        found.update(batch)
    return found


def _plan_hires(
    builder: PlanBuilder,
    hires: list[ResolvedUser],
    live: LiveDirectory,
    kept: dict[str, dict[str, Any]],
    holders: dict[tuple[str, Any], str],
) -> set[str]:
    """A file without user_id is a person to create, unless someone already holds its mobile (the field
    创建用户 requires, unique in the tenant): then it is that person, whom a re-run after a lost answer
    or a merge job run twice must update, not create again. Returns the mobiles it looked up, and records
    their holders in `holders`, so the uniqueness check does not ask for them again."""
    holder_of = mobile_holders(live, {u.handle: u.fields["mobile"] for u in hires})
    numbers = {u.handle: normalise_mobile(str(u.fields["mobile"])) for u in hires}
    holders.update({("mobile", numbers[handle]): entry["user_id"] for handle, entry in holder_of.items()})
    current = _read(live, {h["user_id"] for h in holder_of.values()})
    for user in hires:
        holder = holder_of.get(user.handle)
        if holder is None:
            builder.add_hire(user)
            continue
        uid = holder["user_id"]
        if (holder.get("status") or {}).get("is_resigned"):
            builder.plan.errors.append(
                PlanError(
                    user.handle,
                    user.path,
                    f"mobile: it belongs to {uid}, a person who has left (resigned); restore them (恢复已删除用户) "
                    "and add `user_id` to this file, or declare another mobile",
                    41001,
                )
            )
            continue
        builder.plan.warnings.append(
            f"{user.path}: this person already exists as {uid} (they hold this mobile), so they are updated, "
            f"not created; add `user_id: {uid}` to the file"
        )
        known = ResolvedUser(user.handle, user.path, uid, user.fields, user.source)
        if builder.add(known, current.get(uid)) is not None and uid in current:
            kept[uid] = current[uid]
    return set(numbers.values())


def _plan_leavers(
    builder: PlanBuilder,
    state: DesiredState,
    leavers: dict[str, dict[str, Any]],
    live: LiveDirectory,
    declared: dict[str, ResolvedUser],
) -> None:
    """A file removed since --since is a leaver: frozen (reversible) or deleted (删除用户), as
    reconciler.yaml's `offboarding` says. Protected users and tenant managers are refused here, in the
    plan a reviewer sees, not at apply."""
    settings = state.settings
    plan = builder.plan
    ids = {h: d.get(IDENTITY_KEY) for h, d in leavers.items()}
    current = _read(live, (i for i in ids.values() if isinstance(i, str) and i and i not in declared))
    for handle, user_id in sorted(ids.items()):
        path = f"users/{handle}.yaml (removed)"
        if not isinstance(user_id, str) or not user_id:
            plan.warnings.append(f"{path}: it had no user_id, so nobody is offboarded for it")
            continue
        if user_id in declared:
            continue  # the person moved to another file: not a leaver
        person = current.get(user_id)
        if person is None:
            plan.warnings.append(f"{path}: {user_id} is not in the tenant (or outside the app's range): nothing to do")
            continue
        plan.names[user_id] = person_name(person.get("name"), handle)
        status = person.get("status") or {}
        if status.get("is_resigned") or (settings.offboarding == "freeze" and status.get("is_frozen")):
            continue  # already where offboarding takes them
        refusal = _offboard_refusal(handle, user_id, person, settings)
        if refusal:
            plan.errors.append(PlanError(handle, path, refusal))
            continue
        plan.changes.append(_offboard(handle, user_id, path, person, settings, state))


def _offboard_refusal(handle: str, user_id: str, person: dict[str, Any], settings: Any) -> str:
    if protects(settings.protected, handle, user_id):
        return "the file was removed, but the person is protected in reconciler.yaml: never offboarded"
    if settings.founder and settings.founder in (handle, user_id):
        return (
            "the file was removed, but the person is the tenant's founder (reconciler.yaml founder): never offboarded"
        )
    if person.get("is_tenant_manager"):
        return "the file was removed, but the person is a tenant manager: offboard them in the admin console"
    return ""


def _offboard(
    handle: str, user_id: str, path: str, person: dict[str, Any], settings: Any, state: DesiredState
) -> UserChange:
    status = person.get("status") or {}
    if settings.offboarding == "freeze":
        body: dict[str, Any] = {"is_frozen": True}
        changes = [FieldChange("is_frozen", bool(status.get("is_frozen")), True)]
    else:
        body = {}
        for kind, who in settings.offboarding_acceptors.items():
            target = person.get("leader_user_id") if who == "leader" else _handle_id(state, who)
            if target:
                body[f"{kind}_acceptor_user_id"] = target
        changes = []
    return UserChange(
        handle=handle,
        user_id=user_id,
        name=str(person.get("name") or ""),
        path=path,
        changes=changes,
        body=body,
        lane=(Lane.SLOW if "is_frozen" in body else Lane.NORMAL).value,
        fingerprint=fingerprint(person, ["is_frozen"]),
        compared=["is_frozen"],
        action=Action.OFFBOARD.value,
        placement={"before": placement(person)},
    )


def placement(record: dict[str, Any]) -> dict[str, Any]:
    """Where a record puts a person: their leader, and their departments with the primary first
    (the order whose is_primary_dept is set, else the first of department_ids)."""
    departments = [d for d in record.get("department_ids") or [] if isinstance(d, str)]
    primary = next(
        (
            o.get("department_id")
            for o in record.get("orders") or []
            if isinstance(o, dict) and o.get("is_primary_dept")
        ),
        None,
    )
    if primary in departments:
        departments.remove(primary)
        departments.insert(0, primary)
    return {"leader": record.get("leader_user_id") or None, "departments": departments}


def _handle_id(state: DesiredState, ref: str) -> str | None:
    """The user_id a '@handle' names in the directory, if that file declares one."""
    user = next((u for u in state.users if u.handle == ref.lstrip("@")), None)
    value = user.data.get(IDENTITY_KEY) if user else None
    return value if isinstance(value, str) else None


def _generic_users(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The generic_user objects of a PATCH body's GENERIC_USER custom attributes."""
    out = []
    for attr in body.get("custom_attrs") or []:
        person = (attr.get("value") or {}).get("generic_user") if isinstance(attr, dict) else None
        if isinstance(person, dict) and person.get("id"):
            out.append(person)
    return out


def _generic_user_ids(plan: Plan) -> set[str]:
    return {p["id"] for c in plan.changes if c.action != Action.CREATE.value for p in _generic_users(c.body)}


def _read_user_ids(live: LiveDirectory, ids: set[str]) -> dict[str, str]:
    return {k: u["user_id"] for k, u in _read(live, ids).items() if u.get("user_id")}


def _send_generic_users_as_user_ids(plan: Plan, tenant_ids: dict[str, str]) -> None:
    """修改用户部分信息: a GENERIC_USER attribute names its person by user_id whatever user_id_type says
    (the answer follows user_id_type): rewrite the bodies, or make the user a plan error."""
    kept = []
    for change in plan.changes:
        if change.action == Action.CREATE.value:  # 创建用户 takes GENERIC_USER ids in user_id_type
            kept.append(change)
            continue
        people = _generic_users(change.body)
        unknown = sorted({p["id"] for p in people if not tenant_ids.get(p["id"])})
        if unknown:
            plan.errors.append(
                PlanError(
                    change.handle,
                    change.path,
                    "custom_attrs: a GENERIC_USER attribute must name its person by user_id, whatever "
                    f"user_id_type says, and the user_id of {', '.join(plan.names.get(u, u) for u in unknown)} "
                    "could not be read; grant contact:user.employee_id:readonly (获取用户 user ID), "
                    "or use user_id_type: user_id",
                )
            )
            continue
        for person in people:
            person["id"] = tenant_ids[person["id"]]
        kept.append(change)
    plan.changes = kept
