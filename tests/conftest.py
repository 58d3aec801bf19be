"""Shared fixtures: a live emulator over real HTTP on 127.0.0.1, a copy of the example directory,
and a CLI runner wired to them."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from reconciler import bundled
from reconciler.cli import cli
from reconciler.emulator import EmulatorServer, demo_seed, serve

ROOT = Path(__file__).resolve().parent.parent
APP = {"FEISHU_APP_ID": "cli_demo", "FEISHU_APP_SECRET": "demo-secret"}
READ_APP = {"FEISHU_APP_ID": "cli_demo_read", "FEISHU_APP_SECRET": "demo-read-secret"}  # no write permission
SECRETS = ("demo-secret", "demo-read-secret")
TOKEN_SHAPE = re.compile(r"t-[0-9a-f]{40}")  # what the emulator issues


def leaked(text: str) -> bool:
    """Whether `text` holds an app secret or an issued token."""
    return any(s in text for s in SECRETS) or TOKEN_SHAPE.search(text) is not None


@dataclass
class Live:
    """A running emulator and helpers to read what it received and what it stores."""

    server: EmulatorServer

    @property
    def url(self) -> str:
        return self.server.url

    def requests(self) -> list[dict[str, Any]]:
        return httpx.get(self.url + "/_emulator/requests", trust_env=False).json()

    def clear(self) -> None:
        httpx.delete(self.url + "/_emulator/requests", trust_env=False)

    def state(self) -> dict[str, Any]:
        return httpx.get(self.url + "/_emulator/state", trust_env=False).json()

    def user(self, open_id: str) -> dict[str, Any]:
        return next(u for u in self.state()["users"] if u["open_id"] == open_id)

    def faults(self, **cfg: Any) -> dict[str, Any]:
        return httpx.post(self.url + "/_emulator/faults", json=cfg, trust_env=False).json()

    def quotas(self, **cfg: Any) -> dict[str, Any]:
        return httpx.post(self.url + "/_emulator/quotas", json=cfg, trust_env=False).json()

    def patch(self, open_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Change a live user behind the reconciler's back, as an admin in the Feishu console would."""
        token = httpx.post(
            self.url + "/open-apis/auth/v3/tenant_access_token/internal",
            json={"app_id": APP["FEISHU_APP_ID"], "app_secret": APP["FEISHU_APP_SECRET"]},
            trust_env=False,
        ).json()["tenant_access_token"]
        answer = httpx.patch(
            self.url + f"/open-apis/contact/v3/users/{open_id}",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            trust_env=False,
        ).json()
        assert answer["code"] == 0, answer
        return answer

    def writes(self) -> list[dict[str, Any]]:
        return [
            r
            for r in self.requests()
            if r["method"] in ("PATCH", "PUT", "POST", "DELETE")
            and r["path"] != "/open-apis/auth/v3/tenant_access_token/internal"
        ]


def start(seed: dict[str, Any]) -> Iterator[Live]:
    server = serve(seed).start()
    try:
        yield Live(server)
    finally:
        server.stop()


@pytest.fixture
def live() -> Iterator[Live]:
    """The demo org, live on a fresh emulator."""
    yield from start(demo_seed())


@pytest.fixture
def org(tmp_path: Path) -> Path:
    """A private copy of the example directory/."""
    target = tmp_path / "directory"
    shutil.copytree(bundled("example"), target)
    return target


def invoke(live: Live, *args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
    """The real CLI against `live`; fails the test if the app secret or any issued token is printed."""
    full_env = {**APP, "FEISHU_BASE_URL": live.url, **(env or {})}
    result = CliRunner().invoke(cli, list(args), env=full_env, input=input, catch_exceptions=False)
    assert not leaked(result.output), "a secret or token leaked into the output"
    return result


@dataclass
class Cli:
    live: Live
    directory: Path

    def __call__(self, *args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
        return invoke(self.live, *args, env=env, input=input)


@pytest.fixture
def run(live: Live, org: Path) -> Cli:
    """Run the real CLI against the live emulator with the example directory (pass --dir)."""
    return Cli(live, org)


def write_user(directory: Path, handle: str, text: str) -> Path:
    path = directory / "users" / f"{handle}.yaml"
    path.write_text(text, "utf-8")
    return path


@pytest.fixture
def seed_user_ids() -> dict[str, str]:
    """handle → open_id of the example org."""
    from reconciler.yamlio import load_yaml_text

    out = {}
    for path in sorted((bundled("example") / "users").glob("*.yaml")):
        data, _ = load_yaml_text(path.read_bytes(), str(path))
        out[path.stem] = data["user_id"]
    return out


FAST_QUOTAS = "quotas: {time_scale: 1000}\n"  # the documented limits on a clock 1000x faster


def drifted_org(n: int, tmp_path: Path) -> Iterator[tuple[Live, Path]]:
    """A generated live org of `n` users and a directory that changes every one of them."""
    from reconciler.emulator import generate_directory, generate_org

    directory = generate_directory(n, tmp_path, drift=1.0, settings=FAST_QUOTAS)
    for live in start(generate_org(n)):
        yield live, directory


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst
