"""Settings: directory/reconciler.yaml for behaviour, the environment for credentials."""

from __future__ import annotations

import difflib
import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigError
from .policies import Policies, parse_policies
from .yamlio import load_yaml_text, locate

FEISHU_BASE_URL = "https://open.feishu.cn"
LARK_BASE_URL = "https://open.larksuite.com"
USER_ID_TYPES = ("open_id", "union_id", "user_id")
DEPARTMENT_ID_TYPES = ("open_department_id", "department_id")


@dataclass(frozen=True)
class Quotas:
    """Documented per-endpoint limits (频控策略: 1000/min & 50/s; PATCH departments/freeze: 1 QPS)."""

    per_second: float = 50
    per_minute: float = 1000
    slow_lane_per_second: float = 1
    time_scale: float = 1  # >1 only against an emulator run with the same --time-scale (benchmarks)


# sane ranges: below them a plan would wait for hours, above them the API refuses anyway
QUOTA_BOUNDS = {
    "per_second": (1, 10_000),
    "per_minute": (1, 600_000),
    "slow_lane_per_second": (0.1, 1_000),
    "time_scale": (0.001, 1_000),
}


# 删除用户's request body: <name>_acceptor_user_id receives that kind of the leaver's resources
ACCEPTORS = (
    "department_chat",
    "external_chat",
    "docs",
    "calendar",
    "application",
    "minutes",
    "survey",
    "anycross",
)


@dataclass(frozen=True)
class Settings:
    base_url: str = FEISHU_BASE_URL
    user_id_type: str = "open_id"
    department_id_type: str = "open_department_id"
    require_complete: bool = False
    max_changes: int = 50
    max_freezes: int = 5
    max_department_moves: int = 10
    protected: tuple[str, ...] = ()
    # a person whose file is removed (relative to --since): freeze (reversible) or delete (删除用户)
    # the tenant's creator ('@handle' or user_id): Feishu refuses to freeze them (44036), and no API says who it is
    founder: str = ""
    offboarding: str = "freeze"
    max_offboards: int = 3
    # delete only: who receives the leaver's resources, by 删除用户's acceptor names: "@handle" or "leader"
    offboarding_acceptors: Mapping[str, str] = field(default_factory=dict)
    quotas: Quotas = field(default_factory=Quotas)
    policies: Policies = field(default_factory=Policies)  # organisation rules checked by validate (policies.py)
    eager_reads: bool = False  # no effect any more (reads always overlap parsing); accepted so old files stay valid


@dataclass(frozen=True)
class Credentials:
    app_id: str
    app_secret: str = field(repr=False)


def protects(protected: Collection[str], handle: str, user_id: str) -> bool:
    """Whether `protected` (reconciler.yaml: handles or user_ids, '@' stripped) names this person."""
    return handle in protected or user_id in protected


def parse_settings(data: Any, path: str, text: str = "") -> Settings:
    """Settings from the parsed reconciler.yaml; unknown keys and wrong types are errors."""
    if data is None:
        return Settings()
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: expected a mapping of settings, got {type(data).__name__}")
    try:
        return _parse_settings(data, path)
    except ConfigError as exc:
        # name the line: "<path>: <key>: ..." becomes "<path>:<line>:<col>: <key>: ..."
        message = str(exc)
        keys = message.removeprefix(f"{path}: ").split(":", 1)[0].split(".")  # e.g. policies.max_direct_members
        line, col = locate(text, keys) if text and keys[0] in data else (None, None)
        if line is not None:
            message = message.replace(f"{path}: ", f"{path}:{line}:{col}: ", 1)
        raise ConfigError(message) from None


