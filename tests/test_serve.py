"""`mnist-dash --serve`: the real textual-serve server in a subprocess, spoken to over HTTP and its WebSocket."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from core.cli import build_parser
from tui.serve import app_argv, app_command, serve

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--train-subset", "64", "--val-subset", "16", "--test-subset", "16", "--epochs", "1", "--input-size", "7",
        "--hidden", "8", "--batch-size", "8"]
ANSI = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]")
WIRED = "--serve" in build_parser().format_help()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(command: list[str], port: int) -> tuple[subprocess.Popen[str], str]:
    """Start a server; return it with its first line once its port accepts connections."""
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert server.stdout is not None
    line = server.stdout.readline()  # printed while starting, just before the port is bound
    deadline = time.monotonic() + 30
    while "serving the dashboard on" in line and time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, line
        except OSError:
            time.sleep(0.1)
    server.kill()
    pytest.fail(f"the server did not start: {line}{server.communicate()[0]}")


def stop(server: subprocess.Popen[str], how: signal.Signals = signal.SIGTERM) -> tuple[int, str]:
    """Signal the server, wait for it (kill it after 30 s), return its status and the rest of its output."""
    if server.poll() is None:
        server.send_signal(how)
    try:
        out, _ = server.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        out, _ = server.communicate()
        pytest.fail(f"the server ignored {how.name}: {out}")
    return server.returncode, out


def test_app_argv_drops_only_the_serving_flags():
    argv = ["--serve", "--runs-dir", "r", "--port", "9001", "--backend", "scalar", "--port=9002", "--host",
            "::1", "--token", "secret", "--token=other", "--data-dir", "--port-like-value"]
    assert app_argv(argv) == ["--runs-dir", "r", "--backend", "scalar", "--data-dir", "--port-like-value"]


def test_app_command_runs_this_python_on_the_cli_with_the_users_settings():
    command = app_command(["--serve", "--port", "8001", "--runs-dir", "my runs", "--lr", "0.1"])
    assert command == f"exec {sys.executable} -m tui --runs-dir 'my runs' --lr 0.1"


def test_a_port_in_use_is_refused_with_one_line(capsys: pytest.CaptureFixture[str]):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert serve([], port=port) == 2
    err = capsys.readouterr().err
    assert err == f"mnist-dash: --port: port {port} on 127.0.0.1 is already in use; choose another with --port N\n"
    assert serve([], port=70000) == 2
    assert capsys.readouterr().err == "mnist-dash: --port: 70000 is not a port number (1 to 65535)\n"


def test_the_page_needs_the_token_answers_only_localhost_and_sigterm_stops_cleanly(tmp_path: Path):
    port = free_port()
    code = (f"import sys; from tui.serve import serve; "
            f"sys.exit(serve(['--runs-dir', {str(tmp_path)!r}], port={port}, token='open sesame'))")
    server, line = start([sys.executable, "-c", code], port)
    try:
        assert line.strip().endswith(f"on http://127.0.0.1:{port}/?token=open%20sesame (each browser tab runs its "
                                     "own dashboard; Ctrl+C stops the server)")

        async def fetch() -> list[tuple[int, str]]:
            async with aiohttp.ClientSession() as session:
                out = []
                for host, token in ((f"127.0.0.1:{port}", "open sesame"), (f"localhost:{port + 1}", "open sesame"),
                                    (f"rebound.example:{port}", "open sesame"), (f"127.0.0.1:{port}", ""),
                                    (f"127.0.0.1:{port}", "open sesam")):
                    async with session.get(f"http://127.0.0.1:{port}/", params={"token": token},
                                           headers={"Host": host}) as response:
                        out.append((response.status, await response.text()))
                async with session.get(f"http://127.0.0.1:{port}/static/fonts/RobotoMono-VariableFont_wght.ttf",
                                       headers={"Host": f"127.0.0.1:{port}"}) as response:
                    out.append((response.status, ""))
                return out

        (ok, page), (tunnel, tunnel_page), (foreign, _), (no_token, why), (wrong, _), (font, _) = asyncio.run(fetch())
        assert ok == 200 and f'data-session-websocket-url="ws://127.0.0.1:{port}/ws?token=open%20sesame"' in page
        # a tunnel to another local port (ssh -L 9000:localhost:8000) gets links to that port
        assert tunnel == 200 and f'data-session-websocket-url="ws://localhost:{port + 1}/ws?token=' in tunnel_page
        assert foreign == 403 and no_token == 403 and wrong == 403 and "needs its token" in why
        # nothing from the internet: the font comes from this server, the icon is inline
        assert "https://" not in page and "googleapis" not in page and font == 200
        assert f"http://127.0.0.1:{port}/static/fonts/RobotoMono-VariableFont_wght.ttf" in page
        assert 'rel="icon" href="data:image/svg+xml,' in page and "xterm-helper-textarea" in page

        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:  # issue 20, break 12
            raw.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n\r\n")
            assert raw.recv(4096).split(b" ")[1] == b"400"
    finally:
        status, out = stop(server)
    assert status == 0 and "Traceback" not in out and out.endswith("mnist-dash: server stopped\n"), out
    assert "refused a malformed request (400)" in out and "evil.example" not in out
    assert not any(tmp_path.iterdir())  # nobody opened the dashboard: no process, no run


async def _drive(port: int, runs: Path, token: str) -> tuple[bytes, list[Path]]:
    """Open the page's WebSocket, wait for the dashboard, press `s`, wait for a run folder with events."""
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(f"http://127.0.0.1:{port}/ws?token={token}",
                                     headers={"Origin": "http://other.example"})
        assert refused.value.status == 403  # another site's page may not drive the dashboard
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(f"http://127.0.0.1:{port}/ws?width=120&height=40")
        assert refused.value.status == 403  # nor a local user without the token
        async with session.ws_connect(f"http://127.0.0.1:{port}/ws?width=120&height=40&token={token}") as ws:
            screen, pressed, deadline = b"", False, time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    message = await ws.receive(timeout=1)
                except asyncio.TimeoutError:
                    message = None
                if message is not None:
                    assert message.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT), message
                    if message.type == aiohttp.WSMsgType.BINARY:
                        screen += message.data
                if not pressed and b"hidden layers" in ANSI.sub(b"", screen):  # the form exists: s starts a run
                    assert not any(runs.iterdir())  # the dashboard waits for the user: not a headless run
                    await ws.send_str(json.dumps(["stdin", "s"]))
                    pressed = True
                folders = [p for p in runs.iterdir() if (p / "events.jsonl").is_file()]
                if pressed and folders:
                    return ANSI.sub(b"", screen), folders
            pytest.fail(f"no run within 60 s (key sent: {pressed}); screen: {ANSI.sub(b'', screen)[-2000:]!r}")


@pytest.mark.skipif(not WIRED, reason="core/cli.py has no --serve yet (the integrator wires tui.serve.serve)")
def test_a_run_is_started_from_the_browser(tmp_path: Path, mnist_dir: Path):
    port = free_port()
    runs = tmp_path / "runs"
    runs.mkdir()
    server, line = start([sys.executable, "-m", "tui", "--serve", "--port", str(port), "--runs-dir", str(runs),
                          "--data-dir", str(mnist_dir), *TINY], port)
    try:
        token = re.search(r"\?token=([A-Za-z0-9_-]+) ", line)
        assert token and len(token.group(1)) == 32, line  # a new random token for this server
        screen, folders = asyncio.run(_drive(port, runs, token.group(1)))
    finally:
        status, out = stop(server, signal.SIGINT)
    assert b"mnist-dash" in screen and b"Start (s)" in screen
    assert len(folders) == 1 and "-scalar-" in folders[0].name
    config = json.loads((folders[0] / "config.json").read_text())
    assert (config["train_subset"], config["input_size"], config["hidden"]) == (64, 7, [8])  # the user's settings
    assert status == 0 and "Traceback" not in out, out
