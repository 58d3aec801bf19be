"""Behind a corporate proxy: HTTP_PROXY / HTTPS_PROXY / NO_PROXY from the environment are honoured,
proven by a loopback forward proxy that logs what passes through it."""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from reconciler.client import DirectoryClient, RetryPolicy
from reconciler.config import Credentials
from reconciler.errors import TransportError
from tests.conftest import Cli, Live


class _Forward(BaseHTTPRequestHandler):
    """A plain-HTTP forward proxy: requests arrive with absolute URLs and are sent on."""

    protocol_version = "HTTP/1.1"
    seen: list[str]

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _forward(self) -> None:
        target = urlsplit(self.path)
        self.server.seen.append(f"{self.command} {self.path}")  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-connection", "connection")}
        upstream.request(self.command, target.path + (f"?{target.query}" if target.query else ""), body, headers)
        answer = upstream.getresponse()
        data = answer.read()
        self.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        upstream.close()

    do_GET = do_POST = do_PATCH = _forward


@pytest.fixture
def proxy() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Forward)
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _proxy_env(proxy: ThreadingHTTPServer, **extra: str) -> dict[str, str]:
    url = f"http://127.0.0.1:{proxy.server_address[1]}"
    return {"HTTP_PROXY": url, "http_proxy": url, "NO_PROXY": "", "no_proxy": "", **extra}


def test_plan_and_apply_go_through_the_proxy_named_by_http_proxy(run: Cli, live: Live, proxy, tmp_path: Path):
    env = _proxy_env(proxy)
    plan = run("plan", "--dir", str(run.directory), env=env)
    assert plan.exit_code == 0 and "Plan: 0 to create, 5 to change" in plan.output
    applied = run("apply", "--dir", str(run.directory), "--auto-approve", env=env)
    assert applied.exit_code == 0 and "Apply: 5 applied" in applied.output
    seen = proxy.seen  # type: ignore[attr-defined]
    assert any(s.startswith(f"POST {live.url}/open-apis/auth/v3/tenant_access_token") for s in seen)
    assert sum(s.startswith("PATCH ") for s in seen) == 5
    assert len(seen) == len([r for r in live.requests()])  # every request went through the proxy


def test_no_proxy_sends_the_host_around_the_proxy(run: Cli, live: Live, proxy):
    result = run("plan", "--dir", str(run.directory), env=_proxy_env(proxy, NO_PROXY="127.0.0.1", no_proxy="127.0.0.1"))
    assert result.exit_code == 0
    assert proxy.seen == []  # type: ignore[attr-defined]


def test_a_proxy_that_cannot_be_reached_is_named_in_the_error_without_its_password(
    live: Live, monkeypatch: pytest.MonkeyPatch
):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    for name in ("HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, f"http://user:hunter2@127.0.0.1:{port}")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "")
    client = DirectoryClient(live.url, Credentials("a", "b"), retry=RetryPolicy(attempts=1))
    with client, pytest.raises(TransportError) as info:
        client.authenticate()
    message = str(info.value)
    assert f"cannot reach {live.url} through the proxy http://127.0.0.1:{port} (ConnectError" in message
    assert "hunter2" not in message
