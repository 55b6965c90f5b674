"""A real `coachco2 serve` process for the tests that talk to the service over the network.

A server writes its logs (one access-log line per request, and whatever uvicorn says) to a file of its
own, not to the terminal: a passing test prints nothing, and a test that fails while a server runs, or
after one stopped during it, shows that server's output in its report (see `pytest_runtest_makereport` in
tests/conftest.py). The output is also kept in `Server.output` once the server has stopped.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

COACHCO2 = str(Path(sys.executable).parent / "coachco2")

#: the log files of the servers running now, by the title their output gets in a failure's report
RUNNING: dict[str, Path] = {}
#: the output of the servers that stopped during the current test, until its report is made
STOPPED: list[tuple[str, str]] = []
#: a failure's report shows at most the last lines of a server's output (the fuzzing server's is long)
REPORT_LINES = 2000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    base: str
    process: subprocess.Popen[bytes]
    output: str = ""


def _tail(text: str, lines: int = REPORT_LINES) -> str:
    kept = text.splitlines()
    if len(kept) <= lines:
        return text
    return f"[the first {len(kept) - lines} lines are left out]\n" + "\n".join(kept[-lines:]) + "\n"


def report_sections() -> list[tuple[str, str]]:
    """(title, output) of every server that ran during the current test, for its report."""
    running = [(title, path.read_text(errors="replace")) for title, path in RUNNING.items()]
    return [(title, _tail(text)) for title, text in [*STOPPED, *running] if text]


def forget_stopped() -> None:
    """The current test is reported: the servers that stopped during it are no longer its business."""
    STOPPED.clear()


@contextmanager
def running_server(
    env: dict[str, str], *, capture: bool = False, log_level: str = "warning"
) -> Iterator[Server]:
    """Serve on a free port until the block ends. The server's output is always kept, in `Server.output`
    after the block (`capture` is accepted for the callers that asked for it before it was the rule)."""
    del capture
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    title = f"Captured stdout and stderr of the server at {base}"
    with tempfile.NamedTemporaryFile(prefix=f"coachco2-serve-{port}-", suffix=".log", delete=False) as log:
        log_path = Path(log.name)
        process = subprocess.Popen(
            [COACHCO2, "serve", "--port", str(port), "--log-level", log_level],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    RUNNING[title] = log_path
    server = Server(base, process)
    try:
        for _ in range(300):
            if process.poll() is not None:
                raise AssertionError(f"the server stopped with status {process.returncode} before answering")
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
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        del RUNNING[title]
        server.output = log_path.read_text(errors="replace")
        log_path.unlink(missing_ok=True)
        STOPPED.append((title, server.output))
