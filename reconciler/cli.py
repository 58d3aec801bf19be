"""The command line: the only module that talks to the terminal.

Exit codes follow terraform: 0 success, 1 error (including bad flags), and with
--detailed-exitcode 2 when the plan has changes.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import click

from . import __version__, bundled
from .apply import apply_plan, check_guards
from .client import DirectoryClient
from .config import Credentials, Settings, base_url_from, credentials_from_env, load_settings
from .errors import ReconcilerError, ValidationFailed
from .lock import apply_lock
from .pipeline import PlanRequest, load_valid, make_plan, open_client, plan_for_apply
from .plan import ApplyReport, Plan, UserResult
from .planfile import check_reviewed, load_plan, save_plan
from .render import RENDERERS, REPORT_RENDERERS, render_invalid_markdown, visible

DEMO_APP = Credentials("cli_demo", "demo-secret")


class _Group(click.Group):
    """Bad flags exit 1, not click's 2, because 2 means 'changes present' with --detailed-exitcode."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as exc:
            exc.exit_code = 1
            raise

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            exc.exit_code = 1
            raise


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Print a ReconcilerError for the user (no traceback) and exit 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ValidationFailed as exc:
            _print_issues(exc.issues)
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)
        except ReconcilerError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)

    return wrapper


def _print_issues(issues: list[Any]) -> None:
    for issue in issues:
        click.echo(str(issue), err=True)


dir_option = click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("directory"),
    show_default=True,
    help="The directory repo folder: reconciler.yaml, departments.yaml, users/*.yaml.",
)
format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(RENDERERS)),
    default="text",
    show_default=True,
    help="text for people, markdown for PR comments, json for machines (see README: JSON format).",
)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="reconciler")
def cli() -> None:
    """Run a Feishu/Lark org directory as code.

    People are YAML files in git (directory/users/<handle>.yaml). `plan` shows what differs from
    the live directory; `apply` sends the minimal PATCH for each changed user, only for fields the
    YAML declares. Credentials come from FEISHU_APP_ID and FEISHU_APP_SECRET.

    \b
    Start here, with no tenant and no credentials:
      reconciler demo            plan the example directory/ against the built-in emulator
      reconciler demo --apply    apply it, then plan again: no changes
    """


@cli.command("validate")
@dir_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown"]),
    default="text",
    show_default=True,
    help="markdown: on errors, also print the PR comment that lists them (plan.yml uses it).",
)
@user_errors
def validate_cmd(directory: Path, fmt: str) -> None:
    """Check every file against the schema and the docs' rules; sends no request.

    Prints one line per problem: path:line:col: field: what is wrong (and the Feishu error code
    it prevents). Exit 1 if any file has an error; warnings alone exit 0.
    """
    if fmt == "markdown":
        try:
            load_valid(directory)
        except ValidationFailed as exc:
            click.echo(render_invalid_markdown(exc.issues), nl=False)
            raise
    state, result = load_valid(directory)  # on errors, user_errors prints every issue once
    _print_issues(result.warnings)
    click.echo(f"{len(state.users)} user files valid ({len(result.warnings)} warnings).")


def _plan(req: PlanRequest, client: DirectoryClient, settings: Settings) -> Plan:
    """Plan `req`, printing the validation warnings (and timings with RECONCILER_TIMINGS=1)."""
    started = time.perf_counter()
    _, result, plan = make_plan(req, client, settings)
    _print_issues(result.warnings)
    _timings(started, client)
    return plan


def _timings(started: float, client: DirectoryClient) -> None:
    if os.environ.get("RECONCILER_TIMINGS"):
        click.echo(f"timings: plan {time.perf_counter() - started:.3f}s, {client.stats.total} calls", err=True)


def _emit(text: str) -> None:
    """Print, in colour on a terminal only (CI logs and pipes get plain text)."""
    if sys.stdout.isatty() and not os.environ.get("NO_COLOR"):
        styled = []
        for line in text.splitlines(keepends=True):
            stripped = line.lstrip()
            if stripped.startswith("~ @"):
                line = click.style(line, fg="yellow", bold=True)
            elif stripped.startswith("~ "):
                line = click.style(line, fg="yellow")
            elif stripped.startswith(("error:", "✗")):
                line = click.style(line, fg="red")
            elif stripped.startswith(("warning:", "!")):
                line = click.style(line, fg="magenta")
            elif stripped.startswith(("Plan:", "Apply:", "No changes.")):
                line = click.style(line, bold=True)
            styled.append(line)
        text = "".join(styled)
    click.echo(text, nl=False)


