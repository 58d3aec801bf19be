"""Errors a user can cause. Each carries a message written for that user."""

from __future__ import annotations

from dataclasses import dataclass

from .codes import explain


class ReconcilerError(Exception):
    """An error the user can fix; the CLI prints it without a traceback and exits 1."""


class ConfigError(ReconcilerError):
    pass


@dataclass(frozen=True)
class Issue:
    """One problem in one file: `path:line:col: field: message`."""

    path: str
    line: int | None
    col: int | None
    field: str
    message: str
    severity: str = "error"  # or "warning"

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if self.col is not None:
                where += f":{self.col}"
        prefix = "warning: " if self.severity == "warning" else ""
        field = f"{self.field}: " if self.field else ""
        return f"{where}: {prefix}{field}{self.message}"


class ValidationFailed(ReconcilerError):
    def __init__(self, issues: list[Issue]):
        self.issues = issues
        errors = [i for i in issues if i.severity == "error"]
        super().__init__(f"{len(errors)} error(s) in the desired state; nothing was written")


class ApiError(ReconcilerError):
    """The Feishu API answered with a non-zero code; `permissions`: the ones the answer says are missing."""

    def __init__(
        self,
        code: int,
        msg: str,
        log_id: str | None,
        http_status: int,
        what: str,
        permissions: tuple[str, ...] = (),
    ):
        self.code = code
        self.msg = msg
        self.log_id = log_id
        self.http_status = http_status
        self.what = what
        self.permissions = permissions
        logid = f" (log id {log_id})" if log_id else ""
        need = f"; the app needs one of: {', '.join(permissions)}" if permissions else ""
        super().__init__(f"{what}: Feishu answered {code} {msg!r}: {explain(code)}{need}{logid}")


class PermissionMissing(ReconcilerError):
    """The app lacks a permission the run needs; the message names it and what it is for."""


class TransportError(ReconcilerError):
    """The API could not be reached or answered something that is not the documented envelope."""


class TargetUnknown(ReconcilerError):
    """A --target names no user file."""