def _parse_settings(data: Mapping[str, Any], path: str) -> Settings:
    known = {f.name: f for f in fields(Settings)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            near = difflib.get_close_matches(str(key), list(known), n=1)
            hint = f"did you mean {near[0]!r}?" if near else f"known settings: {', '.join(known)}"
            raise ConfigError(f"{path}: {key}: unknown setting; {hint}")
        values[key] = value
    defaults = Settings()
    if "founder" in values:
        if not isinstance(values["founder"], str):
            raise ConfigError(f"{path}: founder: expected the founder's '@handle' or user_id")
        values["founder"] = values["founder"].lstrip("@")
    for key in ("base_url", "user_id_type", "department_id_type"):
        if key in values and not isinstance(values[key], str):
            raise ConfigError(f"{path}: {key}: expected a string")
    if "offboarding" in values and values["offboarding"] not in ("freeze", "delete"):
        raise ConfigError(f"{path}: offboarding: expected freeze (reversible) or delete, got {values['offboarding']!r}")
    if "offboarding_acceptors" in values:
        acc = values["offboarding_acceptors"]
        if not isinstance(acc, Mapping) or not all(isinstance(v, str) for v in acc.values()):
            raise ConfigError(
                f"{path}: offboarding_acceptors: expected a mapping like {{docs: leader, calendar: '@lisi'}}"
            )
        unknown = sorted(set(acc) - set(ACCEPTORS))
        if unknown:
            raise ConfigError(
                f"{path}: offboarding_acceptors: {', '.join(unknown)} is not an acceptor of 删除用户; known: "
                f"{', '.join(ACCEPTORS)}"
            )
        values["offboarding_acceptors"] = dict(acc)
    for key in ("max_changes", "max_freezes", "max_department_moves", "max_offboards"):
        if key in values and (not isinstance(values[key], int) or isinstance(values[key], bool) or values[key] < 0):
            raise ConfigError(f"{path}: {key}: expected a whole number ≥ 0, got {values[key]!r}")
    for key in ("require_complete", "eager_reads"):
        if key in values and not isinstance(values[key], bool):
            raise ConfigError(f"{path}: {key}: expected true or false")
    if "protected" in values:
        prot = values["protected"]
        if not isinstance(prot, list) or not all(isinstance(p, str) for p in prot):
            raise ConfigError(f"{path}: protected: expected a list of handles like ['@ceo']")
        values["protected"] = tuple(p.lstrip("@") for p in prot)
    if "policies" in values:
        values["policies"] = parse_policies(values["policies"], path)
    if "quotas" in values:
        q = values["quotas"]
        qknown = {f.name for f in fields(Quotas)}
        if not isinstance(q, Mapping) or set(q) - qknown:
            raise ConfigError(f"{path}: quotas: expected a mapping with keys {', '.join(sorted(qknown))}")
        for k, v in q.items():
            low, high = QUOTA_BOUNDS[k]
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not low <= v <= high:
                raise ConfigError(f"{path}: quotas.{k}: expected a number from {low:g} to {high:g}, got {v!r}")
        values["quotas"] = Quotas(**q)
    settings = Settings(**{**{f.name: getattr(defaults, f.name) for f in fields(Settings)}, **values})
    if settings.user_id_type not in USER_ID_TYPES:
        raise ConfigError(f"{path}: user_id_type: {settings.user_id_type!r} is not one of {', '.join(USER_ID_TYPES)}")
    if settings.department_id_type not in DEPARTMENT_ID_TYPES:
        raise ConfigError(
            f"{path}: department_id_type: {settings.department_id_type!r} is not one of "
            f"{', '.join(DEPARTMENT_ID_TYPES)}"
        )
    check_base_url(settings.base_url, f"{path}: base_url")
    return settings


def check_base_url(url: str, where: str) -> str:
    """An origin: https, or http on a loopback address (the emulator)."""
    parts = urlsplit(url)
    loopback = (parts.hostname or "") in ("127.0.0.1", "localhost", "::1")
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ConfigError(f"{where}: {url!r} is not a URL; use {FEISHU_BASE_URL} or {LARK_BASE_URL}")
    if parts.scheme == "http" and not loopback:
        raise ConfigError(f"{where}: {url!r} must use https (plain http is allowed only for 127.0.0.1)")
    if parts.path.strip("/") or parts.query or parts.fragment or "@" in parts.netloc:
        raise ConfigError(f"{where}: {url!r} must be an origin like {FEISHU_BASE_URL}, without a path")
    return url.rstrip("/")


def outside(root: Path, path: Path) -> bool:
    """Whether `path` (a file, folder or link in the directory) resolves outside `root`: such a path
    is never read or written, so a link in a pull request cannot show another file's contents."""
    real_root = os.path.realpath(root)
    return os.path.commonpath([real_root, os.path.realpath(path)]) != real_root


def refuse_outside(root: Path, path: Path) -> None:
    if outside(root, path):
        raise ConfigError(
            f"{path}: refused: it is a link that resolves outside {root}; directory files must be plain files "
            "inside the directory"
        )


def load_settings(directory: Path) -> Settings:
    path = directory / "reconciler.yaml"
    if not path.exists():
        return Settings()
    refuse_outside(directory, path)
    raw = path.read_bytes()
    data, issue = load_yaml_text(raw, str(path))
    if issue is not None:
        raise ConfigError(str(issue))
    return parse_settings(data, str(path), raw.decode("utf-8", "replace"))


def credentials_from_env(env: Mapping[str, str] | None = None) -> Credentials:
    env = os.environ if env is None else env
    app_id = env.get("FEISHU_APP_ID", "")
    secret = env.get("FEISHU_APP_SECRET", "")
    missing = [n for n, v in (("FEISHU_APP_ID", app_id), ("FEISHU_APP_SECRET", secret)) if not v]
    if missing:
        raise ConfigError(
            f"{' and '.join(missing)} not set: export the app's credentials "
            "(developer console > Credentials & Basic Info), or try `reconciler demo`, which needs none"
        )
    return Credentials(app_id, secret)


def base_url_from(settings: Settings, env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    if env.get("FEISHU_BASE_URL"):
        return check_base_url(env["FEISHU_BASE_URL"], "FEISHU_BASE_URL")
    return check_base_url(settings.base_url, "base_url")
