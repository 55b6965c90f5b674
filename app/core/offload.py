"""Heavy parsing in other processes, so that no request holds up the others.

Reading a history file or a transit feed is Python work on every row: run in a thread of the server, it
would hold the interpreter's lock for seconds at a time, and `/health` or another person's upload would
wait behind it. Here it runs in a small pool of worker processes (started on first use, `spawn`ed so
that they share nothing with the server's threads and connections); the server's event loop only waits
for the answer. The pool also bounds the work: at most `COACHCO2_PARSE_WORKERS` files are parsed at
once, the others wait their turn.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

_pool: ProcessPoolExecutor | None = None


def _workers() -> int:
    """`COACHCO2_PARSE_WORKERS`, or one core fewer than the machine has (at least one): the server's own
    process keeps a core to answer on."""
    value = os.environ.get("COACHCO2_PARSE_WORKERS", "")
    if value.isdigit() and int(value) > 0:
        return int(value)
    return max(1, (os.cpu_count() or 2) - 1)


def _follow_parent(parent_pid: int) -> None:
    """In a worker process: end when the server that started it is gone (killed, even with SIGKILL),
    rather than linger with the server's files and database connections open."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="follow-parent", daemon=True).start()


def pool() -> ProcessPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ProcessPoolExecutor(
            max_workers=_workers(),
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_follow_parent,
            initargs=(os.getpid(),),
        )
    return _pool


async def in_process(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run `fn(*args)` (a module-level function, its arguments and result picklable) in a worker
    process. Its exceptions are raised here. A worker that died (killed, out of memory) is replaced for
    the next call, and this one raises ``BrokenProcessPool``."""
    global _pool
    if kwargs:
        raise TypeError("in_process takes positional arguments only")
    loop = asyncio.get_running_loop()
    executor = pool()
    try:
        return await loop.run_in_executor(executor, fn, *args)
    except BrokenProcessPool:
        if _pool is executor:
            _pool = None
            executor.shutdown(wait=False, cancel_futures=True)
        raise


def shutdown() -> None:
    """Stop the worker processes at once, work under way included (at the server's stop: the imports
    they were reading are settled as interrupted; a new pool starts if work comes again)."""
    global _pool
    if _pool is not None:
        processes = list((_pool._processes or {}).values())  # the executor has no public way to stop them
        _pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        _pool = None
