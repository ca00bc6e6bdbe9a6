"""`make local`: serves until Ctrl-C or SIGTERM, with the given key and secrets, then frees
its port and leaves no process behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_serve_prints_what_to_configure_and_stops_cleanly(stop_signal: int) -> None:
    port = free_port()
    env = {
        **os.environ,
        "ORDERHUB_PORT": str(port),
        "ORDERHUB_API_KEY": "ohk_cli_test_key",
        "STRIPE_WEBHOOK_SECRET": "whsec_cli_test",
        "SHOPIFY_WEBHOOK_SECRET": "shopify-cli",
        "PYTHONPATH": str(ROOT),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "infra.local", "serve", "--log-level", "ERROR"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    try:
        assert server.stdout is not None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = server.stdout.readline()
            if not line:
                break
            output.append(line)
            if "Ctrl-C stops." in line:
                break
        banner = "".join(output)
        assert f"POST http://127.0.0.1:{port}/webhooks/orders/shopify" in banner, banner
        assert "whsec_cli_test" in banner and "shopify-cli" in banner
        assert "Bearer ohk_cli_test_key" in banner

        response = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/stock/MUG-KRAKOW-350",
            headers={"Authorization": "Bearer ohk_cli_test_key"},
        )
        assert response.status_code == 200

        server.send_signal(stop_signal)
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    rest = server.stdout.read() if server.stdout else ""
    assert "stopped; port freed" in rest
    assert port_is_free(port)