eager_option = click.option(  # kept so that existing CI invocations still run
    "--eager-reads/--no-eager-reads", default=None, hidden=True, help="No effect: reads always overlap parsing."
)

target_option = click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="@HANDLE",
    help="Only this user (repeatable). Validation still covers every file.",
)


@cli.command("plan")
@dir_option
@format_option
@target_option
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), help="Save the plan here for `apply FILE`.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0 no changes, 1 error, 2 changes present.")
@click.option("--show-sensitive", is_flag=True, help="Show mobile and e-mail values instead of masking them.")
@click.option(
    "--show-unmanaged",
    is_flag=True,
    help="Count and list live users of the managed departments that no file declares "
    "(costs one extra read per 50 department members).",
)
@click.option(
    "--since",
    metavar="REF",
    help="Git ref of the state before this change: people whose file was removed since it are offboarded "
    "(reconciler.yaml offboarding: freeze or delete), and write-only fields changed since it are sent.",
)
@click.option(
    "--sync-write-only", is_flag=True, help="Send every declared avatar_key and subscription_ids (cannot be compared)."
)
@eager_option
@user_errors
def plan_cmd(
    directory: Path,
    fmt: str,
    targets: tuple[str, ...],
    out: Path | None,
    detailed_exitcode: bool,
    show_sensitive: bool,
    show_unmanaged: bool,
    since: str | None,
    sync_write_only: bool,
    eager_reads: bool | None,
) -> None:
    """Show what apply would change. Reads only; never writes to Feishu.

    \b
    Examples:
      reconciler plan                                  # review
      reconciler plan --out plan.json                  # save it for `reconciler apply plan.json`
      reconciler plan --format markdown --detailed-exitcode   # CI: PR comment, exit 2 on changes
      reconciler plan --target @zhangsan               # one user
    """
    if since and sync_write_only:
        raise click.UsageError("--since and --sync-write-only are alternatives; give one")
    if out is not None and not out.parent.is_dir():  # found out before any read, not after
        raise click.UsageError(f"--out {out}: the folder {out.parent} does not exist; create it or save elsewhere")
    req = PlanRequest(directory, targets, sync_write_only, since, show_unmanaged)
    settings = load_settings(directory)
    with open_client(settings) as client:
        plan = _plan(req, client, settings)
    _emit(RENDERERS[fmt](plan, show_sensitive=show_sensitive, show_unmanaged=show_unmanaged))
    if out is not None:
        save_plan(plan, out)
        click.echo(f"Saved the plan to {out}; apply it with: reconciler apply {out}", err=True)
    if plan.errors:
        sys.exit(1)
    if detailed_exitcode and plan.has_changes:
        sys.exit(2)


def _confirm(auto_approve: bool) -> None:
    if auto_approve:
        return
    if not sys.stdin.isatty():
        raise ReconcilerError("apply needs confirmation and there is no terminal: pass --auto-approve (as CI does)")
    answer = click.prompt(
        "Do you want to apply these changes? Only 'yes' will be accepted", default="", show_default=False
    )
    if answer.strip() != "yes":
        raise ReconcilerError("apply cancelled")


class _Progress:
    """Apply progress on stderr: a bar on a terminal; without one (CI), a plain line at a steady pace."""

    def __init__(self, total: int, every: float):
        self.total, self.every = total, every
        self.done = self.failed = 0
        self.started = self.last = time.monotonic()
        self.lock = threading.Lock()

    def __call__(self, result: UserResult) -> None:
        with self.lock:
            self.done += 1
            self.failed += result.status == "failed"
            now = time.monotonic()
            if now - self.last >= self.every and self.done < self.total:
                self.last = now
                click.echo(
                    f"apply: {self.done}/{self.total} users done ({self.failed} failed), {now - self.started:.0f}s",
                    err=True,
                )


