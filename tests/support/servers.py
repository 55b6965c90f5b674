"""A real `coachco2 serve` process for the tests that talk to the service over the network."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

COACHCO2 = str(Path(sys.executable).parent / "coachco2")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    base: str
    process: subprocess.Popen[str]
    output: str = ""


@contextmanager
def running_server(
    env: dict[str, str], *, capture: bool = False, log_level: str = "warning"
) -> Iterator[Server]:
    """Serve on a free port until the block ends; with `capture`, the server's output is kept."""
    port = free_port()
    process = subprocess.Popen(
        [COACHCO2, "serve", "--port", str(port), "--log-level", log_level],
        env=env,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.STDOUT if capture else None,
        text=True,
    )
    server = Server(f"http://127.0.0.1:{port}", process)
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{server.base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise AssertionError("the server did not answer /health within 30 s")
        yield server
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=20)
        server.output = out or ""
