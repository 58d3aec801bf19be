"""What DirectoryClient puts on the wire and how it reads answers, against servers on loopback."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from reconciler.client import DirectoryClient, RetryPolicy
from reconciler.config import Credentials, Quotas
from reconciler.errors import TransportError
from tests.conftest import APP, Live

Reply = tuple[int, dict[str, str], bytes]
TOKEN = json.dumps({"code": 0, "msg": "ok", "tenant_access_token": "t-1", "expire": 7200}).encode()
USER = {"open_id": "ou_1", "name": "Ada"}
BATCH = json.dumps({"code": 0, "msg": "success", "data": {"items": [USER]}}).encode()


@pytest.fixture
def server() -> Iterator[Callable[[Callable[[str, str], Reply]], tuple[str, list[dict[str, Any]]]]]:
    """A loopback server answering with `answer(method, path)`; yields (its URL, the requests seen)."""
    servers: list[ThreadingHTTPServer] = []

    def serve(answer: Callable[[str, str], Reply]) -> tuple[str, list[dict[str, Any]]]:
        seen: list[dict[str, Any]] = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(size) if size else b""
                seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body})
                status, headers, content = answer(self.command, self.path)
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(content))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PATCH = _answer

            def log_message(self, *args: Any) -> None:
                pass

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}", seen

    yield serve
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def _client(url: str, **kw: Any) -> DirectoryClient:
    return DirectoryClient(url, Credentials("cli_a", "s3cret"), quotas=Quotas(time_scale=1000), **kw)


def _gzipped(method: str, path: str) -> Reply:
    return (
        200,
        {"Content-Type": "application/json", "Content-Encoding": "gzip"},
        gzip.compress(TOKEN if "tenant_access_token" in path else BATCH),
    )


def test_gzip_answers_are_asked_for_and_read_like_plain_ones(server):
    url, seen = server(_gzipped)
    with _client(url) as client:
        assert client.fetch_users(["ou_1"]) == {"ou_1": USER}
    assert all("gzip" in r["headers"]["Accept-Encoding"] for r in seen)


def test_a_corrupt_gzip_body_is_a_clear_error(server):
    url, _ = server(lambda method, path: (200, {"Content-Encoding": "gzip"}, b"not gzip at all"))
    with _client(url) as client, pytest.raises(TransportError, match="not Feishu's JSON envelope"):
        client.authenticate()


def test_requests_name_the_host_the_tool_and_the_token_and_writes_carry_json(server):
    url, seen = server(lambda method, path: (200, {}, TOKEN if "tenant_access_token" in path else BATCH))
    with _client(url) as client:
        client.patch_user("ou_1", {"name": "Ada Lovelace"})
    token_call, patch = seen
    assert json.loads(token_call["body"]) == {"app_id": "cli_a", "app_secret": "s3cret"}
    assert "Authorization" not in token_call["headers"]
    assert patch["method"] == "PATCH"
    assert patch["path"].startswith("/open-apis/contact/v3/users/ou_1?")
    assert patch["headers"]["Host"] == url.removeprefix("http://")
    assert patch["headers"]["User-Agent"] == "feishu-directory-reconciler"
    assert patch["headers"]["Accept"] == "*/*"  # as httpx and the official SDK send it
    assert patch["headers"]["Authorization"] == "Bearer t-1"
    assert patch["headers"]["Content-Type"] == "application/json"
    assert json.loads(patch["body"].decode("utf-8")) == {"name": "Ada Lovelace"}


def test_a_user_id_is_one_path_segment_whatever_it_holds(server):
    url, seen = server(lambda method, path: (200, {}, TOKEN if "tenant_access_token" in path else BATCH))
    with _client(url) as client:
        client.patch_user("ou_1/../x?y", {"name": "x"})
    assert seen[-1]["path"].startswith("/open-apis/contact/v3/users/ou_1%2F..%2Fx%3Fy?")


def test_an_answer_is_dated_by_its_headers_not_by_when_its_body_was_read():
    """The quota window of a call frees one window after its answer: a body that trickles in after
    the headers (or a busy process reading it late) must not push the next window back."""
    body_delay = 1.0

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # the token, at once (it takes no quota slot)
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", str(len(TOKEN)))
            self.end_headers()
            self.wfile.write(TOKEN)

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(BATCH)))
            self.end_headers()  # the headers go out now; the body a second later
            threading.Event().wait(body_delay)
            self.wfile.write(BATCH)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        with _client(f"http://127.0.0.1:{httpd.server_address[1]}") as client:
            assert client.read_batch(["ou_1"]) == {"ou_1": USER}
            (round_trip,) = client.scheduler.recent["users.batch"]
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert round_trip < body_delay


def test_an_answer_slower_than_the_timeout_is_retried_then_a_clear_error(live: Live):
    client = DirectoryClient(
        live.url,
        Credentials(APP["FEISHU_APP_ID"], APP["FEISHU_APP_SECRET"]),
        quotas=Quotas(time_scale=1000),
        retry=RetryPolicy(attempts=2, base_delay=0.001, max_delay=0.002),
        timeout=0.1,
    )
    with client:
        client.authenticate()
        live.faults(rate=0.0, kinds=["delay"], delay_ms=400)
        with pytest.raises(TransportError, match=re.escape("cannot reach") + ".*ReadTimeout"):
            client.fetch_users(["ou_1"])
    assert client.stats.calls["users.batch"] == 2  # the emulator logs them only once their delay is over
    assert client.stats.retries == 1


def test_loading_the_cli_loads_no_http_stack():
    # httpx is imported by the first request: validate and --help never pay for it
    code = "import sys, reconciler.cli; print(sorted({'httpx', 'httpcore', 'h11'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