def _run_apply(
    plan: Plan,
    settings: Settings,
    client: DirectoryClient,
    fmt: str,
    *,
    allow_large: bool,
    allow_freeze: bool,
    allow_offboard: bool = False,
    progress_every: float = 10.0,
) -> ApplyReport:
    """Apply with guards; Ctrl-C lets requests in flight finish, skips the rest and still reports."""
    check_guards(plan, settings, allow_large=allow_large, allow_freeze=allow_freeze, allow_offboard=allow_offboard)
    stop = threading.Event()

    def interrupted(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt  # a second Ctrl-C: stop at once
        stop.set()
        click.echo("\nInterrupted: finishing the requests in flight, sending no others…", err=True)

    previous = (
        signal.signal(signal.SIGINT, interrupted) if threading.current_thread() is threading.main_thread() else None
    )
    try:
        if sys.stderr.isatty() and len(plan.changes) > 20 and fmt == "text":
            lock = threading.Lock()
            with click.progressbar(length=len(plan.changes), label="Applying", file=sys.stderr) as bar:

                def tick(_: Any) -> None:
                    with lock:
                        bar.update(1)

                report = apply_plan(plan, client, protected=settings.protected, on_result=tick, stop=stop)
        else:
            progress = _Progress(len(plan.changes), progress_every)
            report = apply_plan(plan, client, protected=settings.protected, on_result=progress, stop=stop)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    _emit(REPORT_RENDERERS[fmt](report))
    return report


def _show(plan: Plan, fmt: str, show_sensitive: bool) -> None:
    """The plan about to be applied, where it does not mix with a Markdown or JSON report on stdout."""
    if fmt != "text":
        click.echo(RENDERERS["text"](plan, show_sensitive=show_sensitive), nl=False, err=True)
    else:
        _emit(RENDERERS["text"](plan, show_sensitive=show_sensitive))


@cli.command("apply")
@click.argument("plan_file", required=False, type=click.Path(path_type=Path, dir_okay=False))
@dir_option
@format_option
@target_option
@click.option("--auto-approve", is_flag=True, help="Apply without asking (CI). Without a terminal it is required.")
@click.option("--allow-large", is_flag=True, help="Apply even beyond max_changes / max_department_moves.")
@click.option("--allow-freeze", is_flag=True, help="Apply even beyond max_freezes.")
@click.option("--allow-offboard", is_flag=True, help="Apply even beyond max_offboards (people whose file was removed).")
@click.option("--show-sensitive", is_flag=True, help="Show mobile and e-mail values instead of masking them.")
@click.option(
    "--since",
    metavar="REF",
    help="Git ref of the state before this change: people whose file was removed since it are offboarded "
    "(reconciler.yaml offboarding: freeze or delete), and write-only fields changed since it are sent.",
)
@click.option(
    "--reviewed",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="The reviewed PR comment (the merge job's input): apply only if planning now gives exactly the plan "
    "it identifies on its first line.",
)
@click.option(
    "--progress-every",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="Without a terminal, print a progress line this often.",
)
@eager_option
@user_errors
def apply_cmd(
    plan_file: Path | None,
    directory: Path,
    fmt: str,
    targets: tuple[str, ...],
    auto_approve: bool,
    allow_large: bool,
    allow_freeze: bool,
    allow_offboard: bool,
    show_sensitive: bool,
    since: str | None,
    reviewed: Path | None,
    progress_every: float,
    eager_reads: bool | None,
) -> None:
    """Apply a saved plan (PLAN_FILE), or plan now and apply after confirmation.

    A saved plan is verified, not trusted: apply plans again from the current files and a fresh read
    and refuses unless that sends exactly what the saved plan shows (same tenant, app, id types and
    requests). Each changed user gets one PATCH with only the changed fields, then is read back. One
    user's failure never stops the others; Ctrl-C finishes the requests in flight, reports every user
    and exits 130. One apply per tenant runs at a time. Exit 1 if any user failed; re-running converges.

    \b
    Examples:
      reconciler apply                           # plan, show, ask, apply
      reconciler plan --out plan.json && reconciler apply plan.json
      reconciler apply --reviewed comment.md --auto-approve   # the merge job
    """
    if plan_file is not None and (targets or since or reviewed):
        raise click.UsageError("a saved plan already fixes its targets and --since; give PLAN_FILE or those flags")
    settings = load_settings(directory)
    base_url, credentials = base_url_from(settings), credentials_from_env()
    with (
        apply_lock(base_url, credentials.app_id),  # held from the fresh read to the last write
        open_client(settings, base_url, credentials) as client,  # one token for the reads and the writes
    ):
        started = time.perf_counter()
        result, plan = plan_for_apply(
            directory, client, settings, saved=plan_file, targets=targets, since=since, reviewed=reviewed
        )
        _print_issues(result.warnings)
        _timings(started, client)
        _show(plan, fmt, show_sensitive)
        if plan.errors:
            raise ReconcilerError("the plan has errors; fix them before applying")
        if not plan.has_changes:
            click.echo("Nothing to apply.", err=fmt == "json")
            return
        _confirm(auto_approve)
        report = _run_apply(
            plan,
            settings,
            client,
            fmt,
            allow_large=allow_large,
            allow_freeze=allow_freeze,
            allow_offboard=allow_offboard,
            progress_every=progress_every,
        )
    if report.interrupted:
        sys.exit(130)
    if not report.ok:
        sys.exit(1)


@cli.command("verify-plan")
@click.argument("plan_file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--reviewed",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    required=True,
    help="The reviewed plan: the PR's plan comment (Markdown), whose first line identifies it.",
)
@user_errors
def verify_plan_cmd(plan_file: Path, reviewed: Path) -> None:
    """Check that a saved plan is the plan reviewed in the pull request.

    \b
    Exit 0: the same plan (same writes, files, tenant, app and options).
    Exit 1: no reviewed plan, or any difference: plan again and have it reviewed.
    """
    plan = load_plan(plan_file)
    check_reviewed(plan, reviewed.read_text("utf-8", errors="replace"), str(reviewed))
    click.echo(f"The plan matches the reviewed plan ({plan.hash}).")


@cli.command("show")
@click.argument("plan_file", type=click.Path(path_type=Path, dir_okay=False))
@format_option
@click.option("--show-sensitive", is_flag=True, help="Show mobile and e-mail values instead of masking them.")
@user_errors
def show_cmd(plan_file: Path, fmt: str, show_sensitive: bool) -> None:
    """Render a saved plan (text, Markdown or JSON) without reading or writing anything."""
    _emit(RENDERERS[fmt](load_plan(plan_file), show_sensitive=show_sensitive))


@cli.command("import")
@dir_option
@click.option(
    "--force",
    is_flag=True,
    help="Replace the directory's users: overwrite their files and delete user files of people not imported "
    "(e.g. the example org). Review the result with git diff.",
)
@user_errors
def import_cmd(directory: Path, force: bool) -> None:
    """Write one YAML file per live user (bootstrap a directory repo from Feishu).

    Reads every department in the app's contact range and its members: with the all-members range the
    whole tenant; with a range of departments, those departments, their sub-departments and the users
    the range names (GET contact/v3/scopes). Writes departments.yaml and users/<handle>.yaml with the
    non-empty writable fields, department aliases and @handle leaders, and records in reconciler.yaml
    the base_url it imported from, so that `plan` right after `import` shows no changes.
    """
    from .importer import check_import_target, import_tenant  # the import code loads only when used

    existing = check_import_target(directory, force)
    settings = load_settings(directory) if directory.is_dir() else Settings()
    base_url = base_url_from(settings)
    with open_client(settings, base_url) as client:
        done = import_tenant(directory, settings, base_url, client, existing)
    click.echo(f"Imported {done.users} users and {done.departments} departments from {base_url} into {directory}/.")
    if done.stale:
        click.echo(
            f"Deleted {len(done.stale)} user files of people not in the import: {', '.join(done.stale[:10])}"
            + (" …" if len(done.stale) > 10 else "")
        )
    if done.dropped:
        click.echo(f"Removed from protected (no such imported user): {', '.join('@' + d for d in done.dropped)}")
    click.echo("Review them, commit, then run `reconciler plan`: it should show no changes.")


@cli.command("doctor")
@dir_option
@user_errors
def doctor_cmd(directory: Path) -> None:
    """Check that this app can plan and apply this directory; sends no write.

    \b
    Checks, for the tenant in reconciler.yaml (or FEISHU_BASE_URL):
      credentials   FEISHU_APP_ID / FEISHU_APP_SECRET get a tenant token
      permissions   each permission the declared fields, the uniqueness checks and apply need,
                    by its documented name (GET application/v6/scopes lists what is granted)
      contact range the managed departments and every declared user are in the app's range
    Exit 1 when something plan or apply needs is missing; what only import or --show-unmanaged
    need is reported as optional.
    """
    from .doctor import diagnose  # the doctor code loads only when used

    state, result = load_valid(directory)
    with open_client(state.settings) as client:
        checks = diagnose(state, result, client)
    for check in checks:
        mark = "ok" if check.ok else ("MISSING" if check.required else "optional, missing")
        click.echo(visible(f"[{mark}] {check.topic}: {check.detail}"))
    failed = [c for c in checks if not c.ok and c.required]
    if failed:
        click.echo(f"{len(failed)} problem(s): plan or apply would fail or leave fields unmanaged.")
        raise SystemExit(1)
    click.echo("Everything plan and apply need is in place.")


@cli.command("emulator")
@click.option(
    "--seed",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Seed file (YAML or JSON): apps, departments, users, founder. Default: the demo org.",
)
@click.option("--generate", type=click.IntRange(1, 1_000_000), help="Serve a generated org of N users instead.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="Port on 127.0.0.1; 0 picks a free one."
)
@click.option(
    "--quotas/--no-quotas",
    default=False,
    show_default=True,
    help="Enforce the documented rate limits (50/s, 1000/min per API; 1 QPS for department/freeze PATCHes).",
)
@click.option(
    "--time-scale",
    type=click.FloatRange(min=0.001),
    default=1.0,
    show_default=True,
    help="Run quota time this many times faster (benchmarks).",
)
@click.option("--faults", "faults_json", help='Fault injection as JSON, e.g. \'{"rate": 0.1, "seed": 1}\'.')
@click.option(
    "--rtt-ms",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Add a network round trip to every API request: half on the way in, half on the way out.",
)
@click.option(
    "--jitter",
    type=click.FloatRange(min=0, max=0.99),
    default=0.0,
    show_default=True,
    help="Vary each half of the round trip by up to this share (0.2: ±20%).",
)
@user_errors
def emulator_cmd(
    seed: Path | None,
    generate: int | None,
    port: int,
    quotas: bool,
    time_scale: float,
    faults_json: str | None,
    rtt_ms: float,
    jitter: float,
) -> None:
    """Serve the built-in Feishu contact API emulator on 127.0.0.1 until interrupted.

    The first line printed is `listening on http://127.0.0.1:PORT`. Point the reconciler at it with
    FEISHU_BASE_URL; the demo seed's app is FEISHU_APP_ID=cli_demo FEISHU_APP_SECRET=demo-secret.
    GET /_emulator/requests and /_emulator/state show what was sent and what is stored.
    """
    if seed and generate:
        raise click.UsageError("--seed and --generate are alternatives; give one")
    from .emulator import Faults, Quotas, demo_seed, generate_org, load_seed, serve

    data = load_seed(seed) if seed else generate_org(generate) if generate else demo_seed()
    faults = Faults()
    try:
        server = serve(data, port=port, quotas=Quotas(enabled=quotas, time_scale=time_scale), faults=faults)
    except OSError as exc:
        raise ReconcilerError(
            f"--port {port}: cannot listen on 127.0.0.1:{port} ({exc.strerror}); pick another port, or 0 for a free one"
        ) from None
    try:
        faults.configure({"rtt_ms": rtt_ms, "jitter": jitter, **json.loads(faults_json or "{}")}, server.app.store)
    except (ValueError, TypeError) as exc:
        raise click.UsageError(f"--faults: {exc}") from None
    click.echo(f"listening on {server.url}")
    sys.stdout.flush()
    stop = threading.Event()
    server.start()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


@cli.command("demo")
@click.option("--apply", "do_apply", is_flag=True, help="Apply the plan, then plan again to show convergence.")
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Directory to use. Default: the bundled example org (what a fresh clone's directory/ holds).",
)
@click.option("--show-sensitive", is_flag=True, help="Show mobile and e-mail values instead of masking them.")
@user_errors
def demo_cmd(do_apply: bool, directory: Path | None, show_sensitive: bool) -> None:
    """Plan the example directory/ against the built-in emulator: no tenant, no credentials.

    The emulator is seeded with a live org that differs from directory/ in a handful of fields.
    """
    from .emulator import demo_seed, serve

    with ExitStack() as stack:
        folder = directory if directory is not None else _example_copy(stack)
        _demo(folder, do_apply, show_sensitive, stack.enter_context(serve(demo_seed())))


def _example_copy(stack: ExitStack) -> Path:
    """The packaged example org copied to a temporary `directory/`, entered, so that messages show
    `directory/users/bob.yaml` as in a fresh clone and --apply never touches the installed package."""
    import shutil
    import tempfile

    work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="reconciler-demo-")))
    shutil.copytree(bundled("example"), work / "directory")
    previous = Path.cwd()
    os.chdir(work)
    stack.callback(os.chdir, previous)
    return Path("directory")


def _demo(folder: Path, do_apply: bool, show_sensitive: bool, server: Any) -> None:
    click.echo(f"Demo: built-in Feishu emulator at {server.url}, desired state in {folder}/", err=True)
    click.echo("", err=True)
    settings = load_settings(folder)
    with open_client(settings, server.url, DEMO_APP) as client:
        plan = _plan(PlanRequest(folder), client, settings)
        _emit(RENDERERS["text"](plan, show_sensitive=show_sensitive))
        if not do_apply:
            click.echo("\nRun `reconciler demo --apply` to apply this plan to the emulator.", err=True)
            return
        click.echo("")
        click.echo("Applying…")
        report = _run_apply(plan, settings, client, "text", allow_large=False, allow_freeze=False)
        click.echo("")
        click.echo("Planning again:")
        again = _plan(PlanRequest(folder), client, settings)
        _emit(RENDERERS["text"](again, show_sensitive=show_sensitive))
    if not report.ok:
        sys.exit(1)


def main() -> None:
    """The console entry point."""
    cli(prog_name="reconciler")
